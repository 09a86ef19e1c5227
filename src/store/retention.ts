import type { Logger } from '../log/logger.js';
import type { EventLog } from './events.js';
import type { OutboxStore } from './outbox.js';

/** Retention deletes events in batches of this many, at most this many batches a run. */
const RETENTION_BATCH = 5_000;
const RETENTION_BATCHES = 20;
const HOUR_MS = 3_600_000;

/**
 * Old events and finished outbox rows go, hourly; the audit trail stays.
 * At most RETENTION_BATCHES batches of events a run: an old install with a
 * backlog catches up a run a minute instead of blocking the loop once.
 */
export class Retention {
  private dueAt = 0;

  constructor(
    private readonly events: EventLog,
    private readonly outbox: OutboxStore,
    /** Rows older than this are deleted. */
    private readonly keepMs: number,
    private readonly log: Logger,
  ) {}

  /** Called every minute; does work when the hour is up, or while a backlog remains. */
  run(now: number): void {
    if (now < this.dueAt) return;
    const before = now - this.keepMs;
    const removed = {
      events: this.events.pruneBefore(before, { batch: RETENTION_BATCH, maxBatches: RETENTION_BATCHES }),
      outbox: this.outbox.pruneFinished(before),
    };
    this.dueAt = removed.events === RETENTION_BATCH * RETENTION_BATCHES ? now : now + HOUR_MS;
    if (removed.events + removed.outbox > 0) this.log.info({ ...removed, olderThan: new Date(before).toISOString() }, 'retention: removed old rows');
  }
}
