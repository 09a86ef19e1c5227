import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { ListenAddress } from './access.js';
import { renderSummary, type StatusSummary } from '../patrol/summary.js';
import { UserError } from '../errors.js';
import type { Metrics } from './metrics.js';
import { Redactor } from '../log/redact.js';
import { clipAtWord } from '../util/text.js';
import { BASIC_CHALLENGE, basicMatches, bearerMatches, hostAllowed, isIngestPath, isOpenPath, isPagePath, type AccessPolicy } from './access.js';
import { loadPageAssets, PAGE_CSP, PAGE_DIR, PAGE_FILES, type PageAsset } from '../status-page/assets.js';
import { LiveFeed, MAX_LIVE_CLIENTS } from '../status-page/live.js';
import type { Overview } from '../status-page/overview.js';
import { agentEventSchema, agentScoreSchema, alertmanagerSchema, describeIssues, type AgentEvent, type AlertmanagerPayload } from './ingest.js';
import type { z } from 'zod';

/** Where /ping/<name> requests go. */
export interface PingSink {
  isExpected(name: string): boolean;
  record(name: string, kind: 'ping' | 'start' | 'fail', at: number, body?: string): void;
}

/** A reply to a program that posted to Nightshift: a status and a JSON body. */
export interface IngestReply {
  status: number;
  body: Record<string, unknown>;
}

/** Where agents' reports go (POST /events, POST /events/<id>/score). */
export interface AgentSink {
  report(event: AgentEvent): IngestReply;
  score(actionId: number, verdict: z.output<typeof agentScoreSchema>): IngestReply;
}

/** The server itself: who it answers to, and how it cleans what it sends. */
export interface HttpServerOptions {
  log: Logger;
  now?: () => number;
  /** Which Host names are this server's, and the bearer token (when one is needed). Default: IP literals and localhost, no token. */
  access?: AccessPolicy;
  /** Cleans what the server sends and what a ping's body leaves in the store. */
  redactor?: Redactor;
  /** Where the status page's files are read from, once, here (default: web/status/ at the package root). */
  pageDir?: string;
  /** Open GET /live streams at most (default 20); one more is answered 503. */
  maxLiveClients?: number;
}

/** What the routes read and call: the running bot. */
export interface HttpHandlers {
  summary: () => StatusSummary;
  patrolAlive: () => boolean;
  metrics: Metrics;
  pings?: PingSink;
  /** Answers a question from a signed single-use button token (ntfy http actions POST here). */
  answer?: (token: string) => { status: number; text: string };
  /** Runs an alert button's command from a signed single-use token (ntfy http actions POST here). */
  act?: (token: string) => Promise<{ status: number; text: string }>;
  /** Why the bot is not healthy although its patrol runs (the store cannot write); empty when healthy. */
  problems?: () => string[];
  /** Agents reporting their own actions and errors. */
  agents?: AgentSink;
  /** Alertmanager's webhook deliveries (one group each). */
  alertmanager?: (payload: AlertmanagerPayload) => IngestReply;
  /** The status page's data (GET /overview.json, GET /live); without it the page's routes answer 404. */
  overview?: () => Overview;
  /** Calls `listener` after each committed check run (GET /live sends a fresh overview then); returns how to stop. */
  live?: (listener: () => void) => () => void;
}

/** GET routes answer HEAD too (Node leaves the body out). */
const isGet = (req: IncomingMessage) => req.method === 'GET' || req.method === 'HEAD';

const ANSWER_PATH = /^\/answer\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
const ACT_PATH = /^\/act\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

const PING_PATH = /^\/ping\/([A-Za-z0-9._-]{1,64})(?:\/(start|fail))?\/?$/;
const MAX_PING_BODY = 10_000;
/** A job pings once per run: more than this per name per minute is a loop or a flood, answered 429 and not stored. */
const MAX_PINGS_PER_MINUTE = 60;

const SCORE_PATH = /^\/events\/(\d{1,15})\/score$/;
/** An agent's report is a few hundred bytes; this leaves room for its context. */
const MAX_EVENT_BODY = 16 * 1024;
/** Alertmanager sends whole groups; beyond this it should set max_alerts (it then says how many it left out). */
const MAX_ALERTMANAGER_BODY = 4 * 1024 * 1024;
/** Agents in a loop must not fill the database: beyond this many reports a minute they are answered 429 and not stored. */
const MAX_AGENT_EVENTS_PER_MINUTE = 600;

