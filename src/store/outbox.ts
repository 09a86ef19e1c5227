import type { OutgoingMessage } from '../chat/channel.js';
import type { Db } from './database.js';

export interface OutboxRow {
  id: number;
  channel: string;
  key: string;
  message: OutgoingMessage;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
}

/** Outgoing messages per channel, written before they are sent. */
export class OutboxStore {
  private readonly insert;
  private readonly selectHead;
  private readonly markSentStmt;
  private readonly markRetryStmt;
  private readonly countPendingStmt;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      'INSERT INTO outbox (channel, key, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, key) DO NOTHING',
    );
    this.selectHead = db.prepare(
      "SELECT id, channel, key, payload, attempts, next_attempt_at, created_at FROM outbox WHERE channel = ? AND status = 'pending' ORDER BY id LIMIT 1",
    );
    this.markSentStmt = db.prepare("UPDATE outbox SET status = 'sent', sent_at = ?, platform_id = ?, attempts = attempts + 1 WHERE id = ?");
    this.markRetryStmt = db.prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?');
    this.countPendingStmt = db.prepare("SELECT channel, count(*) AS n FROM outbox WHERE status = 'pending' GROUP BY channel");
  }

  /** Queues one message on each channel in one transaction; a key already queued on a channel is skipped. */
  enqueue(channels: readonly string[], key: string, message: OutgoingMessage, at: number): void {
    const payload = JSON.stringify(message);
    this.db.transaction(() => {
      for (const channel of channels) this.insert.run(channel, key, payload, at, at);
    })();
  }

  /** The oldest pending message of a channel: per-channel order means nothing behind it goes first. */
  head(channel: string): OutboxRow | undefined {
    const row = this.selectHead.get(channel) as
      { id: number; channel: string; key: string; payload: string; attempts: number; next_attempt_at: number; created_at: number } | undefined;
    if (!row) return undefined;
    return {
      id: row.id,
      channel: row.channel,
      key: row.key,
      message: JSON.parse(row.payload) as OutgoingMessage,
      attempts: row.attempts,
      nextAttemptAt: row.next_attempt_at,
      createdAt: row.created_at,
    };
  }

  markSent(id: number, at: number, platformId: string | undefined): void {
    this.markSentStmt.run(at, platformId ?? null, id);
  }

  markRetry(id: number, nextAttemptAt: number, error: string): void {
    this.markRetryStmt.run(nextAttemptAt, error.slice(0, 500), id);
  }

  markDead(id: number, error: string): void {
    this.db.prepare("UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ?").run(error.slice(0, 500), id);
  }

  /** Deletes delivered and dropped messages older than `before` (pending ones are kept whatever their age). */
  pruneFinished(before: number): number {
    return this.db.prepare("DELETE FROM outbox WHERE status != 'pending' AND created_at < ?").run(before).changes;
  }

  pendingByChannel(): Map<string, number> {
    return new Map((this.countPendingStmt.all() as Array<{ channel: string; n: number }>).map((r) => [r.channel, r.n]));
  }
}
