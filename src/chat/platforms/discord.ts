import { z } from 'zod';
import type { Identity } from '../channel.js';
import type { ChatPlatform } from './types.js';
import { idList, tieredRole } from './lists.js';

/** The Discord channel's settings, from DISCORD_* in the environment. */
export interface DiscordSettings {
  token: string;
  applicationId: string;
  guildId: string;
  channelId: string;
  apiUrl?: string;
}

/** Discord: user ids and role ids. */
const allowList = z.strictObject({ users: idList, roles: idList }).default({ users: [], roles: [] });

const lists = z
  .strictObject({
    admins: allowList,
    operators: allowList,
    viewers: allowList,
    /** Anyone in DISCORD_GUILD_ID may run viewer commands (/status, /help). */
    openViewers: z.boolean().default(true),
  })
  .default({ admins: { users: [], roles: [] }, operators: { users: [], roles: [] }, viewers: { users: [], roles: [] }, openViewers: true });

export type DiscordLists = z.output<typeof lists>;

/** A person is on a list by user id or by one of their roles (Identity.groups). */
function listed(list: DiscordLists['admins'], from: Identity): boolean {
  return list.users.includes(from.userId) || (from.groups ?? []).some((r) => list.roles.includes(r));
}

export const discordPlatform: ChatPlatform<DiscordSettings, DiscordLists> = {
  name: 'discord',
  variablePrefix: 'DISCORD_',
  secretVariables: ['DISCORD_TOKEN'],
  readSettings({ env, need, url }) {
    if (!env.DISCORD_TOKEN || !need(['DISCORD_APPLICATION_ID', 'DISCORD_GUILD_ID', 'DISCORD_CHANNEL_ID'], 'DISCORD_TOKEN is set')) return undefined;
    const apiUrl = url('DISCORD_API_URL');
    return {
      token: env.DISCORD_TOKEN,
      applicationId: env.DISCORD_APPLICATION_ID!,
      guildId: env.DISCORD_GUILD_ID!,
      channelId: env.DISCORD_CHANNEL_ID!,
      ...(apiUrl ? { apiUrl } : {}),
    };
  },
  lists,
  roleOf: (from, lists, settings) => tieredRole(lists, (list) => listed(list, from), settings !== undefined && from.chatId === settings.guildId),
  // A bot token: base64(user id).timestamp.hmac
  secretPatterns: [{ kind: 'discord-token', regex: /\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}\b/g }],
};
