import type { IncomingMessage, ServerResponse } from 'node:http';

export interface LiveFeedOptions {
  /** The current overview as JSON text, cleaned for sending (one line: JSON.stringify escapes newlines). */
  snapshot: () => string;
  /** Tells the feed when something changed (a check run was committed); returns how to stop. */
  subscribe: (listener: () => void) => () => void;
  /** Streams open at once; one more is answered 503, so a storm of tabs cannot eat memory. */
  maxClients?: number;
  /** At most one overview per this many ms; changes in between are folded into the next one. */
  throttleMs?: number;
  /** A comment line this often keeps proxies and phones from closing an idle stream. */
  keepaliveMs?: number;
  /** A client that lets this much pile up unsent (a stalled phone) is dropped; it reconnects to the current overview. */
  maxBufferedBytes?: number;
  /** Building an overview failed (the store could not be read): reported, the stream stays open. */
  onError: (err: unknown) => void;
}

export const MAX_LIVE_CLIENTS = 20;
const THROTTLE_MS = 250;
const KEEPALIVE_MS = 15_000;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** What EventSource waits before reconnecting after the stream drops. */
const RETRY_MS = 2_000;

/**
 * GET /live: server-sent events. Each client gets the current overview on
 * connect (a reconnecting EventSource resumes with it; there is no history
 * to replay) and an `overview` event after check runs, at most one per
 * throttle window, built once for all clients. The feed listens to the bot
 * only while someone watches.
 */
export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly maxClients: number;
  private readonly throttleMs: number;
  private readonly keepaliveMs: number;
  private readonly maxBufferedBytes: number;
  private unsubscribe: (() => void) | undefined;
  private pending: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private lastSentAt = -Infinity;
  private closed = false;

  constructor(private readonly options: LiveFeedOptions) {
    this.maxClients = options.maxClients ?? MAX_LIVE_CLIENTS;
    this.throttleMs = options.throttleMs ?? THROTTLE_MS;
    this.keepaliveMs = options.keepaliveMs ?? KEEPALIVE_MS;
    this.maxBufferedBytes = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  }

  /** How many streams are open. */
  get size(): number {
    return this.clients.size;
  }

  /** Answers one GET /live: a stream, or 503 when the feed is full or closed. */
  accept(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
    if (this.closed || this.clients.size >= this.maxClients) {
      res.writeHead(503, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'retry-after': '10' });
      res.end(`too many open live views (${this.maxClients}); close a tab, or reload in a while\n`);
      return;
    }
    let first: string;
    try {
      first = this.options.snapshot();
    } catch (err) {
      this.options.onError(err);
      res.writeHead(500, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      res.end('the overview could not be built; see the log\n');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setNoDelay(true);
    res.write(`retry: ${RETRY_MS}\n\n`);
    res.write(frame(first));
    this.clients.add(res);
    res.on('close', () => this.drop(res));
    if (this.clients.size === 1) this.listen();
  }

  /** Something changed: an overview goes out now, or at the end of the throttle window (changes meanwhile are folded into it). */
  changed(): void {
    if (this.pending || this.clients.size === 0) return;
    const wait = Math.max(0, this.lastSentAt + this.throttleMs - Date.now());
    // Even with no wait, the send waits for the turn of the loop: a patrol's many results in one tick make one overview.
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.broadcast();
    }, wait);
  }

  /** Ends every stream and stops listening (the server is closing). */
  close(): void {
    this.closed = true;
    for (const res of [...this.clients]) res.end();
    this.clients.clear();
    this.stopListening();
  }

  private broadcast(): void {
    if (this.clients.size === 0) return;
    this.lastSentAt = Date.now();
    let text: string;
    try {
      text = frame(this.options.snapshot());
    } catch (err) {
      this.options.onError(err);
      return;
    }
    for (const res of this.clients) this.write(res, text);
  }

  private write(res: ServerResponse, text: string): void {
    if (res.writableLength > this.maxBufferedBytes) {
      // It has not read the last few overviews; the next one would only pile up. Its EventSource reconnects.
      res.destroy();
      this.drop(res);
      return;
    }
    res.write(text);
  }

  private listen(): void {
    this.unsubscribe = this.options.subscribe(() => this.changed());
    this.keepalive = setInterval(() => {
      for (const res of this.clients) this.write(res, ': keepalive\n\n');
    }, this.keepaliveMs);
    this.keepalive.unref();
  }

  private drop(res: ServerResponse): void {
    if (!this.clients.delete(res)) return;
    if (this.clients.size === 0) this.stopListening();
  }

  private stopListening(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.keepalive);
    this.keepalive = undefined;
    clearTimeout(this.pending);
    this.pending = undefined;
  }
}

function frame(json: string): string {
  return `event: overview\ndata: ${json}\n\n`;
}
