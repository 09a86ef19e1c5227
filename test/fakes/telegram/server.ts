import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BotCommand, CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update, User } from 'grammy/types';
import { recordReceived } from '../artefacts.js';
import { parseTelegramHtml } from './html.js';

/**
 * A local Telegram Bot API server for tests, written from
 * https://core.telegram.org/bots/api: `POST|GET /bot<token>/<method>` with
 * JSON, query-string or url-encoded parameters, answering
 * `{ ok: true, result }` or `{ ok: false, error_code, description, parameters? }`
 * with the matching HTTP status, as the real server does.
 *
 * Implemented: getMe, deleteWebhook, getWebhookInfo, getUpdates (long polling:
 * `offset` confirms every update below it, the call waits up to `timeout`
 * seconds for a new update and answers [] when none came, a newer concurrent
 * call terminates the older one with 409), sendMessage (HTML parse mode
 * checked like the real API, replies, inline keyboards), setMyCommands,
 * getMyCommands, answerCallbackQuery, editMessageReplyMarkup.
 * Not implemented: multipart uploads, MarkdownV2, webhooks (only their
 * "getUpdates is refused while a webhook is set" effect), every other method.
 *
 * The control API (methods on the object) lets a test play the user and the
 * network: inject messages and button presses, redeliver an update, read what
 * the bot sent, make the next calls fail, and take the server down and up.
 */

/** A failure the next calls of a method answer with. */
export type InjectedFailure = { status: 429; retryAfter: number } | { status: 401 } | { status: number; description?: string };

/** A message a user types, as a test injects it. */
export interface InjectedMessage {
  chatId: number;
  fromId: number;
  text: string;
  /** message_id of the message this one replies to (in the same chat). */
  replyTo?: number;
  fromName?: string;
  username?: string;
}

/** A press on an inline button of one of the bot's messages. */
export interface InjectedCallback {
  chatId: number;
  fromId: number;
  data: string;
  /** message_id of the bot message that carries the button. */
  messageId: number;
  fromName?: string;
}

/** One API call the fake received, with its parameters (never the token). */
export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
}

/** How the bot answered one callback query. */
export interface CallbackAnswer {
  callbackQueryId: string;
  updateId: number;
  text?: string;
  showAlert?: boolean;
}

export interface FakeTelegramOptions {
  /** The only token the fake accepts; `<bot id>:<secret>` like a real one. */
  token?: string;
  botUsername?: string;
  /** Chats the bot may write to before anyone wrote to it (a group it was added to, a user who pressed Start). */
  chats?: number[];
}

/** A Telegram API error, answered as `{ ok: false, ... }`. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number },
  ) {
    super(description);
  }
}

interface Poller {
  /** Answers the waiting call with whatever is pending now. */
  wake(): void;
  /** Answers the waiting call with 409: a newer getUpdates took over. */
  terminate(): void;
}

/** The fake has no channels: every chat is private, a group or a supergroup. */
type ChatWithoutChannels = Exclude<Chat, Chat.ChannelChat>;

const DEFAULT_TOKEN = '123456789:AAFakeTelegramTokenForNightshiftTest00';
const MAX_TEXT = 4096;

/** A running fake Telegram Bot API; `apiRoot` is what grammy's `client.apiRoot` takes. */
export class FakeTelegram {
  readonly token: string;
  readonly bot: User;
  private readonly server: Server;
  private port = 0;
  private isDown = false;

  private nextUpdateId = 700_000_000 + Math.floor(Math.random() * 1000);
  /** Updates not yet confirmed by an offset, in update_id order. */
  private queue: Update[] = [];
  /** Updates to serve once more whatever the offset (a lost confirmation). */
  private redeliveries: Update[] = [];
  private readonly everyUpdate = new Map<number, Update>();
  private allowedUpdates: string[] = [];
  private poller: Poller | undefined;
  private webhookUrl = '';

