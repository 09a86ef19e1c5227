import type { Db } from './database.js';
import { AUDITED_EVENT_TYPES, AuditLog } from './audit.js';

export type Severity = 'debug' | 'info' | 'warning' | 'critical';

/**
 * Every event type and the shape of its context. New types are added here,
 * so a writer cannot invent an untyped event and a reader knows what it gets.
 */
export interface EventContexts {
  'instance.started': { pid: number; version: string; config: string; http: string };
  'instance.stopped': { pid: number; signal?: string; uptimeMs: number };
  'instance.stale_lock_taken_over': { lockFile: string; previousPid: number; previousStartedAt?: string; reason: string };
  'check.failed': { kind: string; message: string; durationMs: number; consecutiveFailures: number; timedOut?: boolean } & Record<string, unknown>;
  'check.recovered': { kind: string; message: string; downForMs: number | null } & Record<string, unknown>;
  'incident.opened': { incidentId: number; message: string; symptomOf: string | null; rootIncidentId: number | null };
  'incident.closed': { incidentId: number; durationMs: number; failures: number; symptomOf: number | null };
  'incident.reclassified': { incidentId: number; symptomOf: string; rootIncidentId: number };
  'check.flapping': { changes: number; windowMs: number };
  'check.stable': { status: string };
  'heal.attempted': { incidentId: number; steps: string[]; delayMs: number; attempt: number };
  'heal.succeeded': { incidentId: number; steps: HealStepOutcome[]; durationMs: number };
  'heal.failed': { incidentId: number; steps: HealStepOutcome[]; durationMs: number };
  'heal.skipped': { incidentId: number | null; reason: string; byFlag?: boolean };
  'heal.held': { healedAt: number; heldForMs: number };
  escalated: { incidentId: number; reason: string; file: string | null };
  'heartbeat.received': { kind: 'ping' | 'start' | 'fail'; body?: string };
  'command.failed': { command: string; channel: string; error: string };
  'chat.refused': { channel: string; userId: string; what: string };
  'question.asked': { questionId: string; kind: string; expiresAt: number };
  'question.answered': { questionId: string; kind: string; answer: 'yes' | 'no'; by: string; channel: string };
  'question.expired': { questionId: string; kind: string };
  'incident.acked': { incidentId: number; by: string; channel: string };
  'check.muted': { until: number; by: string; channel: string };
  'surgery.changed': { enabled: boolean; by: string; channel: string };
  'consent.changed': { name: string; from: string; to: string; event: string; by: string; channel: string };
  'diagnosis.made': { diagnosisId: number; trigger: string; signature: string | null; chains: number; llm: 'answered' | 'unavailable' | 'off'; llmError?: string };
  'proposal.made': { proposalId: string; diagnosisId: number; kind: string };
  'proposal.decided': { proposalId: string; status: string; by: string; channel: string };
  'regret.scored': { actionId: number; category: string; score: number; note: string };
  'regret.flagged': { flagId: number; kind: string; category: string; target: string; reason: string };
  'regret.cleared': { flagId: number; by: string; channel: string };
  'heal.requested': { by: string; channel: string };
  'channel.failed': { channel: string; error: string };
}

export type EventType = keyof EventContexts;

/** One heal step's result as stored in heal events. */
export interface HealStepOutcome {
  action: string;
  ok: boolean;
  message: string;
  durationMs: number;
}

export interface EventRow<T extends EventType = EventType> {
  id: number;
  at: number;
  type: T;
  subject: string;
  severity: Severity;
  context: EventContexts[T];
}

/** The append-only event log. Events of the audited types also go, in the same transaction, to the hash-chained audit trail. */
export class EventLog {
  private readonly insert;
  private readonly selectRecent;
  private readonly audit: AuditLog;

  constructor(private readonly db: Db) {
    this.audit = new AuditLog(db);
    this.insert = db.prepare<[number, string, string, string, string]>('INSERT INTO events (at, type, subject, severity, context) VALUES (?, ?, ?, ?, ?)');
    this.selectRecent = db.prepare<[number]>('SELECT id, at, type, subject, severity, context FROM events ORDER BY id DESC LIMIT ?');
  }

  /** Appends one event and returns its id; committed when this returns. */
  append<T extends EventType>(at: number, type: T, subject: string, severity: Severity, context: EventContexts[T]): number {
    if (!AUDITED_EVENT_TYPES.has(type)) return Number(this.insert.run(at, type, subject, severity, JSON.stringify(context)).lastInsertRowid);
    return this.db.transaction(() => {
      this.audit.append(at, type, subject, context);
      return Number(this.insert.run(at, type, subject, severity, JSON.stringify(context)).lastInsertRowid);
    })();
  }

  /** The newest events first. */
  recent(limit = 50): EventRow[] {
    return (this.selectRecent.all(limit) as Array<Omit<EventRow, 'context'> & { context: string }>).map((row) => ({
      ...row,
      context: JSON.parse(row.context) as EventRow['context'],
    }));
  }

  /** The newest events about one subject, oldest first. */
  forSubject(subject: string, limit = 20): EventRow[] {
    const rows = this.db.prepare('SELECT id, at, type, subject, severity, context FROM events WHERE subject = ? ORDER BY id DESC LIMIT ?').all(subject, limit) as Array<
      Omit<EventRow, 'context'> & { context: string }
    >;
    return rows.reverse().map((row) => ({ ...row, context: JSON.parse(row.context) as EventRow['context'] }));
  }

  /** Events of one type, oldest first. */
  ofType<T extends EventType>(type: T, since = 0): Array<EventRow<T>> {
    const rows = this.db.prepare('SELECT id, at, type, subject, severity, context FROM events WHERE type = ? AND at >= ? ORDER BY id').all(type, since) as Array<
      Omit<EventRow<T>, 'context'> & { context: string }
    >;
    return rows.map((row) => ({ ...row, context: JSON.parse(row.context) as EventContexts[T] }));
  }
}
