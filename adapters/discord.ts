import { createHash } from 'node:crypto';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ButtonStyle,
  Client,
  ComponentType,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  GuildMemberRoleManager,
  MessageFlags,
  RateLimitError,
  REST,
  RESTEvents,
  Routes,
  type APIEmbed,
  type APIMessage,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type RESTPostAPIChannelMessageJSONBody,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { ChatChannel, CommandSummary, Delivery, DeliveryAttempt, Identity, Inbound, OutgoingMessage } from '../src/chat/channel.js';
import { actionButtonData, commandOfButtonData, DeliveryError } from '../src/chat/channel.js';
import type { Logger } from '../src/log/logger.js';
import { sleep, TIMED_OUT, within } from '../src/util/abort.js';
import { clip, splitText } from '../src/util/text.js';
import type { Reply } from '../src/chat/channel.js';

export interface DiscordChannelOptions {
  token: string;
  applicationId: string;
  /** The guild whose slash commands Nightshift owns (bulk-overwritten at every login). */
  guildId: string;
  /** Where alerts and questions are posted. */
  channelId: string;
  /** REST base override (e.g. http://127.0.0.1:PORT/api); the gateway URL then comes from its GET /gateway/bot. */
  apiUrl?: string;
  commands: readonly CommandSummary[];
  log: Logger;
  /** Backoff between login attempts while Discord is unreachable: first wait and cap (default 1 s → 60 s). */
  retryDelayMs?: { initial: number; max: number };
  /** A handler slower than this gets its interaction deferred (Discord drops an interaction not answered within 3 s). */
  deferAfterMs?: number;
  /** A rate limit longer than this is handed to the outbox (DeliveryError.retryAfterMs) instead of being waited out in send(). */
  maxRateLimitWaitMs?: number;
}

/** Embed colour per severity. */
export const SEVERITY_COLORS: Record<OutgoingMessage['severity'], number> = { critical: 0xe03e3e, warning: 0xf0a020, info: 0x3ba55d };

// Discord's documented limits.
const CONTENT_MAX = 2000;
/** A long reply is sent as this many messages at most (the last one cut). */
const REPLY_PARTS = 5;
const EMBED_TITLE_MAX = 256;
const EMBED_DESCRIPTION_MAX = 4096;
const BUTTON_LABEL_MAX = 80;
const CUSTOM_ID_MAX = 100;
const BUTTONS_PER_ROW = 5;
const ROWS_MAX = 5;
const COMMAND_DESCRIPTION_MAX = 100;
const NONCE_MAX = 25;
const COMMAND_NAME = /^[-_\p{L}\p{N}]{1,32}$/u;

/**
 * The Discord channel (discord.js 14): slash commands and Approve/Reject
 * buttons in, embeds out. Listens on the gateway with the Guilds intent only
 * (interactions need no privileged intent) and translates; the core decides
 * who may do what from the Identity (user id, guild id, role ids).
 *
 * There is no resume cursor: gateway events are not replayable after a new
 * session, and discord.js resumes a dropped session by itself. Redelivered
 * interactions (after a RESUME) are dropped through `inbound.firstSeen`.
 */
export class DiscordChannel implements ChatChannel {
  readonly name = 'discord';
  private readonly log: Logger;
  /** REST client for alerts and command registration, usable while the gateway is still connecting. */
  private readonly rest: REST;
  private readonly stopping = new AbortController();
  private readonly deferAfterMs: number;
  private client: Client | undefined;
  private inbound: Inbound | undefined;
  /** True after a gateway disconnect was logged, so discord.js's reconnect attempts do not log one line each. */
  private gatewayLost = false;

  constructor(private readonly options: DiscordChannelOptions) {
    this.log = options.log.child({ channel: 'discord' });
    this.deferAfterMs = options.deferAfterMs ?? 2000;
    const maxWait = options.maxRateLimitWaitMs ?? 10_000;
    this.rest = new REST({
      ...(options.apiUrl ? { api: options.apiUrl } : {}),
      // Short limits are waited out by discord.js; a long one goes back to the outbox so send() does not hang.
      rejectOnRateLimit: (limit) => limit.retryAfter > maxWait,
    }).setToken(options.token);
    this.rest.on(RESTEvents.RateLimited, (limit) =>
      this.log.info(
        { route: limit.route, retryAfterMs: limit.retryAfter, global: limit.global, waitsInSend: limit.retryAfter <= maxWait },
        'discord rate limit',
      ),
    );
  }

