import { Bot, BotError, GrammyError, HttpError, type Api, type Context, type Filter } from 'grammy';
import type { BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update, User } from 'grammy/types';
import {
  actionButtonData,
  commandOfButtonData,
  DeliveryError,
  type AnswerTarget,
  type ChatChannel,
  type CommandSummary,
  type Delivery,
  type Identity,
  type Inbound,
  type OutgoingMessage,
} from '../src/chat/channel.js';
import type { Logger } from '../src/log/logger.js';
import { sleep } from '../src/util/abort.js';
import { clip, splitText } from '../src/util/text.js';
import type { Reply } from '../src/chat/channel.js';

/**
 * Telegram, through grammY and the Bot API's long polling.
 *
 * Mapping:
 * - `/command args` → `inbound.command`, the bot's `@name` suffix stripped.
 *   Telegram command names allow only `a-z 0-9 _`, so the menu shows
 *   `/disable_surgery` for `disable-surgery`, and an incoming
 *   `/disable_surgery` is handed to the core as `/disable-surgery`.
 * - "yes"/"no" (also y/n, approve/reject), sent as a Telegram reply to one of
 *   the bot's messages → `inbound.answer({ replyTo: <message_id> })`.
 * - An inline button `q:<questionId>:yes|no` → `inbound.answer({ questionId })`.
 * - An alert button `cmd:<command>` (`cmd:/ack 12`) → `inbound.command(command)`,
 *   exactly as if the presser had typed it; the core decides whether they may.
 * - Every update is de-duplicated with `inbound.firstSeen(update_id)`, and the
 *   getUpdates offset is persisted with `inbound.saveCursor` after each one.
 *
 * The polling loop is ours rather than `bot.start()`, because the offset must
 * live in Nightshift's database, not in grammY's memory.
 */

/** Settings of the Telegram channel; nothing here is read from the environment. */
export interface TelegramChannelOptions {
  /** The bot token from @BotFather. Never logged. */
  token: string;
  /** Where alerts and questions go: the operator's private chat id or the ops group id. */
  chatId: string;
  /** Bot API base URL without a trailing slash (a local Bot API server, or a test fake). */
  apiRoot?: string;
  /** The command list, for Telegram's command menu. */
  commands: readonly CommandSummary[];
  log: Logger;
  /** How long one getUpdates waits for news; default 25 s. */
  pollTimeoutSeconds?: number;
  /** Wait after a failed poll: `initial`, doubled per failure up to `max`; default 1 s → 30 s. */
  retryDelayMs?: { initial: number; max: number };
  /** Wait between background attempts to set the command menu: `initial`, doubled up to `max`; default 1 min → 1 h. */
  menuRetryDelayMs?: { initial: number; max: number };
}

const ANSWER_WORDS = new Map<string, 'yes' | 'no'>([
  ['yes', 'yes'],
  ['y', 'yes'],
  ['approve', 'yes'],
  ['no', 'no'],
  ['n', 'no'],
  ['reject', 'no'],
]);
const NOT_A_REPLY_HINT = "Reply to the question's message with yes or no.";
const PRIVATE_CHAT_HINT = 'Commands start with a slash: try /help.';
const HANDLER_FAILED = 'Sorry, that failed on my side; the error is in the log.';
const SEVERITY_MARK: Record<OutgoingMessage['severity'], string> = { critical: '🔴', warning: '🟠', info: '🟢' };
/** Telegram's limits, https://core.telegram.org/bots/api. */
const MAX_MESSAGE = 4096;
const MAX_CALLBACK_TEXT = 200;
const MAX_COMMAND_NAME = 32;
const MAX_COMMAND_DESCRIPTION = 256;
const MAX_CALLBACK_DATA_BYTES = 64;
const ACTIONS_PER_ROW = 3;

/** The Telegram channel: long-polls getUpdates and sends with sendMessage. */
export class TelegramChannel implements ChatChannel {
  readonly name = 'telegram';
  private readonly bot: Bot;
  private readonly log: Logger;
  private readonly pollTimeoutSeconds: number;
  private readonly retryDelay: { initial: number; max: number };
  private readonly menuRetryDelay: { initial: number; max: number };
  private readonly menu: BotCommand[];
  /** Telegram command name → the core's name, where they differ (`disable_surgery` → `disable-surgery`). */
  private readonly fromTelegramName = new Map<string, string>();
  private inbound: Inbound | undefined;
  private abort: AbortController | undefined;
  private polling: Promise<void> | undefined;
  /** The background attempts to set the command menu; never on the polling path. */
  private menuTask: Promise<void> | undefined;

