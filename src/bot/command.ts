import type { z } from 'zod';
import type { StatusSummary } from '../patrol/summary.js';
import type { Reply } from '../chat/channel.js';
import type { Invoker, Role } from '../chat/roles.js';
import type { IncidentRow } from '../store/incidents.js';

/** What commands may use of the running bot; the composition root provides it. */
export interface CommandServices {
  /** Current status, computed from the store. */
  status(): StatusSummary;
  /** Every registered command, for /help. */
  commands(): readonly AnyCommand[];
  /** Open incidents, oldest first. */
  openIncidents(): IncidentRow[];
  /** Quiets an incident's reminders until it recovers; false when no such open incident. */
  ack(incidentId: number, by: Invoker): boolean;
  /** Configured check names. */
  checkNames(): string[];
  /** Silences a check's alerts until a time (a maintenance window); 0 unmutes. */
  mute(check: string, until: number, by: Invoker): void;
  /** Runs a check's heal steps now, whatever the cooldown; resolves to what each step did. */
  healNow(check: string, by: Invoker): Promise<string>;
  surgery(): { enabled: boolean; changedBy?: string; channel?: string; changedAt?: number };
  setSurgery(enabled: boolean, by: Invoker): void;
  /** Consent states, one line each. */
  consent(): string[];
  /** Answers a proposal (approve/reject); the text to show. */
  decideProposal(id: string, approve: boolean, by: Invoker): string;
  /** Runs a diagnosis now (only while analysis is granted); resolves to its text. */
  diagnose(check: string | undefined, by: Invoker): Promise<string>;
  /** Recent proposals, one line each. */
  proposals(): string[];
  /** An admin sets a consent; the text to show. */
  setConsent(name: 'analysis' | 'auto-repair', on: boolean, by: Invoker): string;
  /** An operator overrides an action's score (-2..1). */
  score(actionId: number, score: number, note: string | undefined, by: Invoker): string;
  /** Per-category regret lines. */
  regret(): string[];
  /** Active regret flags, one line each. */
  flags(): string[];
  clearFlag(id: number, by: Invoker): string;
  /** The morning briefing, composed now. */
  briefing(): string;
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
