// A local Discord for tests: the REST API (/api/v10) and the gateway
// (WebSocket, JSON encoding, no compression) on one 127.0.0.1 port, spoken
// the way Discord's public docs describe them, so the real discord.js client
// can log in, receive interactions, answer them and post messages.
//
// Implemented: GET /gateway/bot, GET /gateway, GET /users/@me, PUT/GET guild
// commands (validated), GET /channels/{id}, POST/PATCH channel messages
// (validated: limits, empty message, buttons), interaction callbacks (types
// 4, 5, 6, 7; 3-second first-response deadline; single acknowledgement),
// the interaction webhook (@original PATCH/GET/DELETE, follow-ups),
// a channel message's `nonce` with `enforce_nonce` (the same nonce again
// within the window returns the earlier message and creates none),
// `Authorization: Bot <token>` on every bot route, X-RateLimit headers, 429
// with retry_after. Gateway: HELLO, heartbeat ACK, IDENTIFY → READY +
// GUILD_CREATE (privileged intents refused with 4014, bad token 4004),
// RESUME → replay + RESUMED (unknown session → op 9), GUILD_ROLE_CREATE and
// INTERACTION_CREATE dispatches.
// Not implemented: zlib/etf encodings, sharding, presences, members
// intents, threads, attachments/multipart, select menus and modals,
// permissions, global (non-guild) commands, per-route buckets beyond the
// headers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { InteractionType, type APIApplicationCommand, type APIInteraction, type APIMessage, type APIRole, type APITextChannel, type APIUser } from 'discord.js';
import {
  buttonInteraction,
  guildCreate,
  interactionMember,
  member,
  message,
  ready,
  role,
  slashCommandInteraction,
  snowflake,
  textChannel,
  user,
} from './payloads.js';
import { recordReceived } from '../artefacts.js';
import { checkCommandList, checkMessageBody, formErrorBody } from './validate.js';

/** How long an enforced nonce returns the message it created (Discord: "the past few minutes"). */
const NONCE_WINDOW_MS = 5 * 60_000;

export interface FakeDiscordOptions {
  token: string;
  applicationId: string;
  guildId: string;
  channelId: string;
  /** Roles the guild starts with (besides @everyone). */
  roles?: ReadonlyArray<{ id: string; name: string }>;
  /** HELLO's heartbeat_interval (Discord: 41250 ms). */
  heartbeatIntervalMs?: number;
  /** How long an interaction accepts its first response (Discord: 3 s). */
  interactionDeadlineMs?: number;
}

/** A failure to inject on the next matching REST requests. */
export type InjectedFailure = { status: 429; retryAfter: number; global?: boolean } | { status: 401 | 403 | 404 | 500 | 502 | 503 };

/** One interaction response (POST /interactions/{id}/{token}/callback). */
export interface RecordedCallback {
  interactionId: string;
  /** 4 reply, 5 deferred reply, 6 deferred update, 7 update message. */
  type: number;
  data: Record<string, unknown> | undefined;
  /** Milliseconds between the INTERACTION_CREATE dispatch and this callback. */
  elapsedMs: number;
  status: number;
}

/** One call on an interaction's webhook (edit/delete @original, follow-up). */
export interface RecordedWebhookCall {
  interactionId: string;
  method: string;
  /** "@original", a follow-up message id, or "" for a new follow-up. */
  target: string;
  body: Record<string, unknown> | undefined;
  at: number;
}

/** One REST request as the fake saw it. */
export interface RecordedRequest {
  method: string;
  /** Path after /api/v10. */
  path: string;
  status: number;
  at: number;
  body: unknown;
}

export interface GatewayStats {
  connections: number;
  identifies: number;
  resumes: number;
  heartbeats: number;
  invalidSessions: number;
  /** Intents of each IDENTIFY. */
  intents: number[];
  /** Paths the client connected to (the gateway URL, then resume_gateway_url). */
  paths: string[];
}

interface StoredMessage {
  message: APIMessage;
  origin: 'channel' | 'interaction' | 'followup';
  ephemeral: boolean;
  deleted: boolean;
}