  constructor(private readonly options: TelegramChannelOptions) {
    this.log = options.log.child({ channel: 'telegram' });
    this.pollTimeoutSeconds = options.pollTimeoutSeconds ?? 25;
    this.retryDelay = options.retryDelayMs ?? { initial: 1_000, max: 30_000 };
    this.menuRetryDelay = options.menuRetryDelayMs ?? { initial: 60_000, max: 3_600_000 };
    this.menu = this.buildMenu(options.commands);
    // The client's own timeout must outlast a long poll, or every quiet poll would end as an error.
    // grammY refuses an apiRoot with a trailing slash; a config value may well have one.
    const apiRoot = (options.apiRoot ?? 'https://api.telegram.org').replace(/\/+$/, '');
    this.bot = new Bot(options.token, { client: { apiRoot, timeoutSeconds: this.pollTimeoutSeconds + 15 } });
    this.bot.on('message:text', (ctx) => this.onText(ctx));
    this.bot.on('callback_query:data', (ctx) => this.onButton(ctx));
  }

  /** Starts polling in the background; returns at once, whether or not Telegram answers. */
  async start(inbound: Inbound): Promise<void> {
    if (this.polling) return;
    this.inbound = inbound;
    const abort = new AbortController();
    this.abort = abort;
    this.polling = this.poll(inbound, abort.signal).catch((err: unknown) => {
      // poll() handles its own errors; this only catches a bug in it, so the process lives on.
      this.log.error({ error: describeError(err) }, 'telegram: polling loop crashed');
    });
  }

  /** Posts one alert or question to the configured chat. */
  async send(message: OutgoingMessage): Promise<Delivery> {
    const keyboard = this.keyboard(message);
    try {
      const sent = await this.bot.api.sendMessage(this.options.chatId, renderMessage(message), {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        ...(keyboard ? { reply_markup: keyboard } : {}),
      });
      return { platformId: String(sent.message_id) };
    } catch (err) {
      throw toDeliveryError(err);
    }
  }

  /** Ends the long poll at once and waits for the update being handled, if any. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.polling;
    await this.menuTask;
    this.polling = undefined;
    this.menuTask = undefined;
    this.abort = undefined;
  }

  private async poll(inbound: Inbound, signal: AbortSignal): Promise<void> {
    const apiSignal = toGrammySignal(signal);
    let offset = this.resumeOffset(inbound);
    let prepared = false;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!prepared) {
          await this.prepare(apiSignal);
          prepared = true;
          // Cosmetic: the menu is set in the background, so a server that refuses or lacks setMyCommands never holds up polling.
          this.menuTask ??= this.publishMenu(signal).catch((err: unknown) => {
            this.log.error({ error: describeError(err) }, 'telegram: command menu task crashed');
          });
        }
        const updates = await this.bot.api.getUpdates(
          { ...(offset !== undefined ? { offset } : {}), timeout: this.pollTimeoutSeconds, allowed_updates: ['message', 'callback_query'] },
          apiSignal,
        );
        if (failures > 0) this.log.info({ failures }, 'telegram: polling recovered');
        failures = 0;
        for (const update of updates) {
          // Finish the update in hand, but leave the rest of the batch for the next start (its offset is not saved).
          if (signal.aborted) break;
          await this.handle(update, inbound);
          offset = update.update_id + 1;
          inbound.saveCursor(String(offset));
        }
      } catch (err) {
        if (signal.aborted) break;
        failures += 1;
        const waitMs = this.afterPollFailure(err, failures);
        if (waitMs === undefined) return;
        await sleep(waitMs, signal);
      }
    }
  }

  /** getMe (grammY needs the bot's identity to build contexts) and deleteWebhook: what polling needs. */
  private async prepare(signal: GrammySignal): Promise<void> {
    if (!this.bot.isInited()) {
      // Not bot.init(): it retries on its own, silently, for up to 20 minutes between tries; our loop logs and backs off.
      this.bot.botInfo = await this.bot.api.getMe(signal);
    }
    // A webhook left behind by another deployment makes every getUpdates fail with 409.
    await this.bot.api.deleteWebhook({}, signal);
    this.log.info({ bot: this.bot.botInfo.username }, 'telegram: polling');
  }

