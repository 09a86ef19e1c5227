import type { Db } from './database.js';
import { AUDITED_EVENT_TYPES, AuditLog } from './audit.js';
import { Redactor } from '../log/redact.js';
import { clipStrings } from '../util/text.js';

/** No string in a stored event is longer than this (a service's stderr, a ping body): the log stays bounded. */
export const MAX_EVENT_STRING = 4_000;

export type Severity = 'debug' | 'info' | 'warning' | 'critical';

/**
 * Every event type and the shape of its context. New types are added here,
 * so a writer cannot invent an untyped event and a reader knows what it gets.
 */
export interface EventContexts {
  'instance.started': { pid: number; version: string; config: string; http: string };
  /** A reload (SIGHUP, `nightshift reload`) applied the file: what it started, stopped and restarted. */
  'config.reloaded': { config: string; added: string[]; removed: string[]; changed: string[]; needRestart: string[]; summary: string; durationMs: number };
  /** A reload refused the file (nothing changed): the problems, each naming its field. */
  'config.reload_failed': { config: string; problems: string };
  'instance.stopped': { pid: number; signal?: string; uptimeMs: number };
  'instance.stale_lock_taken_over': { lockFile: string; previousPid: number; previousStartedAt?: string; reason: string };
  'check.failed': { kind: string; message: string; durationMs: number; consecutiveFailures: number; timedOut?: boolean } & Record<string, unknown>;
  'check.recovered': { kind: string; message: string; downForMs: number | null } & Record<string, unknown>;
  'incident.opened': { incidentId: number; message: string; symptomOf: string | null; rootIncidentId: number | null };
  /** checkRemoved: closed because a reload removed its check (it did not recover). */
  'incident.closed': { incidentId: number; durationMs: number; failures: number; symptomOf: number | null; checkRemoved?: true };
  'incident.reclassified': { incidentId: number; symptomOf: string; rootIncidentId: number };
  'check.flapping': { changes: number; windowMs: number; pushed?: boolean };
  'check.stable': { status: string };
  /** `slowRetry`: the periodic heal after an escalation (retryAfterEscalation). */
  'heal.attempted': { incidentId: number; steps: string[]; delayMs: number; attempt: number; slowRetry?: boolean };
  'heal.succeeded': { incidentId: number; steps: HealStepOutcome[]; durationMs: number };
  'heal.failed': { incidentId: number; steps: HealStepOutcome[]; durationMs: number };
  'heal.skipped': { incidentId: number | null; reason: string; byFlag?: boolean };
  'heal.held': { healedAt: number; heldForMs: number };
  escalated: { incidentId: number; reason: string; file: string | null };
  /** An unacknowledged escalation sent again, louder (`sends`: how many times it has gone out now). */
  'escalation.resent': { incidentId: number; sends: number; channels: string[] | 'all' };
  /** A message a channel did not get because of its quiet hours; summed up when they end. */
  'notify.held': { channel: string; title: string; severity: string; kind: string };
  /** An incident that closed before it was ever announced (healed in time, or an optional check): the briefing has it. */
  'incident.unannounced': { incidentId: number; reason: string };
  'heartbeat.received': { kind: 'ping' | 'start' | 'fail'; body?: string };
  'command.failed': { command: string; channel: string; error: string };
  /** `suppressed`: refusals of that person not answered (rate-limited) since the previous recorded one. */
  'chat.refused': { channel: string; userId: string; what: string; suppressed?: number };
  /** Too many wrong answer codes from one place: answers by code from there are refused until `until`. */
  'chat.locked_out': { channel: string; userId: string; wrongCodes: number; windowMs: number; until: number };
  'question.asked': { questionId: string; kind: string; expiresAt: number };
  'question.answered': { questionId: string; kind: string; answer: 'yes' | 'no'; by: string; channel: string };
  'question.expired': { questionId: string; kind: string };
  'incident.acked': { incidentId: number; by: string; channel: string };
  'check.muted': { until: number; by: string; channel: string };
  'silence.added': { silenceId: number; until: number; reason: string | null; covers: string[]; by: string; channel: string };
  'silence.removed': { silenceId: number; by: string; channel: string };
  'surgery.changed': { enabled: boolean; by: string; channel: string };
  'consent.changed': { name: string; from: string; to: string; event: string; by: string; channel: string };
  'diagnosis.made': {
    diagnosisId: number;
    trigger: string;
    signature: string | null;
    chains: number;
    llm: 'answered' | 'unavailable' | 'off';
    llmError?: string;
  };
  'proposal.made': { proposalId: string; diagnosisId: number; kind: string; applicable?: boolean; reason?: string };
  'repair.started': { repairId: string; target: string; kind: string; by: string };
  /** One step of a repair (backup, apply, build, restart, verify-*, commit, restore): how long it took and what it did. */
  'repair.step': { repairId: string; step: string; ok: boolean; ms: number; detail: string };
  'repair.finished': { repairId: string; state: string; reason?: string; commit?: string };
  'proposal.decided': { proposalId: string; status: string; by: string; channel: string };
  'regret.scored': { actionId: number; category: string; score: number; note: string };
  'regret.flagged': { flagId: number; kind: string; category: string; target: string; reason: string };
  'regret.cleared': { flagId: number; by: string; channel: string };
  'heal.requested': { by: string; channel: string };
  'channel.failed': { channel: string; error: string };
  /** A stuck task a queue heal moved back to ready (`retries`: its retry count now). */
  'task.requeued': { source: string; task: string; from: string; to: string; retries: number; stuckForMs: number };
  /** A task that stayed stuck through its retries, marked failed so the pipeline moves on. */
  'task.gave_up': { source: string; task: string; from: string; to: string; retries: number; stuckForMs: number };
  /** An agent's own action (POST /events), recorded in the regret index as action `actionId` (category "agent:<category>"). */
  'agent.action': { actionId: number; agent: string; category: string; message: string; context: Record<string, unknown>; scoredBy: 'check' | 'agent' };
  /** An agent's own typed error (POST /events): the causal analysis names it when a failure of its target follows. */
  'agent.error': { agent: string; category: string; message: string; context: Record<string, unknown> };
  /** One Alertmanager delivery (one group); `unmatched`: alert names no `alert` check takes. */
  'alert.received': { groupKey: string; status: string; receiver: string; firing: number; resolved: number; truncated: number; unmatched: string[] };
  /** A generated script with findings, moved out of the agents' way (never deleted). */
  'script.quarantined': { path: string; movedTo: string; findings: string[] };
  /** The database could be written again after writes failed (disk full) since `since`. */
  'store.recovered': { since: number; failures: number; lastError: string };
  /**
   * Something Nightshift watches changed (src/changes/): a git HEAD, a lockfile, an env file, the config, a model
   * list. Its subject is the repo's or repair target's name, "config", or the ollama check's name; `at` is when it
   * happened when that can be known (reflog time, mtime), never before the previous look nor after `detectedAt`.
   */
  change: {
    source: 'git' | 'lockfile' | 'env' | 'config' | 'models' | 'drift';
    /** One human line, no secrets: ".env of api changed: DATABASE_URL removed, POOL_SIZE changed". */
    summary: string;
    /** The configured checks this change concerns; [] when it concerns all of them. */
    checks: string[];
    /** The file or folder, when there is one. */
    path?: string;
    /** Short fingerprints before/after (git short sha, first 12 hex of a sha256): never a value. */
    before?: string | null;
    after?: string;
    /** When Nightshift noticed it (ms); `at` is when it happened. */
    detectedAt: number;
    /** Noticed at Nightshift's start: it happened while Nightshift was not running. */
    whileDown?: boolean;
  };
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
  private readonly countCritical;
  private readonly audit: AuditLog;

