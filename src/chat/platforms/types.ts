import type { z } from 'zod';
import type { Identity } from '../channel.js';
import type { Role } from '../roles.js';

/** The process environment as configuration reads it. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * What the configuration loader lends a platform to read its settings: every
 * problem goes into one list, so a bad start names all of them at once, in
 * the loader's own wording. Plain functions, so a platform may destructure them.
 */
export interface SettingsReader {
  env: Env;
  /** Reports each of `names` that is unset ("X (environment): expected it to be set because ..."); true when all are set. */
  need: (names: readonly string[], because: string) => boolean;
  /** An http(s) URL from the environment without its trailing slashes; a bad one is reported (and still returned). */
  url: (name: string) => string | undefined;
  /** Reports one problem, written in full ("NAME (environment): expected ..., found ..."). */
  problem: (line: string) => void;
  /** How a found value is quoted in a problem: "\"abc\"", "nothing". */
  describe: (value: unknown) => string;
}

/**
 * A token shape the redactor removes wherever it appears, even when it is
 * not one of the configured secrets (another bot's token in a service log).
 */
export interface SecretPattern {
  /** Names the marker: [redacted:<kind>]. */
  kind: string;
  regex: RegExp;
  /** Skip the regex unless this cheap test passes (most text names no secret at all). */
  hint?: RegExp;
}

/**
 * A chat platform, as the core knows it: everything but its client. One
 * module per platform under src/chat/platforms/, listed in its index; the
 * client (adapters/<name>.ts) is loaded by the composition root only when the
 * platform is on, so nothing here may import it.
 */
export interface ChatPlatform<Settings = unknown, Lists = unknown> {
  name: string;
  /**
   * The platform's environment variables all start with this. The whole
   * family is withheld from the programs Nightshift runs: ids and topic names
   * help nobody but an impersonator.
   */
  variablePrefix: string;
  /** Variables whose values are secrets: the redactor removes them literally wherever they appear. */
  secretVariables: readonly string[];
  /**
   * The platform's settings from the environment (`channels.<name>`), or
   * undefined when it is off; problems go to the reader.
   */
  readSettings(reader: SettingsReader): Settings | undefined;
  /** The schema of `chat.<name>` in nightshift.yml (who holds which role), with its default. */
  lists: z.ZodType<Lists, unknown>;
  /**
   * The role a person holds on this platform, or null. Fails closed: a
   * missing or empty list grants nothing. `settings` is undefined when the
   * platform is off.
   */
  roleOf(from: Identity, lists: Lists, settings: Settings | undefined): Role | null;
  /** Token shapes of this platform, for the redactor. */
  secretPatterns: readonly SecretPattern[];
}

// Any settings and lists: the registry holds platforms of different types (as the check registry does).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyChatPlatform = ChatPlatform<any, any>;
