import type { Identity } from './channel.js';
import type { Role } from './roles.js';
import { isPlatformName, platforms, type ChannelSettings, type PlatformLists } from './platforms/index.js';
import type { ChatPlatform } from './platforms/types.js';

/**
 * The role a person holds, from the allow-lists in nightshift.yml, as the
 * platform they wrote on reads them (src/chat/platforms/). Fails closed:
 * nobody on a list means nobody holds that role; a missing or empty list
 * grants nothing; an unknown platform grants nothing. Viewer commands may be
 * open to members of the configured guild/chat (openViewers). The console is
 * the machine's owner.
 */
export function createAuthorizer(chat: PlatformLists, channels: ChannelSettings): (from: Identity) => Role | null {
  return (from) => {
    if (from.channel === 'console') return 'admin';
    if (!isPlatformName(from.channel)) return null;
    // The lists and settings under a platform's name are the ones its own schema and reader produced.
    const platform = platforms[from.channel] as ChatPlatform<unknown, unknown>;
    return platform.roleOf(from, chat[from.channel], channels[from.channel]);
  };
}
