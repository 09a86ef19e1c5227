import { z } from 'zod';
import type { Identity } from '../channel.js';
import type { ChatPlatform } from './types.js';
import { idList, tieredRole } from './lists.js';

/** The Telegram channel's settings, from TELEGRAM_* in the environment. */
export interface TelegramSettings {
  token: string;
  chatId: string;
  apiRoot?: string;
}

const lists = z
  .strictObject({
    admins: idList,
    operators: idList,
    viewers: idList,
    /** Anyone in TELEGRAM_CHAT_ID may run viewer commands (/status, /help). */
    openViewers: z.boolean().default(true),
  })
  .default({ admins: [], operators: [], viewers: [], openViewers: true });

export type TelegramLists = z.output<typeof lists>;

/** A user id, or a chat id (everyone in that group chat), may be listed. */
function listed(list: readonly string[], from: Identity): boolean {
  return list.includes(from.userId) || (from.chatId !== undefined && list.includes(from.chatId));
}

export const telegramPlatform: ChatPlatform<TelegramSettings, TelegramLists> = {
  name: 'telegram',
  variablePrefix: 'TELEGRAM_',
  secretVariables: ['TELEGRAM_TOKEN'],
  readSettings({ env, need, url }) {
    if (!env.TELEGRAM_TOKEN || !need(['TELEGRAM_CHAT_ID'], 'TELEGRAM_TOKEN is set')) return undefined;
    const apiRoot = url('TELEGRAM_API_ROOT');
    return { token: env.TELEGRAM_TOKEN, chatId: env.TELEGRAM_CHAT_ID!, ...(apiRoot ? { apiRoot } : {}) };
  },
  lists,
  roleOf: (from, lists, settings) => tieredRole(lists, (list) => listed(list, from), settings !== undefined && from.chatId === settings.chatId),
  // A bot token: <bot id>:<35 chars>, also inside API URLs (/bot<token>/).
  secretPatterns: [{ kind: 'telegram-token', regex: /(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}/g }],
};