  async start(inbound: Inbound): Promise<void> {
    this.inbound = inbound;
    // In the background: a Discord outage must not hold up the other channels.
    void this.connectUntilLoggedIn();
  }

  /**
   * Posts an alert. The outbox's idempotency key becomes an enforced nonce:
   * a resend of the same message (a crash after Discord created it, before
   * the outbox recorded it) gets the earlier message back, not a second one.
   */
  async send(message: OutgoingMessage, attempt?: DeliveryAttempt): Promise<Delivery> {
    // discord.js forgets the token after a 401; set it again so every attempt reports Discord's real answer.
    this.rest.setToken(this.options.token);
    const key = attempt?.idempotencyKey;
    const body: RESTPostAPIChannelMessageJSONBody = {
      ...renderMessage(message),
      ...(key === undefined ? {} : { nonce: messageNonce(this.options.channelId, key), enforce_nonce: true }),
    };
    try {
      // REST answers `unknown`; Discord's answer to a message create is the message object.
      const created = (await this.rest.post(Routes.channelMessages(this.options.channelId), { body })) as APIMessage;
      return { platformId: created.id };
    } catch (err) {
      throw toDeliveryError(err);
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    const client = this.client;
    this.client = undefined;
    // discord.js 14.28 (@discordjs/ws 1.2.3) keeps reconnecting a shard destroyed while the gateway is
    // unreachable; every handler below checks `stopped`, so such a leftover delivers nothing.
    await client?.destroy();
    this.rest.clearHashSweeper();
    this.rest.clearHandlerSweeper();
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Logs in, retrying with backoff until it succeeds or stop() is called.
   * Each attempt uses a fresh Client: one destroyed by a failed login cannot
   * be destroyed again later. Once logged in, discord.js itself reconnects
   * and resumes dropped gateway connections.
   */
  private async connectUntilLoggedIn(): Promise<void> {
    const { initial, max } = this.options.retryDelayMs ?? { initial: 1000, max: 60_000 };
    let delay = initial;
    for (let attempt = 1; !this.stopped; attempt++) {
      const client = this.createClient();
      this.client = client;
      try {
        await client.login(this.options.token);
        if (this.stopped) await client.destroy();
        else this.log.info({ attempt }, 'discord gateway connected');
        return;
      } catch (err) {
        // login() has already destroyed the client.
        if (this.stopped) return;
        if (isRejectedToken(err)) this.log.error({ attempt, retryInMs: delay }, 'discord rejected the bot token (check DISCORD_TOKEN); retrying');
        else this.log.warn({ attempt, retryInMs: delay, err: describeError(err) }, 'discord login failed; retrying');
      }
      if (!(await sleep(delay, this.stopping.signal))) return; // stop() was called during the wait
      delay = Math.min(delay * 2, max);
    }
  }

  private createClient(): Client {
    const client = new Client({
      intents: [GatewayIntentBits.Guilds],
      rest: this.options.apiUrl ? { api: this.options.apiUrl } : {},
      // Replies quote operator input and service output; neither may ping anyone.
      allowedMentions: { parse: [] },
    });
    client.once(Events.ClientReady, () => void this.registerCommands());
    client.on(Events.InteractionCreate, (interaction) => void this.onInteraction(interaction));
    client.on(Events.ShardReconnecting, () => {
      if (this.gatewayLost || this.stopped) return;
      this.gatewayLost = true;
      this.log.warn('discord gateway disconnected; discord.js is reconnecting');
    });
    const regained = (how: string) => {
      if (!this.gatewayLost || this.stopped) return;
      this.gatewayLost = false;
      this.log.info({ how }, 'discord gateway back');
    };
    client.on(Events.ShardResume, () => regained('resumed'));
    client.on(Events.ShardReady, () => regained('new session'));
    client.on(
      Events.ShardDisconnect,
      (event) => this.stopped || this.log.error({ code: event.code }, 'discord gateway closed for good (bad token or intents?)'),
    );
    client.on(Events.ShardError, (err) => this.stopped || this.log.debug({ err: describeError(err) }, 'discord gateway error'));
    // Without an 'error' listener an EventEmitter throws; this one only reports.
    client.on(Events.Error, (err) => this.stopped || this.log.warn({ err: describeError(err) }, 'discord client error'));
    return client;
  }

  /**
   * Bulk-overwrites the guild's slash commands, in the background of the
   * gateway: buttons and alerts work whatever happens here. A refusal (4xx
   * other than 404 and 429: the definitions or the bot's access) is logged
   * once and not retried; anything else (404, 5xx, the network) is retried
   * with backoff, the first failure as one warning and the rest at debug.
   */
  private async registerCommands(): Promise<void> {
    const body = slashCommandDefinitions(this.options.commands, (name) =>
      this.log.warn({ command: name }, 'command name is not valid on Discord; left out of the slash menu'),
    );
    const { initial, max } = this.options.retryDelayMs ?? { initial: 1000, max: 60_000 };
    let delay = initial;
    for (let attempt = 1; !this.stopped; attempt++) {
      this.rest.setToken(this.options.token);
      try {
        await this.rest.put(Routes.applicationGuildCommands(this.options.applicationId, this.options.guildId), { body });
        this.log.info({ count: body.length, attempt }, 'discord slash commands registered');
        return;
      } catch (err) {
        if (this.stopped) return;
        const refused = err instanceof DiscordAPIError && err.status >= 400 && err.status < 500 && err.status !== 404 && err.status !== 429;
        const wait = err instanceof RateLimitError ? Math.max(err.retryAfter, delay) : delay;
        const fields = { attempt, ...apiErrorFields(err), ...(refused ? {} : { retryInMs: wait }) };
        if (refused) {
          this.log.error(fields, 'discord refused the slash commands; not retrying (buttons and alerts keep working)');
          return;
        }
        if (attempt === 1) this.log.warn(fields, 'discord slash command registration failed; retrying in the background');
        else this.log.debug(fields, 'discord slash commands still not registered; retrying');
        if (!(await sleep(wait, this.stopping.signal))) return; // stop() was called during the wait
        delay = Math.min(delay * 2, max);
      }
    }
  }

  /** The error boundary for everything received: one failing interaction never affects the next. */
  private async onInteraction(interaction: Interaction): Promise<void> {
    const inbound = this.inbound;
    if (!inbound || this.stopped || (!interaction.isChatInputCommand() && !interaction.isButton())) return;
    try {
      if (!inbound.firstSeen(interaction.id)) {
        this.log.debug({ interactionId: interaction.id }, 'discord interaction seen before; ignored');
        return;
      }
      if (interaction.isChatInputCommand()) await this.onCommand(interaction, inbound);
      else await this.onButton(interaction, inbound);
    } catch (err) {
      // The error may carry the interaction's webhook URL (a credential for 15 minutes): log its description only.
      this.log.error({ interactionId: interaction.id, err: describeError(err) }, 'discord interaction failed');
    }
  }

  private async onCommand(interaction: ChatInputCommandInteraction, inbound: Inbound): Promise<void> {
    const summary = this.options.commands.find((c) => c.name === interaction.commandName);
    await this.runCommand(interaction, commandText(interaction.commandName, summary, interaction.options.data), inbound);
  }

  /** A command, typed or from an alert button: the core's reply is public, or private to the asker for a refusal or usage hint. */
  private async runCommand(interaction: ChatInputCommandInteraction | ButtonInteraction, text: string, inbound: Inbound): Promise<void> {
    const pending = this.guard(() => inbound.command(text, identityOf(interaction)));
    const early = await within(pending, this.deferAfterMs);
    if (early !== TIMED_OUT) {
      const [first, ...rest] = replyParts(early);
      await interaction.reply(first!);
      for (const part of rest) await interaction.followUp(part);
      return;
    }
    // Whether the answer will be private is unknown yet, so the placeholder is public.
    await interaction.deferReply();
    const reply = await pending;
    const [first, ...rest] = replyParts(reply);
    if (isPrivate(reply)) {
      await interaction.deleteReply();
      await interaction.followUp(first!);
    } else {
      await interaction.editReply({ content: first!.content });
    }
    for (const part of rest) await interaction.followUp(part);
  }

  private async onButton(interaction: ButtonInteraction, inbound: Inbound): Promise<void> {
    const action = commandOfButtonData(interaction.customId);
    if (action !== undefined) {
      // An alert button runs its command exactly as if the presser had typed it; the alert keeps its buttons.
      await this.runCommand(interaction, action, inbound);
      return;
    }
    const parsed = parseButtonId(interaction.customId);
    if (!parsed) {
      await interaction.reply({ content: 'This button is not one of Nightshift’s questions.', flags: MessageFlags.Ephemeral });
      return;
    }
    const pending = this.guard(() => inbound.answer({ questionId: parsed.questionId }, parsed.answer, identityOf(interaction)));
    const early = await within(pending, this.deferAfterMs);
    if (early !== TIMED_OUT) {
      // One call either way: a private note to the presser, or the question message updated for everyone.
      if (keepsButtons(early)) await interaction.reply({ content: contentOf(early), flags: MessageFlags.Ephemeral });
      else await interaction.update({ content: contentOf(early), components: [] });
      return;
    }
    await interaction.deferUpdate();
    const reply = await pending;
    if (keepsButtons(reply)) await interaction.followUp({ content: contentOf(reply), flags: MessageFlags.Ephemeral });
    else await interaction.editReply({ content: contentOf(reply), components: [] });
  }

  /** Runs an Inbound call; a throw (a core bug) becomes a short error reply and a log line. */
  private async guard(call: () => Promise<Reply>): Promise<Reply> {
    try {
      return await call();
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'discord: the core failed to answer an interaction');
      return { kind: 'error', text: 'Sorry, that failed inside Nightshift; the error is in its log.' };
    }
  }
}

/** Slash command definitions from the command list: STRING options in argument order, Discord's limits applied. */
export function slashCommandDefinitions(
  commands: readonly CommandSummary[],
  onInvalid: (name: string) => void = () => {},
): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  const valid = commands.filter((command) => {
    const ok = COMMAND_NAME.test(command.name) && command.name === command.name.toLowerCase();
    if (!ok) onInvalid(command.name);
    return ok;
  });
  return valid.map((command) => {
    // Discord refuses a required option after an optional one; positions must not move, so later ones become optional.
    let optionalSeen = false;
    return {
      type: ApplicationCommandType.ChatInput,
      name: command.name,
      description: clip(command.description || command.name, COMMAND_DESCRIPTION_MAX),
      options: command.args.map((arg) => {
        optionalSeen ||= !arg.required;
        return {
          type: ApplicationCommandOptionType.String,
          name: optionName(arg.name),
          description: clip(arg.description || arg.name, COMMAND_DESCRIPTION_MAX),
          required: !optionalSeen,
        };
      }),
    };
  });
}