  /**
   * Sets the command menu, retrying in the background with backoff until it
   * works, Telegram refuses the menu itself (400, 401, 403: retrying the same
   * list cannot help), or stop(). Commands work when typed either way, so the
   * first failure is one warning and later attempts log at debug only.
   */
  private async publishMenu(signal: AbortSignal): Promise<void> {
    const apiSignal = toGrammySignal(signal);
    let delay = this.menuRetryDelay.initial;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.bot.api.setMyCommands(this.menu, {}, apiSignal);
        if (attempt > 1) this.log.info({ attempt }, 'telegram: command menu set');
        return;
      } catch (err) {
        if (signal.aborted) return;
        const refused = err instanceof GrammyError && [400, 401, 403].includes(err.error_code);
        const fields = { ...grammyFields(err), attempt, ...(refused ? {} : { retryInMs: delay }) };
        if (attempt === 1) {
          this.log.warn(
            fields,
            refused
              ? 'telegram: command menu refused; commands still work when typed'
              : 'telegram: could not set the command menu; commands still work when typed, retrying in the background',
          );
        } else {
          this.log.debug(fields, refused ? 'telegram: command menu refused; no more retries' : 'telegram: command menu still not set; retrying');
        }
        if (refused) return;
        const retryAfterMs = err instanceof GrammyError && err.error_code === 429 ? (err.parameters.retry_after ?? 0) * 1000 : 0;
        if (!(await sleep(Math.max(delay, retryAfterMs), signal))) return;
        delay = Math.min(delay * 2, this.menuRetryDelay.max);
      }
    }
  }

  /** How long to wait after a failed poll, or undefined to stop polling for good. */
  private afterPollFailure(err: unknown, failures: number): number | undefined {
    const backoff = Math.min(this.retryDelay.max, this.retryDelay.initial * 2 ** Math.min(failures - 1, 30));
    const error = describeError(err);
    if (err instanceof GrammyError) {
      // 404 is what Telegram answers for a token that is not even shaped like one.
      if (err.error_code === 401 || err.error_code === 404) {
        this.log.error({ error }, 'telegram: the bot token was refused; polling stopped (fix TELEGRAM_TOKEN and restart)');
        return undefined;
      }
      if (err.error_code === 429) {
        const retryAfterMs = (err.parameters.retry_after ?? 0) * 1000 || backoff;
        this.log.warn({ error, attempt: failures, retryInMs: retryAfterMs }, 'telegram: rate limited while polling');
        return retryAfterMs;
      }
      if (err.error_code === 409) {
        this.log.warn({ error, attempt: failures, retryInMs: backoff }, 'telegram: another poller or a webhook holds this bot token');
        return backoff;
      }
    }
    this.log.warn({ error, attempt: failures, retryInMs: backoff }, 'telegram: polling failed');
    return backoff;
  }

  private resumeOffset(inbound: Inbound): number | undefined {
    const saved = inbound.cursor();
    if (saved === undefined) return undefined;
    const offset = Number(saved);
    if (Number.isSafeInteger(offset)) return offset;
    this.log.warn({ cursor: saved }, 'telegram: saved offset is not a number; starting from what Telegram still holds');
    return undefined;
  }

  /** One update, at most once: the per-update error boundary. */
  private async handle(update: Update, inbound: Inbound): Promise<void> {
    if (!inbound.firstSeen(String(update.update_id))) {
      this.log.debug({ updateId: update.update_id }, 'telegram: update seen before, skipped');
      return;
    }
    try {
      await this.bot.handleUpdate(update);
    } catch (err) {
      this.log.error({ updateId: update.update_id, error: describeError(err instanceof BotError ? err.error : err) }, 'telegram: handling an update failed');
    }
  }

  private async onText(ctx: Filter<Context, 'message:text'>): Promise<void> {
    const inbound = this.inbound;
    if (!inbound) return;
    const message = ctx.message;
    const text = message.text.trim();
    const chatId = ctx.chat.id;
    const from = identity(ctx.from, chatId);
    // A rate-limited refusal is not answered: a stranger must not make the bot talk in the operator's chat.
    const respond = async (reply: Reply): Promise<void> => (reply.silent ? undefined : this.reply(chatId, reply.text, message.message_id));

    if (text.startsWith('/')) {
      const command = this.commandFromTelegram(text);
      if (command === undefined) return;
      await respond(await this.guarded(() => inbound.command(command, from)));
      return;
    }
    const answer = ANSWER_WORDS.get(text.toLowerCase());
    if (answer) {
      const replied = message.reply_to_message;
      if (!replied) {
        await respond({ text: NOT_A_REPLY_HINT, kind: 'usage' });
        return;
      }
      // "yes" in reply to another person's message is conversation, not an answer.
      if (replied.from?.id !== this.bot.botInfo.id) return;
      const target: AnswerTarget = { replyTo: String(replied.message_id) };
      await respond(await this.guarded(() => inbound.answer(target, answer, from)));
      return;
    }
    // Free text in a group is people talking; in a private chat it is someone looking for the commands.
    if (ctx.chat.type === 'private') await respond({ text: PRIVATE_CHAT_HINT, kind: 'usage' });
  }

  private async onButton(ctx: Filter<Context, 'callback_query:data'>): Promise<void> {
    const inbound = this.inbound;
    if (!inbound) return;
    const query = ctx.callbackQuery;
    const action = commandOfButtonData(query.data);
    if (action !== undefined) {
      await this.onActionButton(ctx, action);
      return;
    }
    const pressed = parseButton(query.data);
    if (!pressed) {
      await ctx.answerCallbackQuery({ text: 'This button is not one of mine any more.' });
      return;
    }
    // An inaccessible message (too old) carries its chat too; only inline-mode buttons have none.
    const question = query.message;
    const from = identity(ctx.from, question?.chat.id);
    const reply = await this.guarded(() => inbound.answer({ questionId: pressed.questionId }, pressed.answer, from));
    try {
      // A refusal is shown to the presser alone (an alert), never to the whole chat.
      await ctx.answerCallbackQuery(reply.silent ? {} : { text: clip(reply.text, MAX_CALLBACK_TEXT), show_alert: reply.kind === 'refused' });
    } catch (err) {
      // The answer is recorded either way; only the client's spinner outlives a lost callback answer.
      this.log.warn({ error: describeError(err) }, 'telegram: could not answer a button press');
    }
    if (reply.kind === 'refused' || !question) return;
    if (reply.kind !== 'error') await this.removeButtons(question.chat.id, question.message_id);
    await this.reply(question.chat.id, reply.text, question.message_id);
  }

  /** An alert button: its command runs as if the presser typed it; the reply goes to the presser and, unless refused, under the alert. */
  private async onActionButton(ctx: Filter<Context, 'callback_query:data'>, command: string): Promise<void> {
    const inbound = this.inbound;
    if (!inbound) return;
    const alert = ctx.callbackQuery.message;
    const from = identity(ctx.from, alert?.chat.id);
    const reply = await this.guarded(() => inbound.command(command, from));
    try {
      await ctx.answerCallbackQuery(reply.silent ? {} : { text: clip(reply.text, MAX_CALLBACK_TEXT), show_alert: reply.kind === 'refused' });
    } catch (err) {
      this.log.warn({ error: describeError(err) }, 'telegram: could not answer a button press');
    }
    // A refusal is the presser's business alone; the buttons stay for someone who may use them.
    if (reply.silent || reply.kind === 'refused' || !alert) return;
    await this.reply(alert.chat.id, reply.text, alert.message_id);
  }

  /** Question buttons, then the alert's action buttons (those whose callback data fits Telegram's 64 bytes). */
  private keyboard(message: OutgoingMessage): InlineKeyboardMarkup | undefined {
    const rows: InlineKeyboardButton[][] = [];
    if (message.question) rows.push(...questionKeyboard(message.question.questionId, message.question.yesLabel, message.question.noLabel).inline_keyboard);
    const buttons = (message.actions ?? []).filter((action) => {
      const fits = Buffer.byteLength(actionButtonData(action.command)) <= MAX_CALLBACK_DATA_BYTES;
      if (!fits) this.log.warn({ command: action.command }, 'telegram: alert button left out (its command is too long for callback data)');
      return fits;
    });
    for (let i = 0; i < buttons.length; i += ACTIONS_PER_ROW) {
      rows.push(buttons.slice(i, i + ACTIONS_PER_ROW).map((action) => ({ text: clip(action.label, 64), callback_data: actionButtonData(action.command) })));
    }
    return rows.length > 0 ? { inline_keyboard: rows } : undefined;
  }

  /** Runs a core call; a throw becomes a short apology to the user and an error in the log. */
  private async guarded(call: () => Promise<Reply>): Promise<Reply> {
    try {
      return await call();
    } catch (err) {
      this.log.error({ error: describeError(err) }, 'telegram: the core failed on an incoming message');
      return { text: HANDLER_FAILED, kind: 'error' };
    }
  }

  /** Sends plain text as a reply to `replyTo`, split at Telegram's message limit. */
  private async reply(chatId: number, text: string, replyTo: number): Promise<void> {
    const chunks = splitText(text.trim() || '(empty reply)', MAX_MESSAGE);
    try {
      for (const [index, chunk] of chunks.entries()) {
        await this.bot.api.sendMessage(chatId, chunk, {
          link_preview_options: { is_disabled: true },
          // The user may have deleted their message meanwhile; the answer still matters.
          ...(index === 0 ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
        });
      }
    } catch (err) {
      // The command already ran; a lost reply is worth a warning, not a retry that could repeat it.
      this.log.warn({ error: describeError(err) }, 'telegram: could not send a reply');
    }
  }

  private async removeButtons(chatId: number, messageId: number): Promise<void> {
    try {
      await this.bot.api.editMessageReplyMarkup(chatId, messageId, { reply_markup: { inline_keyboard: [] } });
    } catch (err) {
      // "message is not modified": someone else's press removed them first. Anything else leaves stale buttons, which the core refuses anyway.
      this.log.debug({ error: describeError(err) }, 'telegram: buttons not removed');
    }
  }

  /** The text the core gets for a typed command, or undefined when it is addressed to another bot. */
  private commandFromTelegram(text: string): string | undefined {
    const match = /^\/([^\s@]+)(?:@(\S+))?([\s\S]*)$/.exec(text);
    if (!match) return text;
    const [, name = '', mention, rest = ''] = match;
    if (mention !== undefined && mention.toLowerCase() !== this.bot.botInfo.username.toLowerCase()) return undefined;
    return `/${this.fromTelegramName.get(name.toLowerCase()) ?? name}${rest}`;
  }

  private buildMenu(commands: readonly CommandSummary[]): BotCommand[] {
    const menu: BotCommand[] = [];
    for (const command of commands) {
      const name = telegramCommandName(command.name);
      if (!name || menu.some((entry) => entry.command === name)) {
        this.log.warn({ command: command.name }, 'telegram: command left out of the menu (its Telegram name is empty or taken)');
        continue;
      }
      if (name !== command.name) this.fromTelegramName.set(name, command.name);
      menu.push({ command: name, description: clip(command.description.trim() || command.usage, MAX_COMMAND_DESCRIPTION) });
    }
    return menu;
  }
}

