import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { recordReceived } from '../artefacts.js';

/**
 * A local ntfy server for adapter tests, written from ntfy's public docs
 * (docs.ntfy.sh/publish, /subscribe/api) and its server's error shapes:
 * JSON and header publishing, the `/<topic>/json` NDJSON stream with `open`
 * and `keepalive` events, `since=` (message id, `all`, unix time) and
 * `poll=1`, and Bearer access tokens. A control API lets tests act as the
 * operator's phone and break the server on purpose.
 */

/** An ntfy action button as stored on a message. */
export interface NtfyAction {
  action: 'view' | 'http' | 'broadcast';
  label: string;
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  clear?: boolean;
}

/** A cached ntfy message, in the shape ntfy's JSON stream and publish responses use. */
export interface NtfyMessage {
  id: string;
  time: number;
  expires: number;
  event: 'message';
  topic: string;
  message: string;
  title?: string | undefined;
  priority?: number | undefined;
  tags?: string[] | undefined;
  click?: string | undefined;
  actions?: NtfyAction[] | undefined;
}

/** One request as the fake received it, for assertions on `since=` and headers. */
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
}

export interface FakeNtfyOptions {
  /** When set, every request must carry `Authorization: Bearer <token>` (missing → 401, wrong → 403). */
  token?: string;
  /** How often open streams get a `keepalive` event; ntfy's default is 45 s. */
  keepaliveMs?: number;
  /** When set, every streamed line is written in two halves this many ms apart (a line split across chunks). */
  splitLinesMs?: number;
}

interface Failure {
  status: 429 | 401 | 403 | 500 | 503;
  retryAfterSeconds?: number | undefined;
  on: 'publish' | 'subscribe' | 'any';
}

interface Subscriber {
  topic: string;
  res: ServerResponse;
  keepalive: NodeJS.Timeout;
  /** Serialises writes so split lines never interleave. */
  writes: Promise<void>;
}

const TOPIC_NAME = /^[-_A-Za-z0-9]{1,64}$/;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const CACHE_SECONDS = 12 * 3600;
const PRIORITY_NAMES: Record<string, number> = { min: 1, low: 2, default: 3, high: 4, max: 5, urgent: 5 };

/** ntfy's error body: {"code":40101,"http":401,"error":"unauthorized","link":...}. */
interface NtfyError {
  code: number;
  http: number;
  error: string;
  link?: string;
}

const ERRORS = {
  unauthorized: { code: 40101, http: 401, error: 'unauthorized', link: 'https://ntfy.sh/docs/publish/#authentication' },
  forbidden: { code: 40301, http: 403, error: 'forbidden', link: 'https://ntfy.sh/docs/publish/#authentication' },
  tooManyRequests: { code: 42901, http: 429, error: 'limit reached: too many requests, please be nice', link: 'https://ntfy.sh/docs/publish/#limitations' },
  internal: { code: 50001, http: 500, error: 'internal server error' },
  unavailable: { code: 50301, http: 503, error: 'service unavailable' },
  notFound: { code: 40401, http: 404, error: 'page not found' },
  topicInvalid: { code: 40009, http: 400, error: 'invalid request: topic invalid' },
  priorityInvalid: { code: 40007, http: 400, error: 'invalid priority parameter', link: 'https://ntfy.sh/docs/publish/#message-priority' },
  sinceInvalid: { code: 40008, http: 400, error: 'invalid since parameter', link: 'https://ntfy.sh/docs/subscribe/api/#fetch-cached-messages' },
  jsonInvalid: { code: 40017, http: 400, error: 'invalid request: request body must be message JSON', link: 'https://ntfy.sh/docs/publish/#publish-as-json' },
  actionsInvalid: { code: 40018, http: 400, error: 'invalid request: actions invalid', link: 'https://ntfy.sh/docs/publish/#action-buttons' },
} satisfies Record<string, NtfyError>;