interface InteractionRecord {
  payload: APIInteraction;
  dispatchedAt: number;
  responseType?: number;
  /** The message "@original" designates once the interaction is acknowledged. */
  originalId?: string;
}

interface Session {
  id: string;
  seq: number;
  backlog: Array<{ s: number; payload: string }>;
  connection?: WebSocket | undefined;
}

type Json = Record<string, unknown>;

const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15); // GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT
const EPHEMERAL = 1 << 6;
const LOADING = 1 << 7;
const BACKLOG_LIMIT = 500;

const errors = {
  unauthorized: { message: '401: Unauthorized', code: 0 },
  missingAccess: { message: 'Missing Access', code: 50001 },
  notFound: { message: '404: Not Found', code: 0 },
  unknownChannel: { message: 'Unknown Channel', code: 10003 },
  unknownMessage: { message: 'Unknown Message', code: 10008 },
  unknownWebhook: { message: 'Unknown Webhook', code: 10015 },
  unknownInteraction: { message: 'Unknown interaction', code: 10062 },
  alreadyAcknowledged: { message: 'Interaction has already been acknowledged.', code: 40060 },
  emptyMessage: { message: 'Cannot send an empty message', code: 50006 },
  serverError: { message: '500: Internal Server Error', code: 0 },
};

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

/** A fake Discord (REST + gateway) with a control API for tests. */
export class FakeDiscord {
  private readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private port = 0;
  private isDown = false;
  private readonly bot: APIUser;
  private readonly roles: APIRole[];
  private readonly channel: APITextChannel;
  private readonly joinedAt = new Date().toISOString();
  private readonly users = new Map<string, APIUser>();
  private readonly commands = new Map<string, APIApplicationCommand>();
  private readonly stored = new Map<string, StoredMessage>();
  private readonly interactions = new Map<string, InteractionRecord>();
  /** Enforced nonces of channel messages: the message each created, and when. */
  private readonly nonces = new Map<string, { messageId: string; at: number }>();
  private readonly sessions = new Map<string, Session>();
  private liveSession: Session | undefined;
  private readonly failures: Array<{ route: string; remaining: number; failure: InjectedFailure }> = [];
  private readonly swallowed: Array<{ route: string; remaining: number }> = [];
  private readonly callbackLog: RecordedCallback[] = [];
  private readonly webhookLog: RecordedWebhookCall[] = [];
  private readonly requestLog: RecordedRequest[] = [];
  private readonly stats: GatewayStats = { connections: 0, identifies: 0, resumes: 0, heartbeats: 0, invalidSessions: 0, intents: [], paths: [] };

  private constructor(private readonly options: FakeDiscordOptions) {
    this.bot = user(snowflake(), 'nightshift', true);
    this.roles = [role(options.guildId, '@everyone', 0), ...(options.roles ?? []).map((r, i) => role(r.id, r.name, i + 1))];
    this.channel = textChannel(options.channelId, options.guildId, 'ops');
    this.http = createServer((req, res) => void this.onRequest(req, res));
    this.http.on('upgrade', (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      if (path !== '/gateway' && path !== '/gateway-resume') {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onGatewayConnection(ws, path));
    });
  }

  /** Starts the fake on 127.0.0.1, port 0. */
  static async start(options: FakeDiscordOptions): Promise<FakeDiscord> {
    const fake = new FakeDiscord(options);
    await fake.listen(0);
    return fake;
  }

  /** REST base for discord.js's `rest.api` option. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get botUser(): APIUser {
    return this.bot;
  }

  // ---------------------------------------------------------------- control API

  /** Dispatches a slash command INTERACTION_CREATE (the command must be registered); returns the interaction id. */
  sendSlashCommand(input: { name: string; options?: Record<string, string>; userId: string; username?: string; roleIds?: readonly string[] }): string {
    const command = this.commands.get(input.name);
    if (!command) throw new Error(`fake discord: /${input.name} is not registered (registered: ${[...this.commands.keys()].join(', ') || 'none'})`);
    const known = new Set((command.options ?? []).map((o) => o.name));
    const options = Object.entries(input.options ?? {}).map(([name, value]) => {
      if (!known.has(name)) throw new Error(`fake discord: /${input.name} has no option "${name}"`);
      return { name, value };
    });
    const base = this.interactionBase(input);
    return this.dispatchInteraction(slashCommandInteraction(base, command, options));
  }