/** `disable-surgery` → `disable_surgery`: Telegram command names are 1-32 of `a-z 0-9 _`. */
function telegramCommandName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, MAX_COMMAND_NAME);
}

function identity(user: User, chatId: number | undefined): Identity {
  const fullName = [user.first_name, user.last_name].filter(Boolean).join(' ');
  const displayName = fullName || (user.username ? `@${user.username}` : undefined);
  return {
    channel: 'telegram',
    userId: String(user.id),
    ...(displayName ? { displayName } : {}),
    ...(chatId !== undefined ? { chatId: String(chatId) } : {}),
  };
}

function questionKeyboard(questionId: string, yesLabel: string, noLabel: string): InlineKeyboardMarkup {
  return {
    inline_keyboard: [
      [
        { text: yesLabel, callback_data: `q:${questionId}:yes` },
        { text: noLabel, callback_data: `q:${questionId}:no` },
      ],
    ],
  };
}

function parseButton(data: string): { questionId: string; answer: 'yes' | 'no' } | undefined {
  const match = /^q:(.+):(yes|no)$/.exec(data);
  return match ? { questionId: match[1]!, answer: match[2] === 'yes' ? 'yes' : 'no' } : undefined;
}

/** Title in bold, body, link, and for a question how to answer it; HTML-escaped and within 4096 characters. */
function renderMessage(message: OutgoingMessage): string {
  const title = clip(message.title, 512);
  const footer = message.question ? `\n\nReply yes/no to this message · code ${message.question.code}` : '';
  const link = message.url ? `\n${message.url}` : '';
  // Telegram counts the text after entity parsing, so the budget is in unescaped characters.
  const budget = MAX_MESSAGE - (SEVERITY_MARK[message.severity].length + 1 + title.length + footer.length + link.length + 1);
  const body = message.body ? clip(message.body, Math.max(0, budget)) : '';
  let html = `${SEVERITY_MARK[message.severity]} <b>${escapeHtml(title)}</b>`;
  if (body) html += `\n${escapeHtml(body)}`;
  if (message.url) html += `\n${escapeHtml(message.url)}`;
  if (message.question) html += `\n\nReply yes/no to this message · code <code>${escapeHtml(message.question.code)}</code>`;
  return html;
}

