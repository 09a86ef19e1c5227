import type { Db } from './database.js';

export interface IncidentRow {
  id: number;
  checkName: string;
  severity: 'critical' | 'optional';
  openedAt: number;
  closedAt: number | null;
  /** The incident this one is a symptom of; null for a root cause. */
  rootId: number | null;
  firstMessage: string;
  lastMessage: string;
  failures: number;
  escalatedAt: number | null;
  ackedAt: number | null;
  ackedBy: string | null;
  lastNotifiedAt: number | null;
  /** How many times the escalation alert has gone out (0: not escalated), and when last. */
  escalationSends: number;
  escalationSentAt: number | null;
}

interface Raw {
  id: number;
  check_name: string;
  severity: 'critical' | 'optional';
  opened_at: number;
  closed_at: number | null;
  root_id: number | null;
  first_message: string;
  last_message: string;
  failures: number;
  escalated_at: number | null;
  acked_at: number | null;
  acked_by: string | null;
  last_notified_at: number | null;
  escalation_sends: number;
  escalation_sent_at: number | null;
}

const fromRaw = (r: Raw): IncidentRow => ({
  id: r.id,
  checkName: r.check_name,
  severity: r.severity,
  openedAt: r.opened_at,
  closedAt: r.closed_at,
  rootId: r.root_id,
  firstMessage: r.first_message,
  lastMessage: r.last_message,
  failures: r.failures,
  escalatedAt: r.escalated_at,
  ackedAt: r.acked_at,
  ackedBy: r.acked_by,
  lastNotifiedAt: r.last_notified_at,
  escalationSends: r.escalation_sends,
  escalationSentAt: r.escalation_sent_at,
});

/** Incidents: open while a check keeps failing, closed with their duration on recovery. */
export class IncidentStore {
  private readonly selectOpen;
  private readonly selectOpenAll;
  private readonly selectClosedSince;
  private readonly selectById;
  private readonly insert;
  private readonly updateFailure;
  private readonly updateClose;
  private readonly updateRoot;
  private readonly updateEscalated;
  private readonly updateEscalationSent;
  private readonly updateNotified;
  private readonly updateAck;

  constructor(private readonly db: Db) {
    this.selectOpen = db.prepare('SELECT * FROM incidents WHERE check_name = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1');
    this.selectOpenAll = db.prepare('SELECT * FROM incidents WHERE closed_at IS NULL ORDER BY id');
    this.selectClosedSince = db.prepare('SELECT * FROM incidents WHERE closed_at >= ? ORDER BY id DESC LIMIT ?');
    this.selectById = db.prepare('SELECT * FROM incidents WHERE id = ?');
    this.insert = db.prepare(
      'INSERT INTO incidents (check_name, severity, opened_at, root_id, first_message, last_message, failures) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.updateFailure = db.prepare('UPDATE incidents SET last_message = ?, failures = failures + 1 WHERE id = ?');
    this.updateClose = db.prepare('UPDATE incidents SET closed_at = ? WHERE id = ? AND closed_at IS NULL');
    this.updateRoot = db.prepare('UPDATE incidents SET root_id = ? WHERE id = ?');
    this.updateEscalated = db.prepare(
      'UPDATE incidents SET escalated_at = ?, escalation_sends = 1, escalation_sent_at = ? WHERE id = ? AND escalated_at IS NULL',
    );
    this.updateEscalationSent = db.prepare('UPDATE incidents SET escalation_sends = escalation_sends + 1, escalation_sent_at = ? WHERE id = ?');
    this.updateNotified = db.prepare('UPDATE incidents SET last_notified_at = ? WHERE id = ?');
    this.updateAck = db.prepare('UPDATE incidents SET acked_at = ?, acked_by = ? WHERE id = ? AND closed_at IS NULL');
  }

  openFor(checkName: string): IncidentRow | undefined {
    const raw = this.selectOpen.get(checkName) as Raw | undefined;
    return raw && fromRaw(raw);
  }

  allOpen(): IncidentRow[] {
    return (this.selectOpenAll.all() as Raw[]).map(fromRaw);
  }

  /** Incidents closed since `since`, newest first, at most `limit`. */
  closedSince(since: number, limit: number): IncidentRow[] {
    return (this.selectClosedSince.all(since, limit) as Raw[]).map(fromRaw);
  }

  get(id: number): IncidentRow | undefined {
    const raw = this.selectById.get(id) as Raw | undefined;
    return raw && fromRaw(raw);
  }

  open(input: { checkName: string; severity: IncidentRow['severity']; at: number; rootId: number | null; message: string; failures: number }): IncidentRow {
    const id = Number(this.insert.run(input.checkName, input.severity, input.at, input.rootId, input.message, input.message, input.failures).lastInsertRowid);
    return this.get(id)!;
  }

  recordFailure(id: number, message: string): void {
    this.updateFailure.run(message, id);
  }

  close(id: number, at: number): void {
    this.updateClose.run(at, id);
  }

  setRoot(id: number, rootId: number | null): void {
    this.updateRoot.run(rootId, id);
  }

  /** Marks the incident escalated; false when it already was (escalate once). */
  markEscalated(id: number, at: number): boolean {
    return this.updateEscalated.run(at, at, id).changes === 1;
  }

  /** The escalation alert went out again (re-sent, louder). */
  markEscalationSent(id: number, at: number): void {
    this.updateEscalationSent.run(at, id);
  }

  markNotified(id: number, at: number): void {
    this.updateNotified.run(at, id);
  }

  /** Quiets an open incident's reminders until it closes; false when it is not open. */
  ack(id: number, by: string, at: number): boolean {
    return this.updateAck.run(at, by, id).changes === 1;
  }
}