  private readonly chats = new Map<number, ChatWithoutChannels>();
  private readonly messages = new Map<number, Map<number, Message>>();
  private readonly nextMessageId = new Map<number, number>();
  private readonly botMessages: Message[] = [];
  private myCommands: BotCommand[] = [];
  private readonly callbackQueries = new Map<string, { updateId: number; answered: boolean }>();
  private readonly answers: CallbackAnswer[] = [];
  private nextCallbackId = 1;
  /** Per method, the failures its next calls answer with, in order. */
  private readonly failures = new Map<string, InjectedFailure[]>();
  private readonly recorded: RecordedCall[] = [];

  private constructor(options: FakeTelegramOptions) {
    this.token = options.token ?? DEFAULT_TOKEN;
    const botId = Number(this.token.split(':')[0]);
    this.bot = { id: Number.isSafeInteger(botId) ? botId : 1, is_bot: true, first_name: 'Nightshift', username: options.botUsername ?? 'nightshift_test_bot' };
    for (const chatId of options.chats ?? []) this.ensureChat(chatId);
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        // A bug in the fake should fail the test loudly, not hang the client.
        if (!res.headersSent) writeJson(res, 500, { ok: false, error_code: 500, description: `fake error: ${String(err)}` });
      });
    });
  }

  /** Starts a fake on 127.0.0.1 with a free port. */
  static async start(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    const fake = new FakeTelegram(options);
    await fake.listen(0);
    return fake;
  }

  /** `http://127.0.0.1:<port>`, the `apiRoot` for grammy. */
  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A user writes `text` in a chat; returns the update_id. */
  pushMessage(input: InjectedMessage): number {
    const chat = this.ensureChat(input.chatId, input);
    const from = userFor(input.fromId, input.fromName, input.username);
    const message: Message & Update.NonChannel = { message_id: this.allocateMessageId(chat.id), from, chat, date: nowSeconds(), text: input.text };
    const command = /^\/[^\s]+/.exec(input.text);
    if (command) message.entities = [{ type: 'bot_command', offset: 0, length: command[0].length }];
    if (input.replyTo !== undefined) {
      const original = this.messages.get(chat.id)?.get(input.replyTo);
      if (!original) throw new Error(`fake telegram: no message ${input.replyTo} in chat ${chat.id} to reply to`);
      // Telegram nests the replied-to message one level deep only.
      message.reply_to_message = shallowCopy(original);
    }
    this.store(message);
    return this.enqueue({ message });
  }

  /** A user presses an inline button on one of the bot's messages; returns the update_id. */
  pushCallback(input: InjectedCallback): number {
    const message = this.messages.get(input.chatId)?.get(input.messageId);
    if (!message || message.from?.id !== this.bot.id) throw new Error(`fake telegram: no bot message ${input.messageId} in chat ${input.chatId}`);
    const id = `${this.bot.id}${String(this.nextCallbackId++).padStart(6, '0')}`;
    const callback_query: CallbackQuery = {
      id,
      from: userFor(input.fromId, input.fromName),
      message: structuredClone(message),
      chat_instance: `-${Math.abs(input.chatId)}77`,
      data: input.data,
    };
    const updateId = this.enqueue({ callback_query });
    this.callbackQueries.set(id, { updateId, answered: false });
    return updateId;
  }

  /** Serves an update again on the next getUpdates, whatever the offset (as after a lost confirmation). */
  redeliver(updateId: number): void {
    const update = this.everyUpdate.get(updateId);
    if (!update) throw new Error(`fake telegram: no update ${updateId}`);
    this.redeliveries.push(structuredClone(update));
    this.poller?.wake();
  }

  /** An update as it was first served: the message or button press pushed under `updateId`. */
  update(updateId: number): Update | undefined {
    return structuredClone(this.everyUpdate.get(updateId));
  }

  /** Every message the bot sent, in order, as it looks now (after edits). */
  sent(): Message[] {
    return structuredClone(this.botMessages);
  }

  /** The last list given to setMyCommands. */
  commands(): BotCommand[] {
    return structuredClone(this.myCommands);
  }

  /** Every answerCallbackQuery, in order. */
  callbackAnswers(): CallbackAnswer[] {
    return structuredClone(this.answers);
  }

  /** Every API call received (after the token check), optionally of one method. */
  calls(method?: string): RecordedCall[] {
    return structuredClone(method ? this.recorded.filter((c) => c.method === method.toLowerCase()) : this.recorded);
  }

  /** The next `count` calls of `method` fail with `failure` (429 carries parameters.retry_after). */
  failNext(method: string, count: number, failure: InjectedFailure): void {
    this.failures.set(
      method.toLowerCase(),
      Array.from({ length: count }, () => failure),
    );
  }

  /** The next calls of `method` fail with these, one each, in order (e.g. 404 then 400); later calls succeed. */
  failInTurn(method: string, ...failures: InjectedFailure[]): void {
    this.failures.set(method.toLowerCase(), [...failures]);
  }

  /** Sets a webhook, which makes getUpdates answer 409 until deleteWebhook. */
  setWebhook(url: string): void {
    this.webhookUrl = url;
  }

  /** Stops listening and drops every open connection: clients get ECONNREFUSED/ECONNRESET. */
  async down(): Promise<void> {
    if (this.isDown) return;
    this.isDown = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.poller = undefined;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (!this.isDown) return;
    await this.listen(this.port);
    this.isDown = false;
  }

  /** Stops the fake for good. */
  async close(): Promise<void> {
    if (this.isDown) return;
    this.isDown = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!match) return writeError(res, new ApiError(404, 'Not Found'));
    if (match[1] !== this.token) return writeError(res, new ApiError(401, 'Unauthorized'));
    const method = match[2]!.toLowerCase();
    let params: Record<string, unknown>;
    try {
      params = await readParams(req, url);
    } catch (err) {
      return writeError(res, err instanceof ApiError ? err : new ApiError(400, `Bad Request: ${String(err)}`));
    }
    this.recorded.push({ method, params: structuredClone(params) });
    recordReceived('telegram', { method, params });
    const injected = this.failures.get(method)?.shift();
    if (injected) return writeError(res, failureError(injected));
    try {
      if (method === 'getupdates') return this.getUpdates(params, res);
      writeJson(res, 200, { ok: true, result: this.call(method, params) });
    } catch (err) {
      if (err instanceof ApiError) return writeError(res, err);
      throw err;
    }
  }

  private call(method: string, params: Record<string, unknown>): unknown {
    switch (method) {
      case 'getme':
        return this.bot;
      case 'deletewebhook':
        this.webhookUrl = '';
        if (params['drop_pending_updates'] === true) this.queue = [];
        return true;
      case 'getwebhookinfo':
        return { url: this.webhookUrl, has_custom_certificate: false, pending_update_count: this.queue.length };
      case 'sendmessage':
        return this.sendMessage(params);
      case 'setmycommands':
        return this.setMyCommands(params);
      case 'getmycommands':
        return this.myCommands;
      case 'answercallbackquery':
        return this.answerCallbackQuery(params);
      case 'editmessagereplymarkup':
        return this.editMessageReplyMarkup(params);
      default:
        throw new ApiError(404, 'Not Found');
    }
  }

  private getUpdates(params: Record<string, unknown>, res: ServerResponse): void {
    if (this.webhookUrl)
      throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    const offset = optionalInt(params['offset'], 'offset');
    const limit = Math.min(100, Math.max(1, optionalInt(params['limit'], 'limit') ?? 100));
    const timeoutSeconds = Math.max(0, optionalInt(params['timeout'], 'timeout') ?? 0);
    if (Array.isArray(params['allowed_updates'])) this.allowedUpdates = params['allowed_updates'].map(String);
    if (offset !== undefined) {
      // A positive offset confirms (forgets) every update below it; a negative one keeps the last -offset.
      this.queue = offset >= 0 ? this.queue.filter((u) => u.update_id >= offset) : this.queue.slice(offset);
    }
    // Telegram lets only one long poll live: the newer call terminates the older one.
    this.poller?.terminate();
    this.poller = undefined;

    let answered = false;
    // Assigned once the poll has to wait; finish() may run before that and must see `undefined`, not a TDZ error.
    // eslint-disable-next-line prefer-const
    let timer: NodeJS.Timeout | undefined;
    const finish = (status: number, body: unknown): void => {
      if (answered) return;
      answered = true;
      if (timer) clearTimeout(timer);
      if (this.poller === poller) this.poller = undefined;
      if (!res.destroyed) writeJson(res, status, body);
    };
    const poller: Poller = {
      wake: () => {
        const ready = this.ready(limit);
        if (ready.length > 0) finish(200, { ok: true, result: ready });
      },
      terminate: () =>
        finish(409, {
          ok: false,
          error_code: 409,
          description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
        }),
    };
    const ready = this.ready(limit);
    if (ready.length > 0 || timeoutSeconds === 0) return finish(200, { ok: true, result: ready });
    this.poller = poller;
    timer = setTimeout(() => finish(200, { ok: true, result: this.ready(limit) }), timeoutSeconds * 1000);
    // A client that gives up (abort, stop) frees the slot at once.
    res.on('close', () => {
      answered = true;
      if (timer) clearTimeout(timer);
      if (this.poller === poller) this.poller = undefined;
    });
  }

  /** What a getUpdates answers now: redeliveries first, then unconfirmed updates of allowed types. */
  private ready(limit: number): Update[] {
    const allowed = (u: Update): boolean => this.allowedUpdates.length === 0 || this.allowedUpdates.includes(updateType(u));
    const redelivered = this.redeliveries.splice(0, limit);
    return [...redelivered, ...this.queue.filter(allowed).slice(0, limit - redelivered.length)].map((u) => structuredClone(u));
  }

  private sendMessage(params: Record<string, unknown>): Message {
    const chat = this.knownChat(params['chat_id']);
    const raw = typeof params['text'] === 'string' ? params['text'] : '';
    let text = raw;
    let entities: Message['entities'];
    if (params['parse_mode'] === 'HTML') {
      const parsed = parseTelegramHtml(raw);
      if (!parsed.ok) throw new ApiError(400, parsed.description);
      text = parsed.text;
      if (parsed.entities.length > 0) entities = parsed.entities;
    } else if (params['parse_mode'] !== undefined) {
      throw new ApiError(400, `Bad Request: the fake only implements parse_mode HTML, got ${JSON.stringify(params['parse_mode'])}`);
    }
    if (text.trim() === '') throw new ApiError(400, 'Bad Request: message text is empty');
    if (text.length > MAX_TEXT) throw new ApiError(400, 'Bad Request: message is too long');
    const message: Message = { message_id: 0, from: this.bot, chat, date: nowSeconds(), text };
    if (entities) message.entities = entities;
    const reply = replyTarget(params);
    if (reply) {
      const original = this.messages.get(chat.id)?.get(reply.messageId);
      if (original) {
        message.reply_to_message = shallowCopy(original);
      } else if (!reply.allowWithout) {
        throw new ApiError(400, 'Bad Request: message to be replied not found');
      }
    }
    const markup = inlineKeyboard(params['reply_markup']);
    if (markup) message.reply_markup = markup;
    message.message_id = this.allocateMessageId(chat.id);
    this.store(message);
    this.botMessages.push(message);
    return message;
  }

  private setMyCommands(params: Record<string, unknown>): true {
    const list = params['commands'];
    if (!Array.isArray(list)) throw new ApiError(400, 'Bad Request: parameter "commands" is required');
    if (list.length > 100) throw new ApiError(400, 'Bad Request: too many commands');
    const commands: BotCommand[] = list.map((entry: unknown) => {
      const command = isRecord(entry) ? entry['command'] : undefined;
      const description = isRecord(entry) ? entry['description'] : undefined;
      if (typeof command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(command)) throw new ApiError(400, 'Bad Request: BOT_COMMAND_INVALID');
      if (typeof description !== 'string' || description.length < 1 || description.length > 256)
        throw new ApiError(400, 'Bad Request: BOT_COMMAND_DESCRIPTION_INVALID');
      return { command, description };
    });
    this.myCommands = commands;
    return true;
  }

  private answerCallbackQuery(params: Record<string, unknown>): true {
    const id = typeof params['callback_query_id'] === 'string' ? params['callback_query_id'] : '';
    const query = this.callbackQueries.get(id);
    if (!query || query.answered) throw new ApiError(400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
    const text = typeof params['text'] === 'string' ? params['text'] : undefined;
    if (text !== undefined && text.length > 200) throw new ApiError(400, 'Bad Request: MESSAGE_TOO_LONG');
    query.answered = true;
    const answer: CallbackAnswer = { callbackQueryId: id, updateId: query.updateId };
    if (text !== undefined) answer.text = text;
    if (params['show_alert'] === true) answer.showAlert = true;
    this.answers.push(answer);
    return true;
  }

  private editMessageReplyMarkup(params: Record<string, unknown>): Message {
    if (params['inline_message_id'] !== undefined) throw new ApiError(400, 'Bad Request: the fake does not implement inline messages');
    const chat = this.knownChat(params['chat_id']);
    const messageId = optionalInt(params['message_id'], 'message_id');
    const message = messageId === undefined ? undefined : this.messages.get(chat.id)?.get(messageId);
    if (!message) throw new ApiError(400, 'Bad Request: message to edit not found');
    if (message.from?.id !== this.bot.id) throw new ApiError(400, "Bad Request: message can't be edited");
    const markup = inlineKeyboard(params['reply_markup']);
    if (JSON.stringify(markup) === JSON.stringify(message.reply_markup)) {
      throw new ApiError(
        400,
        'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
      );
    }
    if (markup) message.reply_markup = markup;
    else delete message.reply_markup;
    message.edit_date = nowSeconds();
    return message;
  }

  private enqueue(content: Omit<Update, 'update_id'>): number {
    const update: Update = { update_id: this.nextUpdateId++, ...content };
    this.queue.push(update);
    this.everyUpdate.set(update.update_id, update);
    this.poller?.wake();
    return update.update_id;
  }

  private ensureChat(chatId: number, from?: { fromId: number; fromName?: string; username?: string }): ChatWithoutChannels {
    const existing = this.chats.get(chatId);
    if (existing) return existing;
    const chat: ChatWithoutChannels =
      chatId > 0
        ? { id: chatId, type: 'private', first_name: from?.fromName ?? `User${chatId}`, ...(from?.username ? { username: from.username } : {}) }
        : { id: chatId, type: 'supergroup', title: `Group ${chatId}` };
    this.chats.set(chatId, chat);
    return chat;
  }

  private knownChat(value: unknown): Chat {
    const id = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : undefined;
    const chat = id === undefined ? undefined : this.chats.get(id);
    if (!chat) throw new ApiError(400, 'Bad Request: chat not found');
    return chat;
  }

  private allocateMessageId(chatId: number): number {
    const id = this.nextMessageId.get(chatId) ?? 1;
    this.nextMessageId.set(chatId, id + 1);
    return id;
  }

  private store(message: Message): void {
    let inChat = this.messages.get(message.chat.id);
    if (!inChat) this.messages.set(message.chat.id, (inChat = new Map<number, Message>()));
    inChat.set(message.message_id, message);
  }
}

