import type { z } from 'zod';
import type { AnyChatPlatform, SecretPattern } from './types.js';
import { discordPlatform } from './discord.js';
import { telegramPlatform } from './telegram.js';
import { ntfyPlatform } from './ntfy.js';

/**
 * Every chat platform, by name, in the order channels start and problems are
 * listed. Adding one means its declaration module and one line here (and its
 * client under adapters/ with one loader line in adapters/index.ts);
 * configuration, authorisation and redaction never branch on the platform.
 * The console is not here: it is always on and needs no settings.
 */
export const platforms = {
  discord: discordPlatform,
  telegram: telegramPlatform,
  ntfy: ntfyPlatform,
} satisfies Record<string, AnyChatPlatform>;

export type PlatformName = keyof typeof platforms;

export const platformNames = Object.keys(platforms) as PlatformName[];

type Platforms = typeof platforms;

/** A platform's settings from the environment (DiscordSettings...). */
export type SettingsOf<K extends PlatformName> = NonNullable<ReturnType<Platforms[K]['readSettings']>>;

/** A platform's allow-lists from nightshift.yml, validated (DiscordLists...). */
export type ListsOf<K extends PlatformName> = z.output<Platforms[K]['lists']>;

/** The chat channels that are on (their tokens are set), with their platform settings. */
export type ChannelSettings = { [K in PlatformName]?: SettingsOf<K> };

/** Every platform's allow-lists (`chat.<name>` in nightshift.yml). */
export type PlatformLists = { [K in PlatformName]: ListsOf<K> };

/** The schema of every platform's `chat.<name>` section, for the configuration schema to spread. */
export const platformListsShape = Object.fromEntries(platformNames.map((name) => [name, platforms[name].lists])) as {
  [K in PlatformName]: Platforms[K]['lists'];
};

/** Every platform's allow-lists when nightshift.yml says nothing about them. */
export const defaultPlatformLists = Object.fromEntries(platformNames.map((name) => [name, platforms[name].lists.parse(undefined)])) as PlatformLists;

/** True for a platform's name; a plain object lookup would also find "constructor" and friends. */
export function isPlatformName(name: string): name is PlatformName {
  return Object.hasOwn(platforms, name);
}

/** Every platform's token shapes, for the redactor. */
export const platformSecretPatterns: readonly SecretPattern[] = platformNames.flatMap((name) => platforms[name].secretPatterns);

/** Every platform's secret variables (DISCORD_TOKEN...), for the redactor's literal layer. */
export const platformSecretVariables: readonly string[] = platformNames.flatMap((name) => platforms[name].secretVariables);

/** True for a variable of a platform's family (DISCORD_*, NTFY_*...): never handed to the programs Nightshift runs. */
export function isPlatformVariable(name: string): boolean {
  return platformNames.some((platform) => name.startsWith(platforms[platform].variablePrefix));
}
