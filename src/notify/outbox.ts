import { randomUUID } from 'node:crypto';
import { DeliveryError, type ChatChannel, type Delivery, type OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Redactor } from '../log/redact.js';
import type { OutboxRow, OutboxStore } from '../store/outbox.js';
import type { StoreHealth } from '../store/health.js';
import { sleep, TIMED_OUT, within } from '../util/abort.js';

/** Where a message goes: every channel unless named, once per channel per key (a retried key is not sent twice). */
export interface SendOptions {
  key?: string;
  channels?: readonly string[];
}

/** Queues a message for delivery (what features are given instead of the outbox itself). */
export type Send = (message: OutgoingMessage, options?: SendOptions) => void;

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
  /** Where write failures go (disk full): the outbox then keeps messages in memory and retries. */
  health?: StoreHealth;
  /** How often writing what is kept in memory is retried (default 2 s). */
  writeRetryMs?: number;
}

/** A message accepted while the store could not write it. */
interface Unwritten {
  channels: string[];
  key: string;
  message: OutgoingMessage;
  at: number;
}

/** Messages kept in memory at most while the store cannot write (a storm during a full disk); older ones give way. */
const MAX_UNWRITTEN = 10_000;

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
  /** Accepted but not yet in the store (it could not write): written, in order, before anything newer. */
  private readonly unwritten: Unwritten[] = [];
  private writeRetry: NodeJS.Timeout | undefined;
  /** Delivered messages whose row could not be marked sent yet: nothing else goes out on that channel until it is. */
  private readonly unmarked = new Map<string, { id: number; at: number; platformId: string | undefined }>();

  constructor(private readonly options: OutboxOptions) {
    options.health?.track('outbox', () => this.unwritten.length + this.unmarked.size);
  }

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
  enqueue(message: OutgoingMessage, options: SendOptions = {}): void {
    const channels = (options.channels ?? this.channelNames).filter((c) => this.channels.has(c));
    if (channels.length === 0) return;
    const safe = this.options.redactor.redactValue(message);
    if (this.unwritten.length >= MAX_UNWRITTEN) {
      const dropped = this.unwritten.shift()!;
      this.options.log.error(
        { key: dropped.key, title: dropped.message.title },
        `more than ${MAX_UNWRITTEN} messages wait for the database; the oldest was dropped`,
      );
    }
    this.unwritten.push({ channels, key: options.key ?? randomUUID(), message: safe, at: this.options.clock.now() });
    this.writeUnwritten();
  }

  /**
   * Writes what waits in memory, oldest first, and wakes the workers. Never
   * throws: when the store cannot write (disk full), the messages stay in
   * memory and are tried again shortly, so an announced alert is not lost.
   */
  private writeUnwritten(): void {
    const { store, health, log } = this.options;
    while (this.unwritten.length > 0) {
      const next = this.unwritten[0]!;
      try {
        store.enqueue(next.channels, next.key, next.message, next.at);
      } catch (err) {
        if (health?.failed(err, 'outbox') ?? false) {
          this.writeRetry ??= setTimeout(() => {
            this.writeRetry = undefined;
            this.writeUnwritten();
          }, this.options.writeRetryMs ?? 2_000).unref();
          return;
        }
        // Not a store failure (a message that cannot be serialised): a bug; it must not block the others.
        log.error({ err, key: next.key }, 'could not queue a message; dropped it');
      }
      this.unwritten.shift();
      for (const channel of next.channels) this.wakers.get(channel)?.();
    }
    health?.succeeded();
  }

  async stop(): Promise<void> {
    clearTimeout(this.writeRetry);
    this.stopController.abort();
    for (const wake of this.wakers.values()) wake();
    await Promise.allSettled(this.workers.values());
  }

  /** Resolves when every channel's queue is empty or halted (tests, benchmarks). */
  async drained(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pending = this.options.store.pendingByChannel();
      if (this.unwritten.length === 0 && [...pending.entries()].every(([channel, n]) => n === 0 || this.halted.has(channel) || !this.channels.has(channel)))
        return;
      if (Date.now() > deadline) throw new Error(`outbox not drained after ${timeoutMs} ms: ${JSON.stringify([...pending])}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * One channel's delivery loop. It never dies: a store that cannot be
   * written (disk full) pauses it, and a delivered message whose row could
   * not be marked sent is marked before anything else goes out, so nothing
   * is sent twice while the process lives.
   */
  private async work(channel: ChatChannel): Promise<void> {
    const signal = this.stopController.signal;
    // A halted channel (401/403) stops here; its rows stay pending for the next start.
    while (!signal.aborted && !this.halted.has(channel.name)) {
      try {
        await this.deliverNext(channel);
      } catch (err) {
        if (!(this.options.health?.failed(err, `outbox:${channel.name}`) ?? false))
          this.options.log.error({ err, channel: channel.name }, 'outbox worker error; retrying');
        await sleep(this.options.writeRetryMs ?? 2_000, signal);
      }
    }
  }

  private async deliverNext(channel: ChatChannel): Promise<void> {
    const { store, clock, log } = this.options;
    const unmarked = this.unmarked.get(channel.name);
    if (unmarked) {
      store.markSent(unmarked.id, unmarked.at, unmarked.platformId);
      this.unmarked.delete(channel.name);
      this.options.health?.succeeded();
    }
    const row = store.head(channel.name);
    if (!row) {
      await this.waitForWork(channel.name, 60_000);
      return;
    }
    const wait = row.nextAttemptAt - clock.now();
    if (wait > 0) {
      await sleep(wait, this.stopController.signal);
      return;
    }
    let delivery: Delivery;
    try {
      const sendTimeoutMs = this.options.sendTimeoutMs ?? 30_000;
      const sent = await within(channel.send(row.message, { idempotencyKey: row.key }), sendTimeoutMs);
      if (sent === TIMED_OUT) throw new DeliveryError(`no answer from the platform within ${sendTimeoutMs} ms`);
      delivery = sent;
    } catch (err) {
      if (!this.stopController.signal.aborted) this.failedDelivery(channel.name, row, err);
      return;
    }
    // Remembered before it is recorded: a store that cannot record it must not make it go out twice.
    this.unmarked.set(channel.name, { id: row.id, at: clock.now(), platformId: delivery.platformId });
    store.markSent(row.id, clock.now(), delivery.platformId);
    this.unmarked.delete(channel.name);
    try {
      this.options.onDelivered?.(channel.name, row, delivery);
    } catch (err) {
      log.error({ err, channel: channel.name }, 'after-delivery hook failed');
    }
  }

  /** A send that failed: halt the channel (401/403), drop the message (400), or retry it later. */
  private failedDelivery(channel: string, row: OutboxRow, err: unknown): void {
    const { store, clock, log } = this.options;
    const backoff = this.options.backoff ?? { baseMs: 1_000, maxMs: 60_000 };
    const failure = err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), { cause: err });
    if (failure.permanent) {
      this.halt(channel, failure);
      return;
    }
    if (failure.rejected) {
      store.markDead(row.id, failure.message);
      log.error({ channel, key: row.key, error: failure.message }, 'the platform rejected a message; dropped it so the ones behind it are delivered');
      return;
    }
    const delay = failure.retryAfterMs ?? Math.min(backoff.baseMs * 2 ** Math.min(row.attempts, 16), backoff.maxMs);
    store.markRetry(row.id, clock.now() + delay, failure.message);
    log.warn({ channel, attempt: row.attempts + 1, retryInMs: delay, error: failure.message }, 'delivery failed; will retry');
  }

  /** 401/403: retrying cannot help. Say so loudly, on the log and on every other channel. */
  private halt(channel: string, failure: DeliveryError): void {
    this.halted.add(channel);
    this.options.log.error(
      { channel, error: failure.message },
      `${channel} refused Nightshift's credentials; delivery on ${channel} is stopped until Nightshift restarts with a working token (queued messages are kept)`,
    );
    const others = this.channelNames.filter((c) => c !== channel && !this.halted.has(c));
    this.enqueue(
      {
        severity: 'critical',
        title: `${channel} refused Nightshift's credentials (${failure.message}); alerts are not reaching ${channel}`,
        body: `Fix the ${channel} token in .env and restart Nightshift; queued messages will be delivered then.`,
      },
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
}