function userFor(id: number, name?: string, username?: string): User {
  return { id, is_bot: false, first_name: name ?? `User${id}`, ...(username ? { username } : {}), language_code: 'en' };
}

/** A replied-to message as Telegram nests it: one level deep, without its own reply. */
function shallowCopy(original: Message): NonNullable<Message['reply_to_message']> {
  const { reply_to_message: _nested, ...rest } = structuredClone(original);
  // grammY types "no nested reply" as `reply_to_message: undefined`, which exactOptionalPropertyTypes cannot build; on the wire the field is absent.
  return rest as NonNullable<Message['reply_to_message']>;
}

function updateType(update: Update): string {
  return Object.keys(update).find((key) => key !== 'update_id') ?? '';
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalInt(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new ApiError(400, `Bad Request: field "${name}" must be an integer`);
  return n;
}

function replyTarget(params: Record<string, unknown>): { messageId: number; allowWithout: boolean } | undefined {
  const parameters = params['reply_parameters'];
  if (isRecord(parameters)) {
    const messageId = optionalInt(parameters['message_id'], 'reply_parameters.message_id');
    if (messageId !== undefined) return { messageId, allowWithout: parameters['allow_sending_without_reply'] === true };
  }
  const legacy = optionalInt(params['reply_to_message_id'], 'reply_to_message_id');
  return legacy === undefined ? undefined : { messageId: legacy, allowWithout: params['allow_sending_without_reply'] === true };
}

/** The inline keyboard of `reply_markup`, or undefined for none/empty (Telegram drops an empty one). */
function inlineKeyboard(value: unknown): InlineKeyboardMarkup | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value) || !Array.isArray(value['inline_keyboard'])) throw new ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object");
  const rows: InlineKeyboardMarkup['inline_keyboard'] = [];
  for (const row of value['inline_keyboard']) {
    if (!Array.isArray(row)) throw new ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array of Arrays');
    const buttons: InlineKeyboardMarkup['inline_keyboard'][number] = [];
    for (const button of row) {
      if (!isRecord(button) || typeof button['text'] !== 'string')
        throw new ApiError(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
      const data = button['callback_data'];
      if (typeof data === 'string') {
        const bytes = Buffer.byteLength(data);
        if (bytes < 1 || bytes > 64) throw new ApiError(400, 'Bad Request: BUTTON_DATA_INVALID');
        buttons.push({ text: button['text'], callback_data: data });
      } else if (typeof button['url'] === 'string') {
        buttons.push({ text: button['text'], url: button['url'] });
      } else {
        throw new ApiError(400, "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must have exactly one of the optional fields");
      }
    }
    if (buttons.length > 0) rows.push(buttons);
  }
  return rows.length > 0 ? { inline_keyboard: rows } : undefined;
}

