import type { z } from 'zod';
import type { Reply } from '../chat/channel.js';
import type { Invoker, Role } from '../chat/roles.js';
import type { ConsentService } from '../consent/consent.js';
import type { DiagnosisService } from '../diagnose/diagnoser.js';
import type { HealService } from '../heal/recovery.js';
import type { IncidentService } from '../patrol/incidents.js';
import type { StatusService } from '../patrol/summary.js';
import type { RegretService } from '../regret/regret.js';
import type { BriefingService } from '../report/briefing.js';
import type { RepairService } from '../repair/repairer.js';
import type { SilenceService } from '../silence/silences.js';

/**
 * What commands may use of the running bot, one group per feature; each
 * group's interface is owned by its feature module, and every method
 * returns data: what the operator reads is worded by the command.
 */
export interface CommandServices {
  status: StatusService;
  incidents: IncidentService;
  heal: HealService;
  consent: ConsentService;
  diagnosis: DiagnosisService;
  regret: RegretService;
  briefing: BriefingService;
  silences: SilenceService;
  repair: RepairService;
}

export interface CommandContext {
  invoker: Invoker;
  services: CommandServices;
  now: number;
  /** Every registered command, in /help order. */
  commands: readonly AnyCommand[];
}

/**
 * Who may run a command: one role, or one that depends on the (parsed)
 * arguments: `/consent` shows to viewers, `/consent analysis on` is for
 * admins. The dispatcher enforces it and audits every refusal, so a handler
 * never checks a role by hand.
 */
export type RoleRule<Args> = Role | ((args: Args) => Role);

/**
 * A chat command: one module under commands/, listed in commands/index.ts.
 * Discord slash definitions, Telegram's menu, ntfy reply words and /help are
 * generated from these fields, so they cannot drift apart.
 */
export interface Command<Args extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  /** Positional arguments, in the order the user types them; a refinement on the object gives the usage too. */
  args: Args;
  role: RoleRule<z.output<Args>>;
  run(ctx: CommandContext, args: z.output<Args>): Promise<Reply> | Reply;
}

// A list holds commands of different argument types; each is checked where it is defined.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = Command<any>;

/** Defines a command with its argument types inferred from the schema. */
export function defineCommand<Args extends z.ZodObject>(command: Command<Args>): Command<Args> {
  return command;
}

/*
 * AnyCommand erases each command's own argument type; these two accessors
 * are the only places that look through the erasure, so nothing else
 * handles an untyped value.
 */

/** The command's argument schema, as a plain object schema. */
export function argsSchema(command: AnyCommand): z.ZodObject {
  return command.args as z.ZodObject;
}

/** The role a command needs for arguments its own schema parsed. */
export function roleFor(command: AnyCommand, args: unknown): Role {
  return typeof command.role === 'string' ? command.role : (command.role as (parsed: unknown) => Role)(args);
}

/**
 * The role a command needs when it is typed bare (no arguments): what /help
 * filters by. A rule that depends on the arguments is asked with the bare
 * command's arguments; a command that needs arguments is listed for anyone
 * with a role, and the dispatcher judges the full command.
 */
export function bareRole(command: AnyCommand): Role {
  if (typeof command.role === 'string') return command.role;
  const bare = argsSchema(command).safeParse({});
  return bare.success ? roleFor(command, bare.data) : 'viewer';
}
