/** Variables that carry Nightshift's own credentials: never handed to the programs it runs. */
const BOT_SECRET_VARIABLES = ['DISCORD_TOKEN', 'TELEGRAM_TOKEN', 'NTFY_TOKEN'] as const;

/**
 * The environment for a command or supervised process Nightshift starts: the
 * bot's own environment without its chat tokens (a supervised agent has no
 * business holding them), with the check's variables over it. The config
 * module is the one place that reads process.env.
 */
export function childEnvironment(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  for (const name of BOT_SECRET_VARIABLES) delete inherited[name];
  return { ...inherited, ...extra };
}
