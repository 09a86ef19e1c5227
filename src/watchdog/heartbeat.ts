import type { Logger } from '../log/logger.js';
import { summaryLine, type StatusSummary } from '../patrol/summary.js';

export interface HeartbeatOptions {
  /** The check's ping URL (no trailing slash); its path is the key, so only its origin is logged. */
  pingUrl: string;
  everyMs: number;
  method: 'GET' | 'POST';
  timeoutMs: number;
  /** The status summary: DOWN (the core stalled) pings /fail, OK and DEGRADED ping the base URL. */
  summary: () => StatusSummary;
  log: Logger;
}

/**
 * Who watches the watcher: pings an outside dead man's switch
 * (Healthchecks.io style) every `everyMs`. `/start` once at start, then the
 * base URL while the summary is OK or DEGRADED, `/fail` while it is DOWN. If
 * Nightshift dies or hangs the pings stop, and the outside check alerts.
 * A ping that fails is logged (warn once per run of failures, then debug),
 * never thrown; pings never overlap.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private failing = false;
  private readonly stopped = new AbortController();
  /** What may be logged of the URL: its origin. */
  readonly origin: string;

  constructor(private readonly options: HeartbeatOptions) {
    this.origin = new URL(options.pingUrl).origin;
  }

  start(): void {
    void this.send('/start', this.summaryOrUndefined());
    this.timer = setInterval(() => void this.tick(), this.options.everyMs);
    this.timer.unref();
  }

  /** One ping, now, chosen by the summary (skipped while one is in flight). */
  tick(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const summary = this.summaryOrUndefined();
    // No summary (the store failing) is a reason to report failure, not to stay silent.
    return this.send(summary === undefined || summary.state === 'DOWN' ? '/fail' : '', summary);
  }

  /** Clears the timer and abandons a ping in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopped.abort();
    await this.inFlight;
  }

  /** Built once per ping: it picks the URL and is the POST body. */
  private summaryOrUndefined(): StatusSummary | undefined {
    try {
      return this.options.summary();
    } catch (err) {
      this.options.log.debug({ err }, 'watchdog: could not build the summary');
      return undefined;
    }
  }

  /** `summary`: the one this ping reports (POST body); undefined when it could not be built. */
  private send(suffix: '' | '/start' | '/fail', summary: StatusSummary | undefined): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const ping = this.ping(suffix, summary).finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = ping;
    return ping;
  }

  private async ping(suffix: string, summary: StatusSummary | undefined): Promise<void> {
    const { pingUrl, method, timeoutMs, log } = this.options;
    if (this.stopped.signal.aborted) return;
    const what = suffix || '/';
    try {
      const body = method === 'POST' ? (summary ? summaryLine(summary) : 'SUMMARY: unavailable') : undefined;
      const response = await fetch(`${pingUrl}${suffix}`, {
        method,
        ...(body !== undefined ? { body, headers: { 'content-type': 'text/plain; charset=utf-8' } } : {}),
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopped.signal]),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      if (this.failing) log.info({ origin: this.origin, ping: what }, 'watchdog ping works again');
      this.failing = false;
    } catch (err) {
      if (this.stopped.signal.aborted) return;
      // Only the message and its cause's code: the whole error could carry the URL, whose path is the key.
      const reason = describeError(err);
      if (this.failing) log.debug({ origin: this.origin, ping: what, reason }, 'watchdog ping failed again');
      else log.warn({ origin: this.origin, ping: what, reason }, 'watchdog ping failed (kept running; later failures are logged at debug)');
      this.failing = true;
    }
  }
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return 'timed out';
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${err.message} (${code})` : err.message;
}
