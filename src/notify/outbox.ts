import { randomUUID } from 'node:crypto';
import { DeliveryError, type ChatChannel, type Delivery, type OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Redactor } from '../log/redact.js';
import type { OutboxRow, OutboxStore } from '../store/outbox.js';

export interface OutboxOptions {
  store: OutboxStore;
  clock: Clock;
  log: Logger;
  redactor: Redactor;
  /** Backoff between failed attempts: base doubling up to max (a 429's retry_after wins). */
  backoff?: { baseMs: number; maxMs: number };
  /** A send that takes longer is abandoned and retried. */
  sendTimeoutMs?: number;
  /** A message reached a channel (link question messages to their platform id). */
  onDelivered?: (channel: string, row: OutboxRow, delivery: Delivery) => void;
}

/**
 * The persisted outbox. Every message is written to the store first (one row
 * per channel), then a worker per channel delivers them strictly in order:
 * retry with backoff, honour 429 retry_after, stop on 401/403 (loudly, with
 * an alert on the other channels). A crash between write and delivery loses
 * nothing: the rows are still pending at the next start.
 */
export class Outbox {
  private readonly channels = new Map<string, ChatChannel>();
  private readonly wakers = new Map<string, () => void>();
  private readonly workers = new Map<string, Promise<void>>();
  private readonly halted = new Set<string>();
  private readonly stopController = new AbortController();

  constructor(private readonly options: OutboxOptions) {}

  /** Channel names messages are queued for. */
  get channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** Registers a channel and starts its delivery worker. */
  add(channel: ChatChannel): void {
    this.channels.set(channel.name, channel);
    this.workers.set(channel.name, this.work(channel));
  }

  /**
   * Queues a message for every channel (or the named ones), redacted. The key
   * makes it unique per channel: queuing the same key twice sends it once.
   */
  enqueue(message: OutgoingMessage, options: { key?: string; channels?: readonly string[] } = {}): void {
    const channels = (options.channels ?? this.channelNames).filter((c) => this.channels.has(c));
    if (channels.length === 0) return;
    const safe = this.options.redactor.redactValue(message);
    this.options.store.enqueue(channels, options.key ?? randomUUID(), safe, this.options.clock.now());
    for (const channel of channels) this.wakers.get(channel)?.();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    for (const wake of this.wakers.values()) wake();
    await Promise.allSettled(this.workers.values());
  }

  /** Resolves when every channel's queue is empty or halted (tests, benchmarks). */
  async drained(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pending = this.options.store.pendingByChannel();
      if ([...pending.entries()].every(([channel, n]) => n === 0 || this.halted.has(channel) || !this.channels.has(channel))) return;
      if (Date.now() > deadline) throw new Error(`outbox not drained after ${timeoutMs} ms: ${JSON.stringify([...pending])}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async work(channel: ChatChannel): Promise<void> {
    const { store, clock, log } = this.options;
    const signal = this.stopController.signal;
    const backoff = this.options.backoff ?? { baseMs: 1_000, maxMs: 60_000 };
    while (!signal.aborted) {
      const row = store.head(channel.name);
      if (!row) {
        await this.waitForWork(channel.name, 60_000);
        continue;
      }
      const wait = row.nextAttemptAt - clock.now();
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      try {
        const delivery = await this.withTimeout(channel.send(row.message));
        store.markSent(row.id, clock.now(), delivery.platformId);
        try {
          this.options.onDelivered?.(channel.name, row, delivery);
        } catch (err) {
          log.error({ err, channel: channel.name }, 'after-delivery hook failed');
        }
      } catch (err) {
        if (signal.aborted) return;
        const failure = err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), { cause: err });
        if (failure.permanent) {
          this.halt(channel.name, failure);
          return;
        }
        if (failure.rejected) {
          store.markDead(row.id, failure.message);
          log.error({ channel: channel.name, key: row.key, error: failure.message }, 'the platform rejected a message; dropped it so the ones behind it are delivered');
          continue;
        }
        const delay = failure.retryAfterMs ?? Math.min(backoff.baseMs * 2 ** Math.min(row.attempts, 16), backoff.maxMs);
        store.markRetry(row.id, clock.now() + delay, failure.message);
        log.warn({ channel: channel.name, attempt: row.attempts + 1, retryInMs: delay, error: failure.message }, 'delivery failed; will retry');
      }
    }
  }

  /** 401/403: retrying cannot help. Say so loudly, on the log and on every other channel. */
  private halt(channel: string, failure: DeliveryError): void {
    this.halted.add(channel);
    this.options.log.error({ channel, error: failure.message }, `${channel} refused Nightshift's credentials; delivery on ${channel} is stopped until Nightshift restarts with a working token (queued messages are kept)`);
    const others = this.channelNames.filter((c) => c !== channel && !this.halted.has(c));
    this.enqueue(
      { severity: 'critical', title: `${channel} refused Nightshift's credentials (${failure.message}); alerts are not reaching ${channel}`, body: `Fix the ${channel} token in .env and restart Nightshift; queued messages will be delivered then.` },
      { key: `halted:${channel}:${this.options.clock.now()}`, channels: others },
    );
  }

  private waitForWork(channel: string, maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.set(channel, done);
    });
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopController.signal;
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        resolve();
      }
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    const ms = this.options.sendTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeliveryError(`no answer from the platform within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
