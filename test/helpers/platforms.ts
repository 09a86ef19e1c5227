import { CANARY_MARKER } from './canary.js';

/**
 * Credentials and ids the platform fakes accept, shaped like the real ones
 * (made up, never valid), and the environment that points a bot at them.
 * The tokens carry the canary marker the secret sweep looks for.
 */
export const TELEGRAM_TOKEN = `7123456789:AAH4k2${CANARY_MARKER}Yx9aBcDeFgHiJkLmNoP`;

export const DISCORD = {
  // discord.js reads the bot's id from the first part (base64 of 1015000000000000001): only the last part carries the marker.
  token: `MTAxNTAwMDAwMDAwMDAwMDAwMQ.GhXx1a.ZmFrZS10b2tlbi1${CANARY_MARKER}mb3ItdGVzdHM`,
  applicationId: '1015000000000000001',
  guildId: '1015000000000000002',
  channelId: '1015000000000000003',
} as const;

/** NIGHTSHIFT_*, TELEGRAM_*, NTFY_* and DISCORD_* variables for the fakes given. */
export function platformEnv(options: {
  dataDir: string;
  telegram?: { apiRoot: string; chatId: number };
  ntfy?: { url: string; topic: string; replyTopic?: string };
  discord?: { apiUrl: string };
}): Record<string, string> {
  const env: Record<string, string> = { NIGHTSHIFT_DATA_DIR: options.dataDir, NIGHTSHIFT_HTTP: '127.0.0.1:0', TZ: 'UTC' };
  if (options.telegram) Object.assign(env, { TELEGRAM_TOKEN, TELEGRAM_CHAT_ID: String(options.telegram.chatId), TELEGRAM_API_ROOT: options.telegram.apiRoot });
  if (options.ntfy)
    Object.assign(env, {
      NTFY_URL: options.ntfy.url,
      NTFY_TOPIC: options.ntfy.topic,
      ...(options.ntfy.replyTopic ? { NTFY_REPLY_TOPIC: options.ntfy.replyTopic } : {}),
    });
  if (options.discord) {
    Object.assign(env, {
      DISCORD_TOKEN: DISCORD.token,
      DISCORD_APPLICATION_ID: DISCORD.applicationId,
      DISCORD_GUILD_ID: DISCORD.guildId,
      DISCORD_CHANNEL_ID: DISCORD.channelId,
      DISCORD_API_URL: options.discord.apiUrl,
    });
  }
  return env;
}