/** The three characters Telegram's HTML mode requires escaped outside tags. */
function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A log-safe description. A network failure's inner error carries the request
 * URL, which holds the bot token, so only its code is kept.
 */
function describeError(err: unknown): string {
  if (err instanceof GrammyError) return `${err.method}: ${platformText(err)}`;
  if (err instanceof HttpError) {
    const inner: unknown = err.error;
    const code =
      typeof inner === 'object' && inner !== null ? ((inner as { code?: unknown; type?: unknown }).code ?? (inner as { type?: unknown }).type) : undefined;
    return typeof code === 'string' ? `${err.message} (${code})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** "404 Not Found": the Bot API's error_code and description, whichever it sent (never "undefined"). */
function platformText(err: GrammyError): string {
  const parts: Array<string | number | undefined> = [err.error_code, err.description];
  const given = parts.filter((part) => part !== undefined && String(part).trim() !== '');
  return given.length > 0 ? given.join(' ') : err.message;
}

/** The log fields of a failed call: method, error_code and description for a Bot API answer, a safe text otherwise. */
function grammyFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof GrammyError)) return { error: describeError(err) };
  return {
    method: err.method,
    error: describeError(err),
    ...((err.error_code as number | undefined) !== undefined ? { errorCode: err.error_code } : {}),
    ...((err.description as string | undefined) ? { description: err.description } : {}),
  };
}

function toDeliveryError(err: unknown): DeliveryError {
  if (err instanceof GrammyError) {
    const what = `Telegram refused the message: ${platformText(err)}`;
    if (err.error_code === 429) {
      const retryAfter = err.parameters.retry_after;
      return new DeliveryError(what, { cause: err, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter * 1000 } : {}) });
    }
    // Bad token, bot blocked or kicked, or a chat id that does not exist: retrying cannot help.
    const permanent =
      err.error_code === 401 || err.error_code === 403 || err.error_code === 404 || (err.error_code === 400 && /chat not found/i.test(err.description));
    // Any other 400 is this message's own fault (too long, bad markup): drop it rather than block the queue.
    return new DeliveryError(what, { cause: err, permanent, rejected: !permanent && err.error_code === 400 });
  }
  // No cause for network failures: it would carry the URL with the token into whatever logs the error.
  if (err instanceof HttpError) return new DeliveryError(`Telegram unreachable: ${describeError(err)}`);
  return new DeliveryError(`Telegram send failed: ${describeError(err)}`, { cause: err });
}

/** The AbortSignal type grammY declares (from the `abort-controller` polyfill). */
type GrammySignal = NonNullable<Parameters<Api['getMe']>[0]>;

/**
 * Node's own AbortSignal, typed as grammY's. grammY only calls
 * addEventListener on it and passes it to fetch, which Node's signal
 * supports; the declared types differ only in the polyfill's event typing.
 */
function toGrammySignal(signal: AbortSignal): GrammySignal {
  return signal as unknown as GrammySignal;
}