  /** Dispatches a button press on a stored message (the button must still be on it); returns the interaction id. */
  clickButton(input: { customId: string; messageId: string; userId: string; username?: string; roleIds?: readonly string[] }): string {
    const stored = this.stored.get(input.messageId);
    if (!stored || stored.deleted) throw new Error(`fake discord: no message ${input.messageId}`);
    const buttons = (stored.message.components ?? []).flatMap((row) => ('components' in row ? (row.components as unknown[]) : []));
    if (!buttons.some((b) => (b as { custom_id?: string }).custom_id === input.customId)) {
      throw new Error(`fake discord: message ${input.messageId} has no button ${input.customId}`);
    }
    const base = this.interactionBase(input);
    return this.dispatchInteraction(buttonInteraction(base, input.customId, structuredClone(stored.message)));
  }

  /**
   * Dispatches a press of `customId` on a copy of `message`, a button it need
   * not carry: a forged or stale payload; returns the interaction id.
   */
  forgeButtonPress(input: { customId: string; message: APIMessage; userId: string; username?: string; roleIds?: readonly string[] }): string {
    return this.dispatchInteraction(buttonInteraction(this.interactionBase(input), input.customId, structuredClone(input.message)));
  }

  /** Dispatches an interaction already sent once, as the gateway may after a RESUME. */
  redeliver(interactionId: string): void {
    const record = this.interactions.get(interactionId);
    if (!record) throw new Error(`fake discord: no interaction ${interactionId}`);
    this.dispatch('INTERACTION_CREATE', record.payload);
  }

  /** Interaction responses, in arrival order (including refused ones, with their status). */
  callbacks(interactionId?: string): RecordedCallback[] {
    return this.callbackLog.filter((c) => !interactionId || c.interactionId === interactionId);
  }

  /** Calls on interaction webhooks (edits of @original, follow-ups, deletes). */
  webhookCalls(interactionId?: string): RecordedWebhookCall[] {
    return this.webhookLog.filter((c) => !interactionId || c.interactionId === interactionId);
  }

  /** The current state of an interaction's @original message (its reply, or the message its button is on). */
  original(interactionId: string): APIMessage | undefined {
    const id = this.interactions.get(interactionId)?.originalId;
    const stored = id ? this.stored.get(id) : undefined;
    return stored && !stored.deleted ? structuredClone(stored.message) : undefined;
  }

  /** Follow-up messages of an interaction, with whether each is ephemeral. */
  followUps(interactionId: string): Array<{ message: APIMessage; ephemeral: boolean }> {
    return [...this.stored.values()]
      .filter((s) => s.origin === 'followup' && s.message.interaction_metadata?.id === interactionId && !s.deleted)
      .map((s) => ({ message: structuredClone(s.message), ephemeral: s.ephemeral }));
  }

  /** Messages posted to channels through REST, in their current state. */
  messages(): APIMessage[] {
    return [...this.stored.values()].filter((s) => s.origin === 'channel' && !s.deleted).map((s) => structuredClone(s.message));
  }

  /** The guild's slash commands as last bulk-overwritten. */
  registeredCommands(): APIApplicationCommand[] {
    return [...this.commands.values()].map((c) => structuredClone(c));
  }

  /** Every REST request, in arrival order. */
  requests(): RecordedRequest[] {
    return [...this.requestLog];
  }

  gatewayStats(): GatewayStats {
    return structuredClone(this.stats);
  }

  /**
   * Makes the next `count` requests to `route` ("POST /channels/123/messages",
   * path after /api/v10; a trailing "*" matches a prefix) fail with `failure`.
   */
  failNext(route: string, count: number, failure: InjectedFailure): void {
    this.failures.push({ route, remaining: count, failure });
  }

  /**
   * Makes the next `count` requests to `route` (as failNext names it) do
   * their work and never answer: the answer lost on the way back, or a
   * sender that died waiting for it. close() ends those connections.
   */
  swallowAnswers(route: string, count: number): void {
    this.swallowed.push({ route, remaining: count });
  }