/** A route answers a request or returns false to pass it on. */
type Route = (req: IncomingMessage, res: ServerResponse, url: URL, handlers: HttpHandlers) => Promise<boolean> | boolean;

/**
 * The bot's HTTP server: /healthz for supervisors, /status.json for the CLI
 * and dashboards, /metrics for Prometheus. Loopback only unless configured.
 */
export class HttpServer {
  private server: Server | undefined;
  private readonly routes: Route[];

  private readonly access: AccessPolicy;
  private readonly redactor: Redactor;
  /** Pings accepted per name in the current minute. */
  private readonly pingWindows = new Map<string, { startedAt: number; count: number }>();
  /** Agent reports accepted in the current minute. */
  private agentWindow = { startedAt: 0, count: 0 };
  /** The status page's files, read once at start. */
  private readonly page: { assets: Map<string, PageAsset>; unreadable: string[] };
  /** GET /live's streams, made on the first one. */
  private feed: LiveFeed | undefined;

  /** Set by serve(): until then every request is answered 503 (the port is bound first, so a taken port fails start early). */
  private handlers: HttpHandlers | undefined;

  constructor(private readonly options: HttpServerOptions) {
    this.access = options.access ?? { allowedHosts: new Set() };
    this.redactor = options.redactor ?? new Redactor();
    this.page = loadPageAssets(options.pageDir ?? PAGE_DIR);
    if (this.page.unreadable.length > 0) options.log.warn({ unreadable: this.page.unreadable }, 'the status page files cannot be read; / answers 503');
    this.routes = [
      (req, res, url, h) => PAGE_FILE_PATHS.has(url.pathname) && isGet(req) && this.pageFile(res, url.pathname, h),
      (req, res, url, h) => url.pathname === '/overview.json' && isGet(req) && this.overview(res, h),
      (req, res, url, h) => url.pathname === '/live' && isGet(req) && this.live(req, res, h),
      (req, res, url, h) => url.pathname === '/healthz' && isGet(req) && this.healthz(res, h),
      (req, res, url, h) => url.pathname === '/status.json' && isGet(req) && this.status(res, h),
      async (req, res, url, h) => url.pathname === '/metrics' && isGet(req) && (await this.metrics(res, h)),
      async (req, res, url, h) => PING_PATH.test(url.pathname) && (await this.ping(req, res, url, h)),
      (req, res, url, h) => ANSWER_PATH.test(url.pathname) && this.answer(req, res, url, h),
      async (req, res, url, h) => url.pathname === '/events' && (await this.agentEvent(req, res, h)),
      async (req, res, url, h) => SCORE_PATH.test(url.pathname) && (await this.agentScore(req, res, url, h)),
      async (req, res, url, h) => url.pathname === '/alertmanager' && (await this.alertmanager(req, res, h)),
      async (req, res, url, h) => ACT_PATH.test(url.pathname) && (await this.act(req, res, url, h)),
    ];
  }

  /** Starts answering with the running bot's handlers. */
  serve(handlers: HttpHandlers): void {
    this.handlers = handlers;
  }

