import type { ChatChannel, CommandSummary } from '../src/chat/channel.js';
import { platformNames, type ChannelSettings, type PlatformName, type SettingsOf } from '../src/chat/platforms/index.js';
import type { Logger } from '../src/log/logger.js';

/** What every channel gets besides its platform's settings. */
interface ChannelServices {
  commands: CommandSummary[];
  log: Logger;
}

/**
 * How to start each platform's client, one line per platform of the
 * registry (src/chat/platforms/). Each module is imported only when its
 * channel is on: discord.js alone adds about 40 MB to the process.
 */
const loaders: { [K in PlatformName]: (settings: SettingsOf<K>, services: ChannelServices) => Promise<ChatChannel> } = {
  discord: async (settings, services) => new (await import('./discord.js')).DiscordChannel({ ...settings, ...services }),
  telegram: async (settings, services) => new (await import('./telegram.js')).TelegramChannel({ ...settings, ...services }),
  ntfy: async (settings, services) => new (await import('./ntfy.js')).NtfyChannel({ ...settings, ...services }),
};

/** The chat channels whose tokens are set, in the registry's order. The console is not among them: the caller adds it. */
export async function createChatChannels(settings: ChannelSettings, commandList: CommandSummary[], log: Logger): Promise<ChatChannel[]> {
  const channels: ChatChannel[] = [];
  for (const name of platformNames) {
    const own = settings[name];
    if (!own) continue;
    // The settings under a name are that platform's own (ChannelSettings maps each name to its type).
    const load = loaders[name] as (settings: SettingsOf<typeof name>, services: ChannelServices) => Promise<ChatChannel>;
    channels.push(await load(own, { commands: commandList, log: log.child({ channel: name }) }));
  }
  return channels;
}