  /** Refuses connections (REST and gateway) and drops the open ones. */
  async down(): Promise<void> {
    if (this.isDown) return;
    this.isDown = true;
    for (const client of this.wss.clients) client.terminate();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (!this.isDown) return;
    await this.listen(this.port);
    this.isDown = false;
  }

  /** Closes the bot's gateway connection with `code` (4000 = unknown error: clients resume). */
  closeGateway(code = 4000): void {
    this.liveSession?.connection?.close(code, 'closed by the test');
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    if (this.isDown) return;
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await closed;
  }

  // ---------------------------------------------------------------- gateway

  private onGatewayConnection(ws: WebSocket, path: string): void {
    this.stats.connections++;
    this.stats.paths.push(path);
    let session: Session | undefined;
    const send = (payload: unknown) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(payload));
    send({ op: 10, d: { heartbeat_interval: this.options.heartbeatIntervalMs ?? 41_250 }, s: null, t: null });
    ws.on('message', (raw: RawData) => {
      let frame: { op?: number; d?: Json | number | null };
      try {
        frame = JSON.parse(textOf(raw)) as typeof frame;
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      const d = typeof frame.d === 'object' && frame.d !== null ? frame.d : {};
      switch (frame.op) {
        case 1:
          this.stats.heartbeats++;
          send({ op: 11, d: null, s: null, t: null });
          return;
        case 2: {
          if (session) return void ws.close(4005, 'Already authenticated.');
          if (d.token !== this.options.token) return void ws.close(4004, 'Authentication failed.');
          const intents = Number(d.intents);
          this.stats.intents.push(intents);
          if (!Number.isInteger(intents)) return void ws.close(4013, 'Invalid intent(s).');
          if (intents & PRIVILEGED_INTENTS) return void ws.close(4014, 'Disallowed intent(s).');
          this.stats.identifies++;
          session = { id: randomBytes(16).toString('hex'), seq: 0, backlog: [], connection: ws };
          this.sessions.set(session.id, session);
          this.liveSession = session;
          const resumeUrl = `ws://127.0.0.1:${this.port}/gateway-resume`;
          this.dispatch('READY', ready(this.bot, this.options.applicationId, [this.options.guildId], session.id, resumeUrl));
          this.dispatch('GUILD_CREATE', this.guildPayload());
          return;
        }
        case 6: {
          if (session) return void ws.close(4005, 'Already authenticated.');
          const resumed = this.sessions.get(String(d.session_id));
          if (!resumed || d.token !== this.options.token) {
            this.stats.invalidSessions++;
            send({ op: 9, d: false, s: null, t: null });
            return;
          }
          this.stats.resumes++;
          session = resumed;
          resumed.connection?.terminate();
          resumed.connection = ws;
          this.liveSession = resumed;
          const after = Number(d.seq);
          for (const event of resumed.backlog) if (event.s > after) ws.send(event.payload);
          this.dispatch('RESUMED', {});
          return;
        }
        default:
          if (!session) return void ws.close(4003, 'Not authenticated.');
          ws.close(4001, 'Unknown opcode.');
      }
    });
    ws.on('close', () => {
      if (session?.connection === ws) session.connection = undefined;
    });
  }

  /** Sends a dispatch on the live session, or keeps it in the backlog for a RESUME when the bot is disconnected. */
  private dispatch(t: string, d: unknown): void {
    const session = this.liveSession;
    if (!session) throw new Error('fake discord: no bot has identified on the gateway yet');
    session.seq++;
    const payload = JSON.stringify({ op: 0, t, s: session.seq, d });
    session.backlog.push({ s: session.seq, payload });
    if (session.backlog.length > BACKLOG_LIMIT) session.backlog.shift();
    if (session.connection?.readyState === WebSocket.OPEN) session.connection.send(payload);
  }

  private guildPayload() {
    const members = [member(this.bot, [], this.joinedAt)];
    return guildCreate({
      id: this.options.guildId,
      name: 'Nightshift test guild',
      ownerId: snowflake(),
      roles: this.roles,
      channels: [this.channel],
      members,
      joinedAt: this.joinedAt,
    });
  }