/** ntfy message ids: 12 random alphanumeric characters. */
export function ntfyMessageId(): string {
  let id = '';
  for (let i = 0; i < 12; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** A running fake ntfy server on 127.0.0.1; `url` is its base URL. Call close() when done. */
export class FakeNtfyServer {
  /** Messages in publish order across all topics; the index is ntfy's row id, which `since=<id>` compares. */
  private readonly cache: NtfyMessage[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly sockets = new Set<Socket>();
  private readonly log: LoggedRequest[] = [];
  private readonly failures: Array<Failure & { remaining: number }> = [];
  private server: Server;
  private port = 0;
  private isUp = false;

  private constructor(private readonly options: FakeNtfyOptions) {
    this.server = this.createHttpServer();
  }

  /** Starts a fake on an ephemeral port. */
  static async start(options: FakeNtfyOptions = {}): Promise<FakeNtfyServer> {
    const fake = new FakeNtfyServer(options);
    await fake.listen(0);
    return fake;
  }

  /** Base URL, e.g. http://127.0.0.1:41234 (stable across down()/up()). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Publishes `text` to `topic` as the operator's phone would; returns the new message id. */
  publishAsUser(topic: string, text: string): string {
    return this.store({ topic, message: text }).id;
  }

  /** Messages cached for `topic`, oldest first. */
  messages(topic: string): NtfyMessage[] {
    return this.cache.filter((m) => m.topic === topic);
  }

  /** Open JSON streams on `topic` (or on any topic). */
  subscriberCount(topic?: string): number {
    return [...this.subscribers].filter((s) => topic === undefined || s.topic === topic).length;
  }

  /** Destroys every open stream mid-flight, as a proxy restart or a network blip would. */
  dropSubscribers(): void {
    for (const subscriber of [...this.subscribers]) {
      this.unsubscribe(subscriber);
      subscriber.res.destroy();
    }
  }

  /** Makes the next `count` matching requests fail with `status` (ntfy's JSON error body, Retry-After when given). */
  failNext(count: number, failure: { status: Failure['status']; retryAfterSeconds?: number; on?: Failure['on'] }): void {
    this.failures.push({ status: failure.status, retryAfterSeconds: failure.retryAfterSeconds, on: failure.on ?? 'any', remaining: count });
  }

  /** Stops listening and drops every connection: clients now get ECONNREFUSED. The cache survives. */
  async down(): Promise<void> {
    if (!this.isUp) return;
    this.isUp = false;
    this.dropSubscribers();
    const closed = once(this.server, 'close');
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (this.isUp) return;
    this.server = this.createHttpServer();
    await this.listen(this.port);
  }

  /** Every request received so far, oldest first. */
  requests(): LoggedRequest[] {
    return [...this.log];
  }

  /** Subscribe requests (`GET /<topic>/json`) received so far. */
  subscribeRequests(topic?: string): LoggedRequest[] {
    return this.log.filter((r) => r.method === 'GET' && (topic === undefined ? r.path.endsWith('/json') : r.path === `/${topic}/json`));
  }

  async close(): Promise<void> {
    await this.down();
  }

  private createHttpServer(): Server {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // A handler bug must show up in the test as a 500, not as a hung request.
        if (!res.headersSent) this.sendError(res, { ...ERRORS.internal, error: `fake ntfy: ${String(err)}` });
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private async listen(port: number): Promise<void> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
    this.isUp = true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-ntfy');
    const method = req.method ?? 'GET';
    this.log.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { ...req.headers } });
    const body = method === 'GET' ? '' : await readBody(req);
    if (body) recordReceived('ntfy', body);

    const authError = this.checkAuth(req);
    if (authError) return this.sendError(res, authError);

    const subscribeMatch = /^\/([^/]+)\/json$/.exec(url.pathname);
    const isSubscribe = method === 'GET' && subscribeMatch !== null;
    const isPublish = method === 'POST' || method === 'PUT';
    const failure = this.takeFailure(isSubscribe ? 'subscribe' : isPublish ? 'publish' : 'any');
    if (failure) return this.sendFailure(res, failure);

    if (isSubscribe) return this.subscribe(decodeURIComponent(subscribeMatch[1]!), url.searchParams, res);
    if (isPublish && url.pathname === '/') return this.publishJson(body, res);
    const topicMatch = /^\/([^/]+)$/.exec(url.pathname);
    if (isPublish && topicMatch) return this.publishWithHeaders(decodeURIComponent(topicMatch[1]!), body, req.headers, res);
    this.sendError(res, ERRORS.notFound);
  }

  private checkAuth(req: IncomingMessage): NtfyError | undefined {
    if (this.options.token === undefined) return undefined;
    const header = req.headers.authorization;
    if (!header) return ERRORS.unauthorized;
    return header === `Bearer ${this.options.token}` ? undefined : ERRORS.forbidden;
  }

  private takeFailure(kind: 'publish' | 'subscribe' | 'any'): Failure | undefined {
    const index = this.failures.findIndex((f) => f.on === 'any' || f.on === kind);
    if (index < 0) return undefined;
    const failure = this.failures[index]!;
    failure.remaining -= 1;
    if (failure.remaining <= 0) this.failures.splice(index, 1);
    return failure;
  }

  private sendFailure(res: ServerResponse, failure: Failure): void {
    const error =
      failure.status === 429
        ? ERRORS.tooManyRequests
        : failure.status === 401
          ? ERRORS.unauthorized
          : failure.status === 403
            ? ERRORS.forbidden
            : failure.status === 503
              ? ERRORS.unavailable
              : ERRORS.internal;
    const headers: Record<string, string> = failure.retryAfterSeconds !== undefined ? { 'retry-after': String(failure.retryAfterSeconds) } : {};
    this.sendError(res, error, headers);
  }

  private sendError(res: ServerResponse, error: NtfyError, headers: Record<string, string> = {}): void {
    res.writeHead(error.http, { 'content-type': 'application/json', ...headers });
    res.end(`${JSON.stringify(error)}\n`);
  }

  private publishJson(body: string, res: ServerResponse): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      // ntfy answers a body that is not JSON with 40017, exactly like this.
      return this.sendError(res, ERRORS.jsonInvalid);
    }
    if (!isRecord(parsed) || typeof parsed.topic !== 'string') return this.sendError(res, ERRORS.jsonInvalid);
    if (!TOPIC_NAME.test(parsed.topic)) return this.sendError(res, ERRORS.topicInvalid);
    const priority = parsed.priority === undefined ? undefined : Number(parsed.priority);
    if (priority !== undefined && !(Number.isInteger(priority) && priority >= 1 && priority <= 5)) return this.sendError(res, ERRORS.priorityInvalid);
    const actions = parsed.actions === undefined ? undefined : validActions(parsed.actions);
    if (actions === null) return this.sendError(res, ERRORS.actionsInvalid);
    const message = this.store({
      topic: parsed.topic,
      message: typeof parsed.message === 'string' ? parsed.message : '',
      title: typeof parsed.title === 'string' ? parsed.title : undefined,
      priority,
      tags: Array.isArray(parsed.tags) ? parsed.tags.map(String) : undefined,
      click: typeof parsed.click === 'string' ? parsed.click : undefined,
      actions,
    });
    this.sendJson(res, message);
  }

  private publishWithHeaders(topic: string, body: string, headers: IncomingHttpHeaders, res: ServerResponse): void {
    if (!TOPIC_NAME.test(topic)) return this.sendError(res, ERRORS.topicInvalid);
    const priorityText = header(headers, 'x-priority', 'priority', 'prio', 'p');
    let priority: number | undefined;
    if (priorityText !== undefined) {
      priority = PRIORITY_NAMES[priorityText.toLowerCase()] ?? Number(priorityText);
      if (!(Number.isInteger(priority) && priority >= 1 && priority <= 5)) return this.sendError(res, ERRORS.priorityInvalid);
    }
    const actionsText = header(headers, 'x-actions', 'actions', 'action');
    const actions = actionsText === undefined ? undefined : parseActionsHeader(actionsText);
    if (actions === null) return this.sendError(res, ERRORS.actionsInvalid);
    const tagsText = header(headers, 'x-tags', 'tags', 'tag', 'ta');
    const message = this.store({
      topic,
      message: body,
      title: header(headers, 'x-title', 'title', 't'),
      priority,
      tags: tagsText
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean),
      click: header(headers, 'x-click', 'click'),
      actions,
    });
    this.sendJson(res, message);
  }

  private store(fields: Omit<NtfyMessage, 'id' | 'time' | 'expires' | 'event'>): NtfyMessage {
    const time = Math.floor(Date.now() / 1000);
    const message: NtfyMessage = { id: ntfyMessageId(), time, expires: time + CACHE_SECONDS, event: 'message', ...fields };
    // ntfy leaves out empty fields and the default priority.
    for (const key of Object.keys(message) as Array<keyof NtfyMessage>) if (message[key] === undefined) delete message[key];
    if (message.priority === 3) delete message.priority;
    if (message.message === '') message.message = 'triggered';
    this.cache.push(message);
    for (const subscriber of this.subscribers) if (subscriber.topic === message.topic) this.write(subscriber, message);
    return message;
  }

  private subscribe(topic: string, query: URLSearchParams, res: ServerResponse): void {
    if (!TOPIC_NAME.test(topic)) return this.sendError(res, ERRORS.topicInvalid);
    const cached = this.cachedSince(topic, query.get('since'));
    if (cached === null) return this.sendError(res, ERRORS.sinceInvalid);
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'access-control-allow-origin': '*' });
    const poll = ['1', 'yes', 'true'].includes(query.get('poll') ?? '');
    if (poll) {
      // ntfy's poll mode sends the cached messages and closes, with no open event.
      res.end(cached.map((m) => `${JSON.stringify(m)}\n`).join(''));
      return;
    }
    const subscriber: Subscriber = {
      topic,
      res,
      writes: Promise.resolve(),
      keepalive: setInterval(() => this.write(subscriber, this.event('keepalive', topic)), this.options.keepaliveMs ?? 45_000),
    };
    this.subscribers.add(subscriber);
    res.on('close', () => this.unsubscribe(subscriber));
    this.write(subscriber, this.event('open', topic));
    for (const message of cached) this.write(subscriber, message);
  }

  private unsubscribe(subscriber: Subscriber): void {
    clearInterval(subscriber.keepalive);
    this.subscribers.delete(subscriber);
  }

  /** Cached messages of `topic` matching `since` (null when `since` is malformed), as ntfy selects them. */
  private cachedSince(topic: string, since: string | null): NtfyMessage[] | null {
    const ofTopic = (from: number) => this.cache.slice(from).filter((m) => m.topic === topic);
    if (since === null || since === '' || since === 'none') return [];
    if (since === 'all') return ofTopic(0);
    if (/^\d+$/.test(since)) return ofTopic(0).filter((m) => m.time >= Number(since));
    if (!/^[A-Za-z0-9]+$/.test(since)) return null;
    // ntfy looks the id up across all topics and, when it is unknown (expired, or another server), sends everything cached.
    const row = this.cache.findIndex((m) => m.id === since);
    return row < 0 ? ofTopic(0) : ofTopic(row + 1);
  }

  private event(event: 'open' | 'keepalive', topic: string) {
    return { id: ntfyMessageId(), time: Math.floor(Date.now() / 1000), event, topic };
  }

  private write(subscriber: Subscriber, payload: object): void {
    const line = `${JSON.stringify(payload)}\n`;
    const split = this.options.splitLinesMs;
    if (split === undefined) {
      subscriber.res.write(line);
      return;
    }
    subscriber.writes = subscriber.writes.then(async () => {
      if (subscriber.res.destroyed) return;
      const half = Math.floor(line.length / 2);
      subscriber.res.write(line.slice(0, half));
      await new Promise((resolve) => setTimeout(resolve, split));
      if (!subscriber.res.destroyed) subscriber.res.write(line.slice(half));
    });
  }

  private sendJson(res: ServerResponse, payload: object): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(payload)}\n`);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function header(headers: IncomingHttpHeaders, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = headers[name];
    if (typeof value === 'string') return value;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a JSON actions array as ntfy does (at most 3; a known type, a label, a URL where needed); null when invalid. */
function validActions(value: unknown): NtfyAction[] | null {
  if (!Array.isArray(value) || value.length > 3) return null;
  const actions: NtfyAction[] = [];
  for (const item of value) {
    if (!isRecord(item)) return null;
    const { action, label, url } = item;
    if (action !== 'view' && action !== 'http' && action !== 'broadcast') return null;
    if (typeof label !== 'string' || label === '') return null;
    if (action !== 'broadcast' && (typeof url !== 'string' || url === '')) return null;
    const parsed: NtfyAction = { action, label };
    if (typeof url === 'string') parsed.url = url;
    if (action === 'http') parsed.method = typeof item.method === 'string' ? item.method.toUpperCase() : 'POST';
    if (isRecord(item.headers)) parsed.headers = Object.fromEntries(Object.entries(item.headers).map(([k, v]) => [k, String(v)]));
    if (typeof item.body === 'string') parsed.body = item.body;
    parsed.clear = item.clear === true;
    actions.push(parsed);
  }
  return actions;
}

/**
 * Parses ntfy's `Actions` header: a JSON array, or the simple format
 * `http, Approve, https://x/y, method=POST, clear=true; view, Open, https://z`.
 * Quoted values are not supported (the fake needs none). Null when invalid.
 */
function parseActionsHeader(text: string): NtfyAction[] | null {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      return validActions(JSON.parse(trimmed));
    } catch {
      // Same answer as ntfy for a malformed JSON actions header.
      return null;
    }
  }
  const raw = trimmed.split(';').map((part) => part.split(',').map((field) => field.trim()));
  const items = raw.map(([action, label, ...rest]) => {
    const item: Record<string, unknown> = { action, label };
    const headers: Record<string, string> = {};
    for (const field of rest) {
      const eq = field.indexOf('=');
      if (eq < 0 && item.url === undefined) item.url = field;
      else if (eq > 0) {
        const key = field.slice(0, eq);
        const value = field.slice(eq + 1);
        if (key.startsWith('headers.')) headers[key.slice('headers.'.length)] = value;
        else item[key] = key === 'clear' ? value === 'true' : value;
      }
    }
    if (Object.keys(headers).length > 0) item.headers = headers;
    return item;
  });
  return validActions(items);
}
