import type { ChannelSettings, ChatConfig } from '../config/schema.js';
import type { Identity } from './channel.js';
import type { Role } from './roles.js';

/**
 * The role a person holds, from the allow-lists in nightshift.yml. Fails
 * closed: nobody on a list means nobody holds that role; a missing or empty
 * list grants nothing. Viewer commands may be open to members of the
 * configured guild/chat (openViewers). The console is the machine's owner.
 */
export function createAuthorizer(chat: ChatConfig, channels: ChannelSettings): (from: Identity) => Role | null {
  return (from) => {
    switch (from.channel) {
      case 'console':
        return 'admin';
      case 'discord': {
        const lists = chat.discord;
        const has = (list: { users: string[]; roles: string[] }) =>
          list.users.includes(from.userId) || (from.roleIds ?? []).some((r) => list.roles.includes(r));
        if (has(lists.admins)) return 'admin';
        if (has(lists.operators)) return 'operator';
        if (has(lists.viewers)) return 'viewer';
        return lists.openViewers && channels.discord && from.chatId === channels.discord.guildId ? 'viewer' : null;
      }
      case 'telegram': {
        const lists = chat.telegram;
        // A user id, or a chat id (everyone in that group chat), may be listed.
        const has = (list: string[]) => list.includes(from.userId) || (from.chatId !== undefined && list.includes(from.chatId));
        if (has(lists.admins)) return 'admin';
        if (has(lists.operators)) return 'operator';
        if (has(lists.viewers)) return 'viewer';
        return lists.openViewers && channels.telegram && from.chatId === channels.telegram.chatId ? 'viewer' : null;
      }
      case 'ntfy':
        return chat.ntfy.role === 'none' ? null : chat.ntfy.role;
      default:
        return null;
    }
  };
}
