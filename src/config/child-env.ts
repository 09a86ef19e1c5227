/**
 * Variables that configure Nightshift's own channels and HTTP token: never
 * handed to the programs it runs. On a token-less ntfy server the topic name
 * is the only credential, so the whole NTFY_* family goes, and DISCORD_* and
 * TELEGRAM_* with it (ids help nobody but an impersonator).
 */
const BOT_VARIABLE = /^(?:DISCORD_|TELEGRAM_|NTFY_)|^NIGHTSHIFT_HTTP_TOKEN$/;

/**
 * The environment for a command or supervised process Nightshift starts: the
 * bot's own environment without its channel settings and tokens (a supervised
 * agent has no business holding them), with the check's variables over it.
 * The config module is the one place that reads process.env.
 */
export function childEnvironment(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !BOT_VARIABLE.test(name)));
  return { ...inherited, ...extra };
}
