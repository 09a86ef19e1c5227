import type { z } from 'zod';
import { errorMessage, UserError } from '../errors.js';
import { clip } from '../util/text.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../clock.js';
import { argsSchema, bareRole, roleFor, type AnyCommand, type CommandServices } from './command.js';
import type { CommandSummary, Identity, Reply } from '../chat/channel.js';
import { roleAllows, type Invoker, type Role } from '../chat/roles.js';

export type ParsedInput = { name: string; tokens: string[] } | null;

/** Command names are at most 32 characters (Discord's limit); an unknown one is shown up to this long. */
const MAX_SHOWN_NAME = 40;

/** "/mute worker 2h" → { name: "mute", tokens: ["worker", "2h"] }; text that is not a command → null. */
export function parseCommandText(text: string): ParsedInput {
  const trimmed = text.trim();
  if (!trimmed.startsWith('/')) return null;
  const [head = '', ...tokens] = trimmed.slice(1).split(/\s+/);
  // Telegram appends the bot's name in groups: /status@nightshift_bot
  const name = head.split('@')[0]!.toLowerCase();
  return name ? { name, tokens } : null;
}

/** `/mute <check> <duration> [note]` */
export function usage(command: AnyCommand): string {
  const parts = Object.entries(argsSchema(command).shape).map(([key, schema]) => (isOptional(schema as z.ZodType) ? `[${key}]` : `<${key}>`));
  return [`/${command.name}`, ...parts].join(' ');
}

function isOptional(schema: z.ZodType): boolean {
  return schema.safeParse(undefined).success;
}

/**
 * Maps positional tokens onto the schema's keys in order; extra tokens are
 * joined into the last key (so a free-text note may contain spaces).
 */
export function argsFromTokens(command: AnyCommand, tokens: string[]): Record<string, string> {
  const keys = Object.keys(argsSchema(command).shape);
  const args: Record<string, string> = {};
  keys.forEach((key, i) => {
    const isLast = i === keys.length - 1;
    const value = isLast ? tokens.slice(i).join(' ') : tokens[i];
    if (value !== undefined && value !== '') args[key] = value;
  });
  return args;
}

export interface DispatcherOptions {
  commands: readonly AnyCommand[];
  services: CommandServices;
  log: Logger;
  clock: Clock;
  /** The role a person holds on their channel. */
  roleOf: (from: Identity) => Role | null;
  /**
   * Called when a command is refused, so it leaves an audit trail; returning
   * false means "rate-limited: do not answer" (a stranger repeating himself).
   */
  onRefused?: (invoker: Invoker, what: string) => boolean | void;
  /** Called when a command fails inside Nightshift. */
  onFailed?: (invoker: Invoker, command: string, error: string) => void;
}

/**
 * The one path every chat message takes, whatever the channel: parse, look
 * up, authorise, validate arguments, run inside an error boundary. Every
 * refusal goes through one place, so each is answered the same way and
 * audited once (a sub-command's role too); every usage error reads the same
 * on every channel.
 */
export class Dispatcher {
  private readonly byName: Map<string, AnyCommand>;

  constructor(private readonly options: DispatcherOptions) {
    this.byName = new Map(options.commands.map((c) => [c.name, c]));
  }

  get commands(): readonly AnyCommand[] {
    return this.options.commands;
  }

  async dispatch(text: string, from: Identity): Promise<Reply> {
    const invoker: Invoker = { ...from, role: this.options.roleOf(from) };
    const parsed = parseCommandText(text);
    const command = parsed && this.byName.get(parsed.name);
    if (!parsed || !command) {
      // A name longer than any command's is cut: the answer's point (/help) must not drown in an echo of what was typed.
      const typed = parsed && `/${clip(parsed.name, MAX_SHOWN_NAME)}`;
      const what = typed ? `Unknown command ${typed}.` : 'Commands start with "/".';
      if (invoker.role === null)
        return this.refuse(invoker, typed ?? 'text', `${what} You are not on this channel's allow-list, so there is nothing you can run here.`);
      return { kind: 'usage', text: `${what} Try /help:\n${this.helpText(invoker)}` };
    }
    const schema = argsSchema(command);
    // A fixed role is judged before the arguments are read: someone who may not run the command learns nothing from its usage.
    if (typeof command.role === 'string' && !roleAllows(invoker.role, command.role)) return this.refuseCommand(invoker, `/${command.name}`, command.role);
    if (invoker.role === null) return this.refuseCommand(invoker, `/${command.name}`, bareRole(command));
    const args = schema.safeParse(argsFromTokens(command, parsed.tokens));
    if (!args.success) return this.usageReply(command, args.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; '));
    if (typeof command.role === 'function') {
      const needed = roleFor(command, args.data);
      const typed = [`/${command.name}`, ...parsed.tokens].join(' ');
      if (!roleAllows(invoker.role, needed)) return this.refuseCommand(invoker, typed, needed);
    }
    try {
      return await command.run({ invoker, services: this.options.services, now: this.options.clock.now(), commands: this.options.commands }, args.data);
    } catch (err) {
      // A handler that finds the arguments wrong only once it has looked (no such check) says so like a usage error.
      if (err instanceof UserError) return err.code === 'usage' ? this.usageReply(command, err.message) : { kind: 'error', text: err.message };
      this.options.log.error({ err, command: command.name, channel: invoker.channel }, 'command failed');
      this.options.onFailed?.(invoker, command.name, errorMessage(err));
      return { kind: 'error', text: `Sorry, /${command.name} failed inside Nightshift; the error is in its log.` };
    }
  }

  private usageReply(command: AnyCommand, problem: string): Reply {
    return { kind: 'usage', text: `Usage: ${usage(command)}\n${command.description}\n(${problem})` };
  }

  private refuseCommand(invoker: Invoker, what: string, needed: Role): Reply {
    return this.refuse(invoker, what, `Sorry, ${what} needs the ${needed} role, and you are not on this channel's ${needed} list. Nothing was changed.`);
  }

  private refuse(invoker: Invoker, what: string, text: string): Reply {
    const answer = this.options.onRefused?.(invoker, what) !== false;
    return answer ? { kind: 'refused', text } : { kind: 'refused', text, silent: true };
  }

  /** One line per command the invoker may run (as typed bare). */
  helpText(invoker: Pick<Invoker, 'role'>): string {
    return helpLines(this.options.commands, invoker.role).join('\n');
  }
}

/** `/mute <check> <duration> [note]  Silence a check...`: one line per command the role may run, as /help lists them. */
export function helpLines(commands: readonly AnyCommand[], role: Role | null): string[] {
  return commands.filter((c) => roleAllows(role, bareRole(c))).map((c) => `${usage(c)}  ${c.description}`);
}

/** The command list as platform menus need it (Discord slash options, Telegram menu, ntfy reply words). */
export function describeCommands(commands: readonly AnyCommand[]): CommandSummary[] {
  return commands.map((c) => ({
    name: c.name,
    description: c.description,
    usage: usage(c),
    args: Object.entries(argsSchema(c).shape).map(([name, schema]) => ({
      name,
      description: (schema as z.ZodType).description ?? name,
      required: !isOptional(schema as z.ZodType),
    })),
  }));
}