  private interactionBase(input: { userId: string; username?: string; roleIds?: readonly string[] }) {
    for (const roleId of input.roleIds ?? []) {
      if (!this.roles.some((r) => r.id === roleId)) {
        // A member only ever holds roles that exist; a new one is announced first, as Discord does.
        const created = role(roleId, `role-${roleId.slice(-4)}`, this.roles.length);
        this.roles.push(created);
        this.dispatch('GUILD_ROLE_CREATE', { guild_id: this.options.guildId, role: created });
      }
    }
    const who = this.users.get(input.userId) ?? user(input.userId, input.username ?? `user${input.userId.slice(-4)}`);
    this.users.set(input.userId, who);
    return {
      id: snowflake(),
      token: `aW50ZXJhY3Rpb24${randomBytes(24).toString('base64url')}`,
      applicationId: this.options.applicationId,
      guildId: this.options.guildId,
      channel: this.channel,
      member: interactionMember(who, input.roleIds ?? [], this.joinedAt),
    };
  }

  private dispatchInteraction(payload: APIInteraction): string {
    this.interactions.set(payload.id, { payload, dispatchedAt: Date.now() });
    this.dispatch('INTERACTION_CREATE', payload);
    return payload.id;
  }

  // ---------------------------------------------------------------- REST

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    const path = url.pathname.startsWith('/api/v10/') ? url.pathname.slice('/api/v10'.length) : undefined;
    let status: number;
    let body: unknown;
    let parsed: unknown;
    try {
      if (!path) throw new HttpFailure(404, errors.notFound);
      parsed = parseJson(raw, req.headers['content-type']);
      const injected = this.takeFailure(`${method} ${path}`);
      if (injected) throw injected;
      ({ status, body } = this.route(method, path, url.searchParams, req.headers.authorization, parsed));
    } catch (err) {
      if (err instanceof HttpFailure) {
        status = err.status;
        body = err.body;
      } else {
        status = 500;
        body = { ...errors.serverError, detail: String(err) };
      }
    }
    this.requestLog.push({ method, path: path ?? url.pathname, status, at: Date.now(), body: parsed });
    if (raw) recordReceived('discord', raw);
    const swallow = this.swallowed.find((s) => s.remaining > 0 && routeMatches(s.route, `${method} ${path}`));
    if (swallow) {
      swallow.remaining--;
      return;
    }
    const headers = rateLimitHeaders(path ?? '', status === 429 ? (body as { retry_after: number }) : undefined);
    // A 204 carries no body and no content type (a client that sees application/json would try to parse nothing).
    if (status === 204) {
      res.writeHead(204, headers).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  private takeFailure(route: string): HttpFailure | undefined {
    const match = this.failures.find((f) => f.remaining > 0 && routeMatches(f.route, route));
    if (!match) return undefined;
    match.remaining--;
    const failure = match.failure;
    if (failure.status === 429) {
      return new HttpFailure(429, { message: 'You are being rate limited.', retry_after: failure.retryAfter, global: failure.global ?? false });
    }
    const bodies = {
      401: errors.unauthorized,
      403: errors.missingAccess,
      404: errors.notFound,
      500: errors.serverError,
      502: { message: '502: Bad Gateway', code: 0 },
      503: { message: '503: Service Unavailable', code: 0 },
    };
    return new HttpFailure(failure.status, bodies[failure.status]);
  }

  private route(method: string, path: string, query: URLSearchParams, authorization: string | undefined, body: unknown): { status: number; body?: unknown } {
    const parts = path
      .split('/')
      .filter(Boolean)
      .map((p) => decodeURIComponent(p));
    // Interaction callbacks and interaction webhooks are authorised by the interaction token in the URL.
    if (parts[0] === 'interactions' && parts.length === 4 && parts[3] === 'callback' && method === 'POST') {
      return this.interactionCallback(parts[1]!, parts[2]!, body);
    }
    if (parts[0] === 'webhooks' && parts[1] === this.options.applicationId && parts.length >= 3) {
      return this.interactionWebhook(method, parts[2]!, parts.slice(3), body, query);
    }
    if (authorization !== `Bot ${this.options.token}`) throw new HttpFailure(401, errors.unauthorized);
    const key = `${method} ${parts.map((p) => (/^\d{5,}$/.test(p) ? ':id' : p)).join('/')}`;
    switch (key) {
      case 'GET gateway':
      case 'GET gateway/bot':
        return {
          status: 200,
          body: {
            url: `ws://127.0.0.1:${this.port}/gateway`,
            shards: 1,
            session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
          },
        };
      case 'GET users/@me':
        return { status: 200, body: this.bot };
      case 'PUT applications/:id/guilds/:id/commands':
      case 'GET applications/:id/guilds/:id/commands':
        if (parts[1] !== this.options.applicationId) throw new HttpFailure(403, errors.missingAccess);
        if (parts[3] !== this.options.guildId) throw new HttpFailure(403, errors.missingAccess);
        return method === 'PUT' ? this.overwriteCommands(body) : { status: 200, body: this.registeredCommands() };
      case 'GET channels/:id':
        if (parts[1] !== this.options.channelId) throw new HttpFailure(404, errors.unknownChannel);
        return { status: 200, body: this.channel };
      case 'POST channels/:id/messages':
        if (parts[1] !== this.options.channelId) throw new HttpFailure(404, errors.unknownChannel);
        return { status: 200, body: this.createChannelMessage(asObject(body)) };
      case 'PATCH channels/:id/messages/:id': {
        const stored = this.stored.get(parts[3]!);
        if (!stored || stored.deleted || stored.message.channel_id !== parts[1]) throw new HttpFailure(404, errors.unknownMessage);
        return { status: 200, body: this.editMessage(stored, asObject(body)) };
      }
      default:
        throw new HttpFailure(404, errors.notFound);
    }
  }

  private overwriteCommands(body: unknown): { status: number; body: unknown } {
    const problem = checkCommandList(body);
    if (problem) throw new HttpFailure(400, formErrorBody(problem));
    const list = body as Array<{ name: string; description: string; options?: APIApplicationCommand['options'] }>;
    const next = new Map<string, APIApplicationCommand>();
    for (const definition of list) {
      const previous = this.commands.get(definition.name);
      next.set(definition.name, {
        id: previous?.id ?? snowflake(),
        application_id: this.options.applicationId,
        guild_id: this.options.guildId,
        type: 1,
        name: definition.name,
        description: definition.description,
        options: (definition.options ?? []).map((o) => ({
          ...o,
          required: (o as { required?: boolean }).required ?? false,
        })),
        default_member_permissions: null,
        nsfw: false,
        version: snowflake(),
      });
    }
    this.commands.clear();
    for (const [name, command] of next) this.commands.set(name, command);
    return { status: 200, body: this.registeredCommands() };
  }

  /**
   * A bot's channel message. With `enforce_nonce`, a nonce seen within the
   * window answers with the message it created, and nothing new is created
   * (Discord's documented dedup: how a sender retries safely).
   */
  private createChannelMessage(body: Json): APIMessage {
    const nonce = typeof body.nonce === 'string' || typeof body.nonce === 'number' ? String(body.nonce) : undefined;
    if ((body.nonce !== undefined && nonce === undefined) || (nonce !== undefined && [...nonce].length > 25)) {
      throw new HttpFailure(400, formErrorBody({ path: 'nonce', code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 25 or fewer in length.' }));
    }
    const key = body.enforce_nonce === true ? nonce : undefined;
    const earlier = key === undefined ? undefined : this.nonces.get(key);
    const earlierMessage = earlier && Date.now() - earlier.at <= NONCE_WINDOW_MS ? this.stored.get(earlier.messageId) : undefined;
    if (earlierMessage) return structuredClone(earlierMessage.message);
    const created = this.createMessage(this.options.channelId, body, 'channel');
    if (key !== undefined) this.nonces.set(key, { messageId: created.id, at: Date.now() });
    return created;
  }

  private createMessage(channelId: string, body: Json, origin: StoredMessage['origin'], interaction?: InteractionRecord): APIMessage {
    const problem = checkMessageBody(body, true);
    if (problem === 'empty') throw new HttpFailure(400, errors.emptyMessage);
    if (problem) throw new HttpFailure(400, formErrorBody(problem));
    const flags = typeof body.flags === 'number' ? body.flags : 0;
    const created = message({
      id: snowflake(),
      channelId,
      author: this.bot,
      content: typeof body.content === 'string' ? body.content : '',
      embeds: (body.embeds as APIMessage['embeds']) ?? [],
      components: (body.components as APIMessage['components']) ?? [],
      flags,
      ...(typeof body.nonce === 'string' || typeof body.nonce === 'number' ? { nonce: body.nonce } : {}),
      ...(interaction
        ? {
            type: interaction.payload.type === InteractionType.ApplicationCommand ? 20 : 19,
            webhookId: this.options.applicationId,
            applicationId: this.options.applicationId,
          }
        : {}),
    });
    if (interaction) {
      created.interaction_metadata = {
        id: interaction.payload.id,
        type: interaction.payload.type,
        user: (interaction.payload.member?.user ?? interaction.payload.user)!,
        authorizing_integration_owners: interaction.payload.authorizing_integration_owners,
      } as NonNullable<APIMessage['interaction_metadata']>;
    }
    this.stored.set(created.id, { message: created, origin, ephemeral: Boolean(flags & EPHEMERAL), deleted: false });
    if (origin === 'channel') this.channel.last_message_id = created.id;
    return structuredClone(created);
  }

  /** Applies an edit: fields present replace the stored ones, absent fields stay. */
  private editMessage(stored: StoredMessage, body: Json): APIMessage {
    const problem = checkMessageBody(body, false);
    if (problem === 'empty') throw new HttpFailure(400, errors.emptyMessage);
    if (problem) throw new HttpFailure(400, formErrorBody(problem));
    const target = stored.message;
    if ('content' in body) target.content = typeof body.content === 'string' ? body.content : '';
    if ('embeds' in body) target.embeds = (body.embeds as APIMessage['embeds']) ?? [];
    if ('components' in body) target.components = (body.components as APIMessage['components']) ?? [];
    target.flags = (target.flags ?? 0) & ~LOADING;
    target.edited_timestamp = new Date().toISOString();
    return structuredClone(target);
  }

  private interactionCallback(interactionId: string, token: string, body: unknown): { status: number; body?: unknown } {
    const record = this.interactions.get(interactionId);
    const request = asObject(body);
    const type = Number(request.type);
    const data = request.data === undefined ? undefined : asObject(request.data);
    const elapsedMs = record ? Date.now() - record.dispatchedAt : -1;
    const log = (status: number) => this.callbackLog.push({ interactionId, type, data, elapsedMs, status });
    const fail = (status: number, error: unknown): never => {
      log(status);
      throw new HttpFailure(status, error);
    };
    if (!record || record.payload.token !== token) return fail(404, errors.unknownInteraction);
    if (record.responseType !== undefined) return fail(400, errors.alreadyAcknowledged);
    if (elapsedMs > (this.options.interactionDeadlineMs ?? 3000)) return fail(404, errors.unknownInteraction);
    const isComponent = record.payload.type === InteractionType.MessageComponent;
    const channelId = record.payload.channel?.id ?? this.options.channelId;
    try {
      switch (type) {
        case 4:
          record.originalId = this.createMessage(channelId, data ?? {}, 'interaction', record).id;
          break;
        case 5: {
          const flags = LOADING | (Number(data?.flags ?? 0) & EPHEMERAL);
          const placeholder = message({
            id: snowflake(),
            channelId,
            author: this.bot,
            flags,
            type: isComponent ? 19 : 20,
            webhookId: this.options.applicationId,
            applicationId: this.options.applicationId,
          });
          this.stored.set(placeholder.id, { message: placeholder, origin: 'interaction', ephemeral: Boolean(flags & EPHEMERAL), deleted: false });
          record.originalId = placeholder.id;
          break;
        }
        case 6:
        case 7: {
          if (!isComponent || record.payload.type !== InteractionType.MessageComponent)
            return fail(
              400,
              formErrorBody({ path: 'type', code: 'INTERACTION_RESPONSE_TYPE_INVALID', message: 'Interaction response type is invalid for this interaction' }),
            );
          const onMessage = this.stored.get(record.payload.message.id);
          if (!onMessage || onMessage.deleted) return fail(404, errors.unknownMessage);
          if (type === 7) this.editMessage(onMessage, data ?? {});
          record.originalId = onMessage.message.id;
          break;
        }
        default:
          return fail(400, formErrorBody({ path: 'type', code: 'BASE_TYPE_CHOICES', message: 'Value must be one of {4, 5, 6, 7} in this fake.' }));
      }
    } catch (err) {
      if (err instanceof HttpFailure) log(err.status);
      throw err;
    }
    record.responseType = type;
    log(204);
    return { status: 204 };
  }

  private interactionWebhook(method: string, token: string, rest: string[], body: unknown, query: URLSearchParams): { status: number; body?: unknown } {
    const record = [...this.interactions.values()].find((r) => r.payload.token === token);
    if (!record) throw new HttpFailure(404, errors.unknownWebhook);
    const interactionId = record.payload.id;
    const target = rest[1] ?? '';
    this.webhookLog.push({ interactionId, method, target, body: body === undefined ? undefined : asObject(body), at: Date.now() });
    if (record.responseType === undefined) throw new HttpFailure(404, errors.unknownMessage);
    if (rest.length === 0 && method === 'POST') {
      const created = this.createMessage(record.payload.channel?.id ?? this.options.channelId, asObject(body), 'followup', record);
      return query.get('wait') === 'true' ? { status: 200, body: created } : { status: 204 };
    }
    if (rest[0] !== 'messages' || rest.length !== 2) throw new HttpFailure(404, errors.notFound);
    const messageId = target === '@original' ? record.originalId : target;
    const stored = messageId ? this.stored.get(messageId) : undefined;
    if (!stored || stored.deleted) throw new HttpFailure(404, errors.unknownMessage);
    switch (method) {
      case 'GET':
        return { status: 200, body: structuredClone(stored.message) };
      case 'PATCH':
        return { status: 200, body: this.editMessage(stored, asObject(body)) };
      case 'DELETE':
        stored.deleted = true;
        return { status: 204 };
      default:
        throw new HttpFailure(405, { message: '405: Method Not Allowed', code: 0 });
    }
  }
}

/** "POST /channels/123/messages" names itself; a trailing "*" matches a prefix. */
function routeMatches(pattern: string, route: string): boolean {
  return pattern === route || (pattern.endsWith('*') && route.startsWith(pattern.slice(0, -1)));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(raw: string, contentType: string | undefined): unknown {
  if (raw === '') return undefined;
  if (!contentType?.startsWith('application/json')) throw new HttpFailure(400, { message: 'This fake only accepts application/json bodies', code: 50109 });
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new HttpFailure(400, { message: 'The request body contains invalid JSON.', code: 50109 });
  }
}

function asObject(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

/** The bucket headers Discord sends on every response, and the 429 ones (Retry-After rounded up, as Discord does). */
function rateLimitHeaders(path: string, limited: { retry_after: number; global?: boolean } | undefined): Record<string, string> {
  const bucket = Buffer.from(path.replace(/\d{5,}/g, ':id'))
    .toString('hex')
    .slice(0, 32);
  if (!limited) {
    return {
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '4',
      'x-ratelimit-reset': String(Date.now() / 1000 + 1),
      'x-ratelimit-reset-after': '1.000',
      'x-ratelimit-bucket': bucket,
    };
  }
  const headers: Record<string, string> = {
    'retry-after': String(Math.ceil(limited.retry_after)),
    'x-ratelimit-limit': '5',
    'x-ratelimit-remaining': '0',
    'x-ratelimit-reset': String(Date.now() / 1000 + limited.retry_after),
    'x-ratelimit-reset-after': limited.retry_after.toFixed(3),
    'x-ratelimit-bucket': bucket,
    'x-ratelimit-scope': limited.global ? 'global' : 'user',
  };
  if (limited.global) headers['x-ratelimit-global'] = 'true';
  return headers;
}

/** A WebSocket frame's payload as text (ws hands over a Buffer, an ArrayBuffer or fragments). */
function textOf(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.from(new Uint8Array(raw)).toString('utf8');
}
