import { createHash } from 'node:crypto';
import type { Db } from './database.js';

/** The event types DESIGN.md puts in the audit trail: consent, approvals, operator decisions. */
export const AUDITED_EVENT_TYPES: ReadonlySet<string> = new Set([
  'consent.changed',
  'surgery.changed',
  'question.answered',
  'proposal.decided',
  'proposal.made',
  'repair.started',
  'repair.step',
  'repair.finished',
  'regret.cleared',
  'heal.requested',
  'incident.acked',
  'check.muted',
  'silence.added',
  'silence.removed',
  'chat.refused',
  'chat.locked_out',
]);

export const GENESIS = '0'.repeat(64);

/** sha256 over the previous hash and the row's fields: changing, removing or inserting a row breaks every hash after it. */
export function auditHash(prevHash: string, row: { at: number; type: string; subject: string; detail: string }): string {
  return createHash('sha256').update(`${prevHash}\n${row.at}\n${row.type}\n${row.subject}\n${row.detail}`).digest('hex');
}

export type AuditVerdict = { ok: true; rows: number } | { ok: false; rows: number; brokenAt: number; reason: string };

/** The hash-chained, append-only audit trail. */
export class AuditLog {
  private readonly last;
  private readonly insert;

  constructor(private readonly db: Db) {
    this.last = db.prepare('SELECT hash FROM audit ORDER BY id DESC LIMIT 1');
    this.insert = db.prepare('INSERT INTO audit (at, type, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** Appends one row chained to the last (call inside the transaction that makes the change). */
  append(at: number, type: string, subject: string, detail: unknown): void {
    const prevHash = (this.last.get() as { hash: string } | undefined)?.hash ?? GENESIS;
    const json = JSON.stringify(detail);
    this.insert.run(at, type, subject, json, prevHash, auditHash(prevHash, { at, type, subject, detail: json }));
  }

  /** Walks the chain from the first row; names the first row that does not fit. */
  verify(): AuditVerdict {
    let prev = GENESIS;
    let rows = 0;
    for (const row of this.db.prepare('SELECT id, at, type, subject, detail, prev_hash, hash FROM audit ORDER BY id').iterate() as Iterable<{
      id: number;
      at: number;
      type: string;
      subject: string;
      detail: string;
      prev_hash: string;
      hash: string;
    }>) {
      if (row.prev_hash !== prev)
        return { ok: false, rows, brokenAt: row.id, reason: 'its link to the previous row does not match (a row was removed or inserted before it)' };
      if (auditHash(prev, row) !== row.hash) return { ok: false, rows, brokenAt: row.id, reason: 'its content does not match its hash (it was changed)' };
      prev = row.hash;
      rows++;
    }
    return { ok: true, rows };
  }
}
