import type { z } from 'zod';
import type { StatusSummary } from '../patrol/summary.js';

/** Who may run a command; each role includes the ones before it. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when `held` is at least `required`. A missing role (not allow-listed) holds nothing. */
export function roleAllows(held: Role | null, required: Role): boolean {
  return held !== null && ROLES.indexOf(held) >= ROLES.indexOf(required);
}

/** Who sent a command, from where; adapters fill this in from platform ids. */
export interface Invoker {
  channel: string;
  userId: string;
  displayName?: string;
  /** The role the channel's allow-list grants this user; null when they are not on it. */
  role: Role | null;
}

/** What a command answers; adapters render it for their platform. */
export interface Reply {
  text: string;
  /** A refusal or a usage error, which adapters may show privately. */
  kind?: 'answer' | 'usage' | 'refused' | 'error';
}

/** What commands may use of the running bot; the composition root provides it. */
export interface CommandServices {
  /** Current status, computed from the store. */
  status(): StatusSummary;
  /** Every registered command, for /help. */
  commands(): readonly AnyCommand[];
}

export interface CommandContext {
  invoker: Invoker;
  services: CommandServices;
  now: number;
}

/**
 * A chat command: one module under commands/, listed in commands/index.ts.
 * Discord slash definitions, Telegram's menu, ntfy reply words and /help are
 * generated from these fields, so they cannot drift apart.
 */
export interface Command<Args extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  /** Positional arguments, in the order the user types them. */
  args: Args;
  role: Role;
  run(ctx: CommandContext, args: z.output<Args>): Promise<Reply> | Reply;
}

// A list holds commands of different argument types; each is checked where it is defined.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = Command<any>;

/** Defines a command with its argument types inferred from the schema. */
export function defineCommand<Args extends z.ZodObject>(command: Command<Args>): Command<Args> {
  return command;
}