  /** Listens; a taken port is a UserError with a clear message. Resolves to the bound address. */
  async listen(address: ListenAddress): Promise<ListenAddress> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    server.on('clientError', answerClientError);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = `${address.host}:${address.port}`;
        if (err.code === 'EADDRINUSE')
          reject(
            new UserError(
              'http_in_use',
              `cannot listen on ${where}: the address is already in use (another nightshift on another data dir, or another program). Set NIGHTSHIFT_HTTP to a free host:port.`,
              { cause: err },
            ),
          );
        else if (err.code === 'EACCES')
          reject(
            new UserError(
              'http_denied',
              `cannot listen on ${where}: permission denied (ports below 1024 need privileges). Set NIGHTSHIFT_HTTP to another port.`,
              { cause: err },
            ),
          );
        else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
          reject(
            new UserError('http_bad_host', `cannot listen on ${where}: no such local address. Set NIGHTSHIFT_HTTP to an address of this machine.`, {
              cause: err,
            }),
          );
        else reject(err);
      });
      server.listen(address.port, address.host, () => resolve());
    });
    server.on('error', (err) => this.options.log.error({ err }, 'http server error'));
    const bound = server.address() as AddressInfo;
    return { host: address.host, port: bound.port };
  }

  async close(): Promise<void> {
    this.feed?.close();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!hostAllowed(req.headers.host, this.access)) {
        // A page in the operator's browser reaching us under its own name (DNS rebinding) gets nothing.
        send(res, 421, 'text/plain; charset=utf-8', 'this server does not answer to that Host name; add it to http.allowedHosts\n');
        return;
      }
      const token = this.access.token;
      if (token !== undefined && !isOpenPath(url.pathname) && !isIngestPath(url.pathname)) {
        const page = isPagePath(url.pathname);
        const authorization = req.headers.authorization;
        if (!bearerMatches(authorization, token) && !(page && basicMatches(authorization, token))) {
          // A browser cannot send a bearer header; the Basic challenge makes it ask (any user name, the token as the password).
          res.setHeader('www-authenticate', page ? BASIC_CHALLENGE : 'Bearer realm="nightshift"');
          const hint = page
            ? 'this page needs the NIGHTSHIFT_HTTP_TOKEN as the password (any user name)\n'
            : 'this needs Authorization: Bearer <NIGHTSHIFT_HTTP_TOKEN>\n';
          send(res, 401, 'text/plain; charset=utf-8', hint);
          return;
        }
      }
      const handlers = this.handlers;
      if (!handlers) {
        send(res, 503, 'text/plain; charset=utf-8', 'Nightshift is starting; try again.\n');
        return;
      }
      for (const route of this.routes) {
        if (await route(req, res, url, handlers)) return;
      }
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    } catch (err) {
      if (!req.complete && req.destroyed) {
        // The client went away (or sent less than its Content-Length) before its body was read: nobody is left to answer.
        this.options.log.debug({ url: req.url }, 'http request abandoned by the client');
        return;
      }
      this.options.log.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.end();
    }
  }

  private healthz(res: ServerResponse, handlers: HttpHandlers): true {
    const alive = handlers.patrolAlive();
    const problems = handlers.problems?.() ?? [];
    const ok = alive && problems.length === 0;
    const summary = handlers.summary();
    const reason = [...(alive ? [] : ['the patrol loop has not run within two intervals']), ...problems].join('; ');
    send(res, ok ? 200 : 503, 'application/json', JSON.stringify({ ok, core: summary.core, lastPatrolAt: summary.lastPatrolAt, ...(ok ? {} : { reason }) }));
    return true;
  }

  /** The summary as JSON; redacted on the way out too (rows stored by an older version may hold secrets). */
  private status(res: ServerResponse, handlers: HttpHandlers): true {
    const summary = handlers.summary();
    send(res, 200, 'application/json', JSON.stringify(this.redactor.redactValue({ ...summary, text: renderSummary(summary) })));
    return true;
  }

  /** A job's heartbeat: GET or POST /ping/<name>, /ping/<name>/start, /ping/<name>/fail (body = its error output). */
  private async ping(req: IncomingMessage, res: ServerResponse, url: URL, handlers: HttpHandlers): Promise<true> {
    const [, name, which] = PING_PATH.exec(url.pathname)!;
    const sink = handlers.pings;
    if (!sink || !sink.isExpected(name!)) {
      send(res, 404, 'text/plain; charset=utf-8', `no heartbeat check expects "${name}"\n`);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'use GET or POST\n');
      return true;
    }
    const now = (this.options.now ?? Date.now)();
    const window = this.pingWindows.get(name!);
    if (window && now - window.startedAt < 60_000 && window.count >= MAX_PINGS_PER_MINUTE) {
      res.setHeader('retry-after', String(Math.ceil((window.startedAt + 60_000 - now) / 1000)));
      send(res, 429, 'text/plain; charset=utf-8', `more than ${MAX_PINGS_PER_MINUTE} pings a minute for "${name}"; this one was not recorded\n`);
      return true;
    }
    if (!window || now - window.startedAt >= 60_000) this.pingWindows.set(name!, { startedAt: now, count: 1 });
    else window.count++;
    // Cut at a word, then redacted: a secret cut in half at the limit would no longer be recognised.
    const body = req.method === 'POST' ? this.redactor.redact(clipAtWord(await readBody(req, MAX_PING_BODY + 1), MAX_PING_BODY)) : '';
    sink.record(name!, (which as 'start' | 'fail' | undefined) ?? 'ping', now, body);
    send(res, 200, 'text/plain; charset=utf-8', 'OK\n');
    return true;
  }

  /** POST only: a link preview or a crawler fetching the URL must not answer a question. */
  private answer(req: IncomingMessage, res: ServerResponse, url: URL, handlers: HttpHandlers): true {
    if (req.method !== 'POST') {
      send(res, 405, 'text/plain; charset=utf-8', 'answer with POST\n');
      return true;
    }
    const [, token] = ANSWER_PATH.exec(url.pathname)!;
    const outcome = handlers.answer ? handlers.answer(token!) : { status: 404, text: 'not found' };
    send(res, outcome.status, 'text/plain; charset=utf-8', `${outcome.text}\n`);
    return true;
  }

  /** POST only, like /answer: a link preview must not run the command. */
  private async act(req: IncomingMessage, res: ServerResponse, url: URL, handlers: HttpHandlers): Promise<true> {
    if (req.method !== 'POST') {
      send(res, 405, 'text/plain; charset=utf-8', 'press the button (POST)\n');
      return true;
    }
    const [, token] = ACT_PATH.exec(url.pathname)!;
    const outcome = handlers.act ? await handlers.act(token!) : { status: 404, text: 'not found' };
    send(res, outcome.status, 'text/plain; charset=utf-8', `${outcome.text}\n`);
    return true;
  }

  /** POST /events: an agent's action (joins the regret index) or error (joins the event log and the causal analysis). */
  private async agentEvent(req: IncomingMessage, res: ServerResponse, handlers: HttpHandlers): Promise<true> {
    const body = await this.ingest(req, res, this.access.agentToken, 'NIGHTSHIFT_AGENT_TOKEN', MAX_EVENT_BODY);
    if (body === undefined) return true;
    const now = (this.options.now ?? Date.now)();
    if (now - this.agentWindow.startedAt >= 60_000) this.agentWindow = { startedAt: now, count: 0 };
    if (this.agentWindow.count >= MAX_AGENT_EVENTS_PER_MINUTE) {
      res.setHeader('retry-after', String(Math.ceil((this.agentWindow.startedAt + 60_000 - now) / 1000)));
      sendJson(res, 429, { error: `more than ${MAX_AGENT_EVENTS_PER_MINUTE} reports a minute; this one was not recorded` });
      return true;
    }
    const parsed = agentEventSchema.safeParse(body);
    if (!parsed.success) {
      sendJson(res, 400, { error: describeIssues(parsed.error), usage: AGENT_EVENT_USAGE });
      return true;
    }
    this.agentWindow.count++;
    const reply = handlers.agents ? handlers.agents.report(parsed.data) : { status: 404, body: { error: 'not found' } };
    sendJson(res, reply.status, reply.body);
    return true;
  }

  /** POST /events/<id>/score: the agent's own verdict on an action it reported. */
  private async agentScore(req: IncomingMessage, res: ServerResponse, url: URL, handlers: HttpHandlers): Promise<true> {
    const body = await this.ingest(req, res, this.access.agentToken, 'NIGHTSHIFT_AGENT_TOKEN', MAX_EVENT_BODY);
    if (body === undefined) return true;
    const parsed = agentScoreSchema.safeParse(body);
    if (!parsed.success) {
      sendJson(res, 400, { error: describeIssues(parsed.error), usage: '{"score": 1 | 0 | -1 | -2, "note": "why"}' });
      return true;
    }
    const id = Number(SCORE_PATH.exec(url.pathname)![1]);
    const reply = handlers.agents ? handlers.agents.score(id, parsed.data) : { status: 404, body: { error: 'not found' } };
    sendJson(res, reply.status, reply.body);
    return true;
  }

  /** POST /alertmanager: one Alertmanager group, firing or resolved. */
  private async alertmanager(req: IncomingMessage, res: ServerResponse, handlers: HttpHandlers): Promise<true> {
    const body = await this.ingest(req, res, this.access.alertmanagerToken, 'NIGHTSHIFT_ALERTMANAGER_TOKEN', MAX_ALERTMANAGER_BODY);
    if (body === undefined) return true;
    const parsed = alertmanagerSchema.safeParse(body);
    if (!parsed.success) {
      sendJson(res, 400, { error: describeIssues(parsed.error) });
      return true;
    }
    const reply = handlers.alertmanager ? handlers.alertmanager(parsed.data) : { status: 404, body: { error: 'not found' } };
    sendJson(res, reply.status, reply.body);
    return true;
  }

  /**
   * The checks every ingest route makes, in order: POST, the route's own token (off when it is unset: fail closed),
   * a JSON body within the limit. Returns the parsed body, or undefined once it has answered.
   */
  private async ingest(req: IncomingMessage, res: ServerResponse, token: string | undefined, variable: string, limit: number): Promise<unknown> {
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'use POST' });
      return undefined;
    }
    if (token === undefined) {
      sendJson(res, 404, { error: `this route is off: set ${variable} in Nightshift's .env to turn it on` });
      return undefined;
    }
    if (!bearerMatches(req.headers.authorization, token)) {
      res.setHeader('www-authenticate', 'Bearer realm="nightshift"');
      sendJson(res, 401, { error: `this needs Authorization: Bearer <${variable}>` });
      return undefined;
    }
    const text = await readBody(req, limit + 1);
    if (Buffer.byteLength(text) > limit) {
      sendJson(res, 413, { error: `the body is larger than ${limit} bytes` });
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      sendJson(res, 400, { error: 'the body is not JSON' });
      return undefined;
    }
  }

  /**
   * The page's own files, as read at start, with the page's security headers (no inline script, no framing).
   * One that could not be read (an install without web/status/) is said plainly, not a bare 404.
   */
  private pageFile(res: ServerResponse, path: string, handlers: HttpHandlers): boolean {
    if (!handlers.overview) return false;
    const asset = this.page.assets.get(path);
    if (!asset) {
      send(res, 503, 'text/plain; charset=utf-8', `the status page files could not be read when Nightshift started: ${this.page.unreadable.join('; ')}\n`);
      return true;
    }
    res.writeHead(200, { ...PAGE_HEADERS, 'content-type': asset.type, 'content-length': String(asset.body.length) });
    res.end(asset.body);
    return true;
  }

  /** The page's data, redacted like /status.json. */
  private overview(res: ServerResponse, handlers: HttpHandlers): boolean {
    if (!handlers.overview) return false;
    res.writeHead(200, { ...PAGE_HEADERS, 'content-type': 'application/json' });
    res.end(this.overviewJson(handlers.overview));
    return true;
  }

  private overviewJson(build: () => Overview): string {
    return JSON.stringify(this.redactor.redactValue(build()));
  }

  /** Server-sent events: the overview now, then after each committed run (see LiveFeed). */
  private live(req: IncomingMessage, res: ServerResponse, handlers: HttpHandlers): boolean {
    const { overview, live } = handlers;
    if (!overview || !live) return false;
    this.feed ??= new LiveFeed({
      snapshot: () => this.overviewJson(overview),
      subscribe: live,
      maxClients: this.options.maxLiveClients ?? MAX_LIVE_CLIENTS,
      onError: (err) => this.options.log.error({ err }, 'the live status overview could not be built'),
    });
    this.feed.accept(req, res, PAGE_HEADERS);
    return true;
  }

  private async metrics(res: ServerResponse, handlers: HttpHandlers): Promise<true> {
    const body = await handlers.metrics.render();
    send(res, 200, handlers.metrics.registry.contentType, body);
    return true;
  }
}

const AGENT_EVENT_USAGE =
  '{"type": "action" | "error", "category": "reassign-task", "target": "<check or thing>", "message": "...", "severity": "info" | "warning" | "critical", "agent": "<name>", "context": {}}';

const PAGE_FILE_PATHS = new Set(PAGE_FILES.map((f) => f.path));

/** What every response of the status page carries: never cached, never framed, nothing but its own files. */
const PAGE_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  send(res, status, 'application/json', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * A request Node cannot read (a bad method or header, a body shorter than its
 * Content-Length) is answered with what was wrong, where Node would send a
 * bare 400.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, why] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request did not arrive in time']
        : [400, 'Bad Request', `the request could not be read as HTTP (${err.code ?? err.message})`];
  const body = `${why}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Reads at most `limit` characters of a request body as text (the rest is
 * discarded). The stream decodes: a character split across two chunks stays whole.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  req.setEncoding('utf8');
  let text = '';
  for await (const chunk of req as AsyncIterable<string>) {
    if (text.length < limit) text += chunk;
  }
  return text.slice(0, limit);
}