function failureError(failure: InjectedFailure): ApiError {
  if (failure.status === 429 && 'retryAfter' in failure)
    return new ApiError(429, `Too Many Requests: retry after ${failure.retryAfter}`, { retry_after: failure.retryAfter });
  if (failure.status === 401) return new ApiError(401, 'Unauthorized');
  const description =
    'description' in failure && failure.description
      ? failure.description
      : failure.status === 403
        ? 'Forbidden: bot was blocked by the user'
        : failure.status >= 500
          ? 'Bad Gateway'
          : 'Bad Request';
  return new ApiError(failure.status, description);
}

async function readParams(req: IncomingMessage, url: URL): Promise<Record<string, unknown>> {
  const params: Record<string, unknown> = {};
  // Telegram takes JSON-serialised objects in string fields (query string, url-encoded forms).
  const fromPairs = (pairs: URLSearchParams): void => {
    for (const [key, value] of pairs) params[key] = jsonOrString(value);
  };
  fromPairs(url.searchParams);
  if (req.method !== 'POST') return params;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  if (body === '') return params;
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/json')) {
    const parsed: unknown = JSON.parse(body);
    if (!isRecord(parsed)) throw new ApiError(400, 'Bad Request: the request body must be a JSON object');
    Object.assign(params, parsed);
  } else if (type.startsWith('application/x-www-form-urlencoded')) {
    fromPairs(new URLSearchParams(body));
  } else {
    throw new ApiError(400, `Bad Request: the fake does not read ${type || 'untyped'} bodies`);
  }
  return params;
}

function jsonOrString(value: string): unknown {
  if (!/^[[{]|^-?\d+$|^(true|false)$/.test(value)) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    // Not JSON after all: Telegram reads it as a plain string.
    return value;
  }
}

function writeError(res: ServerResponse, err: ApiError): void {
  writeJson(res, err.status, { ok: false, error_code: err.status, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}) });
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