  /**
   * `redactor` cleans every context before it is stored: events quote what
   * services printed, and the database must hold no secret in clear. The bot
   * passes its own (which knows the configured tokens); the default knows the
   * token shapes and secret-named values.
   */
  constructor(
    private readonly db: Db,
    private readonly redactor: Redactor = new Redactor(),
  ) {
    this.audit = new AuditLog(db);
    this.insert = db.prepare<[number, string, string, string, string]>('INSERT INTO events (at, type, subject, severity, context) VALUES (?, ?, ?, ?, ?)');
    this.selectRecent = db.prepare<[number]>('SELECT id, at, type, subject, severity, context FROM events ORDER BY id DESC LIMIT ?');
    this.countCritical = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM events WHERE type = 'check.failed' AND severity = 'critical'");
  }

  /** Appends one event and returns its id; committed when this returns. */
  append<T extends EventType>(at: number, type: T, subject: string, severity: Severity, rawContext: EventContexts[T]): number {
    const context = clipStrings(this.redactor.redactValue(rawContext), MAX_EVENT_STRING);
    if (!AUDITED_EVENT_TYPES.has(type)) return Number(this.insert.run(at, type, subject, severity, JSON.stringify(context)).lastInsertRowid);
    return this.db.transaction(() => {
      this.audit.append(at, type, subject, context);
      return Number(this.insert.run(at, type, subject, severity, JSON.stringify(context)).lastInsertRowid);
    })();
  }

  /**
   * Deletes events older than `before`, at most `maxBatches` batches of
   * `batch` rows, so the patrol is never held up by one long delete (a
   * years-old log is worked off over several calls); returns how many went.
   * The audit trail is a table of its own and is never pruned.
   */
  pruneBefore(before: number, options: { batch?: number; maxBatches?: number } = {}): number {
    const batch = options.batch ?? 5_000;
    // No ORDER BY: it would scan the whole table in id order each call; the events_at index finds the old rows at once.
    const statement = this.db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? LIMIT ?)');
    let total = 0;
    for (let i = 0; i < (options.maxBatches ?? Infinity); i++) {
      const deleted = statement.run(before, batch).changes;
      total += deleted;
      if (deleted < batch) break;
    }
    return total;
  }

  /** Failed runs of critical checks ever stored (as far back as retention keeps them). */
  criticalFailureCount(): number {
    return this.countCritical.get()!.n;
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
    const rows = this.db
      .prepare('SELECT id, at, type, subject, severity, context FROM events WHERE subject = ? ORDER BY id DESC LIMIT ?')
      .all(subject, limit) as Array<Omit<EventRow, 'context'> & { context: string }>;
    return rows.reverse().map((row) => ({ ...row, context: JSON.parse(row.context) as EventRow['context'] }));
  }

  /** Events of one type, oldest first. */
  ofType<T extends EventType>(type: T, since = 0): Array<EventRow<T>> {
    const rows = this.db
      .prepare('SELECT id, at, type, subject, severity, context FROM events WHERE type = ? AND at >= ? ORDER BY id')
      .all(type, since) as Array<Omit<EventRow<T>, 'context'> & { context: string }>;
    return rows.map((row) => ({ ...row, context: JSON.parse(row.context) as EventContexts[T] }));
  }
}