/** "/mute worker 2h": the command name and the given option values in the command's argument order. */
export function commandText(
  name: string,
  summary: CommandSummary | undefined,
  given: ReadonlyArray<{ name: string; value?: string | number | boolean }>,
): string {
  const byName = new Map(given.filter((o) => o.value !== undefined).map((o) => [o.name, String(o.value).trim()]));
  const ordered = (summary?.args ?? []).map((arg) => optionName(arg.name));
  const values = [...ordered.map((n) => byName.get(n)), ...[...byName].filter(([n]) => !ordered.includes(n)).map(([, v]) => v)].filter(
    (v): v is string => v !== undefined && v !== '',
  );
  return [`/${name}`, ...values].join(' ');
}

/** The message for an alert: one embed, coloured by severity; a question adds its code and two buttons. */
export function renderMessage(message: OutgoingMessage): RESTPostAPIChannelMessageJSONBody {
  const question = message.question;
  const codeLine = question ? `Approve or reject below · code ${question.code}` : undefined;
  // The code line is kept whole; the body gives way when the text is too long.
  const room = EMBED_DESCRIPTION_MAX - (codeLine ? codeLine.length + 2 : 0);
  const description = [message.body ? clip(inert(message.body), room) : undefined, codeLine].filter(Boolean).join('\n\n');
  const embed: APIEmbed = { title: clip(inert(message.title), EMBED_TITLE_MAX), color: SEVERITY_COLORS[message.severity] };
  if (description) embed.description = description;
  if (message.url && /^https?:\/\//.test(message.url)) embed.url = message.url;
  const body: RESTPostAPIChannelMessageJSONBody = { embeds: [embed], allowed_mentions: { parse: [] } };
  const rows: NonNullable<RESTPostAPIChannelMessageJSONBody['components']> = [];
  if (question) {
    rows.push({
      type: ComponentType.ActionRow,
      components: [
        {
          type: ComponentType.Button,
          style: ButtonStyle.Success,
          label: clip(question.yesLabel || 'Approve', BUTTON_LABEL_MAX),
          custom_id: buttonId(question.questionId, 'yes'),
        },
        {
          type: ComponentType.Button,
          style: ButtonStyle.Danger,
          label: clip(question.noLabel || 'Reject', BUTTON_LABEL_MAX),
          custom_id: buttonId(question.questionId, 'no'),
        },
      ],
    });
  }
  const actions = (message.actions ?? []).filter((action) => actionButtonData(action.command).length <= CUSTOM_ID_MAX);
  for (let i = 0; i < actions.length && rows.length < ROWS_MAX; i += BUTTONS_PER_ROW) {
    rows.push({
      type: ComponentType.ActionRow,
      components: actions.slice(i, i + BUTTONS_PER_ROW).map((action) => ({
        type: ComponentType.Button,
        style: ButtonStyle.Secondary,
        label: clip(action.label, BUTTON_LABEL_MAX),
        custom_id: actionButtonData(action.command),
      })),
    });
  }
  if (rows.length > 0) body.components = rows;
  return body;
}

/** Discord dedups an enforced nonce of up to 25 characters: a digest of where the message goes and its outbox key. */
export function messageNonce(channelId: string, idempotencyKey: string): string {
  return createHash('sha256').update(`${channelId}\n${idempotencyKey}`).digest('base64url').slice(0, NONCE_MAX);
}

/** A button's custom_id: "q:<questionId>:yes|no". */
export function buttonId(questionId: string, answer: 'yes' | 'no'): string {
  return `q:${questionId}:${answer}`;
}

/** The question and answer a button carries; undefined for a custom_id that is not ours. */
export function parseButtonId(customId: string): { questionId: string; answer: 'yes' | 'no' } | undefined {
  const match = /^q:(.+):(yes|no)$/.exec(customId);
  return match ? { questionId: match[1]!, answer: match[2] as 'yes' | 'no' } : undefined;
}

/** Maps a failed REST call to the outbox's terms: 401/403 permanent, rate limits with their wait. */
export function toDeliveryError(err: unknown): DeliveryError {
  if (err instanceof RateLimitError) {
    return new DeliveryError(`Discord rate limit (${err.route}): retry in ${err.retryAfter} ms`, { retryAfterMs: err.retryAfter, cause: err });
  }
  if (err instanceof DiscordAPIError) {
    const what = `Discord refused the message: HTTP ${err.status} ${err.message}`;
    if (err.status === 401 || err.status === 403) return new DeliveryError(what, { permanent: true, cause: err });
    if (err.status === 429) {
      const seconds = Number((err.rawError as { retry_after?: unknown }).retry_after);
      return new DeliveryError(what, { retryAfterMs: Number.isFinite(seconds) ? Math.ceil(seconds * 1000) : undefined, cause: err });
    }
    // A 400 is this message's own fault (a limit it breaks): drop it rather than block the queue.
    return new DeliveryError(what, { cause: err, rejected: err.status === 400 });
  }
  return new DeliveryError(`Discord unreachable: ${describeError(err)}`, { cause: err });
}

function identityOf(interaction: ChatInputCommandInteraction | ButtonInteraction): Identity {
  const identity: Identity = { channel: 'discord', userId: interaction.user.id, displayName: interaction.user.username, groups: roleIdsOf(interaction) };
  if (interaction.guildId) identity.chatId = interaction.guildId;
  return identity;
}

/**
 * The member's role ids. discord.js gives a role manager for a cached guild
 * and the raw id list otherwise. @everyone (id = guild id) is left out:
 * holding it says nothing about the person.
 */
function roleIdsOf(interaction: ChatInputCommandInteraction | ButtonInteraction): string[] {
  const member = interaction.member;
  if (!member) return [];
  const ids = member.roles instanceof GuildMemberRoleManager ? [...member.roles.cache.keys()] : [...member.roles];
  return ids.filter((id) => id !== interaction.guildId);
}

/** Refusals and usage errors are shown only to the person who asked. */
function isPrivate(reply: Reply): boolean {
  return reply.kind === 'refused' || reply.kind === 'usage';
}

/** A refused answer changes nothing, and a failed one may be retried: the buttons stay for someone else or later. */
function keepsButtons(reply: Reply): boolean {
  return reply.kind === 'refused' || reply.kind === 'error';
}

function replyOptions(reply: Reply): { content: string; flags?: MessageFlags.Ephemeral; allowedMentions: { parse: [] } } {
  // Nobody is pinged by what a service printed (an "@everyone" in a log line).
  const options = { content: contentOf(reply), allowedMentions: { parse: [] as [] } };
  return isPrivate(reply) ? { ...options, flags: MessageFlags.Ephemeral } : options;
}

/** A reply longer than one message (a whole /diagnosis) goes out in parts, at most REPLY_PARTS of them; each part is a message of its own. */
function replyParts(reply: Reply): Array<ReturnType<typeof replyOptions>> {
  const base = replyOptions(reply);
  const parts = splitText(inert(reply.text.trim() || 'Done.'), CONTENT_MAX);
  if (parts.length > REPLY_PARTS) parts.splice(REPLY_PARTS - 1, Infinity, clip(parts.slice(REPLY_PARTS - 1).join('\n'), CONTENT_MAX));
  return parts.map((content) => ({ ...base, content }));
}

function contentOf(reply: Reply): string {
  return clip(inert(reply.text.trim() || 'Done.'), CONTENT_MAX);
}

/** The "[" of a masked link "[text](...)", with the backslashes before it (an odd number: already escaped). */
const MASKED_LINK_START = /(\\*)\[(?=[^\]]*\]\()/g;

/**
 * Nightshift's messages quote what services printed: a "[text](http://...)"
 * in a log line must show as typed, not as a link whose target is hidden
 * behind harmless-looking text. Other markdown only restyles, and escaping
 * it would litter every check name with backslashes.
 */
export function inert(text: string): string {
  // escapeMarkdown's maskedLink escapes only the first of two links on a line and none whose URL is in angle brackets ("[text](<http://...>)").
  return text.replace(MASKED_LINK_START, (match, backslashes: string) => (backslashes.length % 2 === 0 ? `${backslashes}\\[` : match));
}

/** Discord names are lowercase; "checkName" becomes "check-name". */
function optionName(arg: string): string {
  return arg.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** login() fails with TokenInvalid when GET /gateway/bot answers 401. */
function isRejectedToken(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'TokenInvalid';
}

/** Log fields of a failed REST call: Discord's error code, HTTP status, message and method, never the URL or body. */
function apiErrorFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof DiscordAPIError)) return { err: describeError(err) };
  return { err: describeError(err), code: err.code, status: err.status, method: err.method, description: err.message };
}

/** "DiscordAPIError[50035]: Invalid Form Body …" — name, status and message, never URLs or request bodies. */
function describeError(err: unknown): string {
  if (err instanceof DiscordAPIError) return `${err.name} HTTP ${err.status}: ${err.message}`;
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}
