import { IS_HEAL } from './actions.js';
import type { Db } from './database.js';

/** Check transitions that began in one cell of the status page's strip (type: failed or recovered). */
export interface TransitionBucket {
  subject: string;
  type: 'check.failed' | 'check.recovered';
  cell: number;
  last: number;
}

/** One step of a heal (all steps of one attempt share a target and a time), with its automatic or operator's score. */
export interface HealStepLine {
  id: number;
  at: number;
  category: string;
  target: string;
  incidentId: number | null;
  result: 'ok' | 'failed' | 'skipped';
  message: string;
  score: number | null;
  scoreNote: string | null;
}

/** A question waiting for an answer on chat, without its answer code (a credential). */
export interface PendingQuestionLine {
  id: string;
  kind: string;
  subject: string;
  prompt: string;
  requiredRole: string;
  createdAt: number;
  expiresAt: number;
}

/** A proposed fix waiting for its question's answer. */
export interface PendingProposalLine {
  id: string;
  diagnosisId: number;
  kind: string;
  summary: string;
  target: string | null;
  questionId: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface DiagnosisLine {
  id: number;
  at: number;
  trigger: string;
  subject: string | null;
  signature: string | null;
  message: string;
}

/**
 * What the status page reads that no store offers, read only: the strip's
 * transitions grouped per quarter hour in SQL (a check failing every second
 * for a day is 86,400 events; the page gets at most 96 rows per check), the
 * instance records, the day's heal steps, pending questions without their
 * codes, pending proposals, the newest diagnosis. Prepared once; the page
 * rebuilds its overview after check runs.
 */
export class OverviewQueries {
  private readonly selectBuckets;
  private readonly selectLastOfType;
  private readonly selectInstanceMarks;
  private readonly selectLastInstanceMarkBefore;
  private readonly selectLastEventBefore;
  private readonly selectHealSteps;
  private readonly selectHeldSince;
  private readonly selectQuestions;
  private readonly selectProposals;
  private readonly selectDiagnosis;

  constructor(db: Db) {
    this.selectBuckets = db.prepare<{ origin: number; from: number; to: number; cellMs: number }, TransitionBucket>(
      `SELECT subject, type, CAST((at - @origin) / @cellMs AS INTEGER) AS cell, max(at) AS last
         FROM events WHERE type IN ('check.failed', 'check.recovered') AND at >= @from AND at < @to
        GROUP BY subject, type, cell`,
    );
    this.selectLastOfType = db.prepare<[string, string, number], { at: number | null }>(
      'SELECT max(at) AS at FROM events WHERE type = ? AND subject = ? AND at < ?',
    );
    this.selectInstanceMarks = db.prepare<[number, number], { at: number; type: 'instance.started' | 'instance.stopped' }>(
      "SELECT at, type FROM events WHERE type IN ('instance.started', 'instance.stopped') AND at >= ? AND at <= ? ORDER BY at, id",
    );
    this.selectLastInstanceMarkBefore = db.prepare<[number], { at: number | null }>(
      "SELECT max(at) AS at FROM events WHERE type IN ('instance.started', 'instance.stopped') AND at < ?",
    );
    this.selectLastEventBefore = db.prepare<[number], { at: number | null }>('SELECT max(at) AS at FROM events WHERE at < ?');
    this.selectHealSteps = db.prepare<[number, number], HealStepLine>(
      `SELECT id, at, category, target, incident_id AS incidentId, result, message, score, score_note AS scoreNote
         FROM actions WHERE at >= ? AND ${IS_HEAL}
        ORDER BY at DESC, id LIMIT ?`,
    );
    this.selectHeldSince = db.prepare<[number], { subject: string; healedAt: number; heldForMs: number }>(
      "SELECT subject, json_extract(context, '$.healedAt') AS healedAt, json_extract(context, '$.heldForMs') AS heldForMs FROM events WHERE type = 'heal.held' AND at >= ?",
    );
    this.selectQuestions = db.prepare<[number], PendingQuestionLine>(
      `SELECT id, kind, subject, prompt, required_role AS requiredRole, created_at AS createdAt, expires_at AS expiresAt
         FROM questions WHERE status = 'pending' AND expires_at > ? ORDER BY created_at`,
    );
    this.selectProposals = db.prepare<[number], PendingProposalLine>(
      `SELECT id, diagnosis_id AS diagnosisId, kind, summary, target, question_id AS questionId, created_at AS createdAt, expires_at AS expiresAt
         FROM proposals WHERE status = 'proposed' AND expires_at > ? ORDER BY created_at`,
    );
    this.selectDiagnosis = db.prepare<[], DiagnosisLine>('SELECT id, at, trigger, subject, signature, message FROM diagnoses ORDER BY id DESC LIMIT 1');
  }

  /** Per check and cell (counted in `cellMs` from `origin`), the latest failed run and the latest recovery that began in [from, to). */
  transitionBuckets(origin: number, from: number, to: number, cellMs: number): TransitionBucket[] {
    return this.selectBuckets.all({ origin, from, to, cellMs });
  }

  /** A check's last failed run or recovery before `before`: what state it was in then; null when it had none. */
  stateBefore(subject: string, before: number): 'ok' | 'failing' | null {
    const failed = this.selectLastOfType.get('check.failed', subject, before)!.at;
    const recovered = this.selectLastOfType.get('check.recovered', subject, before)!.at;
    if (failed === null && recovered === null) return null;
    return (failed ?? -Infinity) > (recovered ?? -Infinity) ? 'failing' : 'ok';
  }

  /** Starts and stops of Nightshift in [from, to], and the last one before `from` (it says whether it was running then), oldest first. */
  instanceMarks(from: number, to: number): Array<{ at: number; type: 'instance.started' | 'instance.stopped' }> {
    const earlier = this.selectLastInstanceMarkBefore.get(from)!.at;
    return this.selectInstanceMarks.all(earlier ?? from, to);
  }

  /** When the last event before `at` was recorded (a run that was killed was last seen then); null when none. */
  lastEventBefore(at: number): number | null {
    return this.selectLastEventBefore.get(at)!.at;
  }

  /** Heal steps since a time, newest first, at most `limit`. */
  healStepsSince(since: number, limit = 300): HealStepLine[] {
    return this.selectHealSteps.all(since, limit);
  }

  /** The heals recorded as held (`heal.held`) since a time: check and when the heal began. */
  heldSince(since: number): Array<{ subject: string; healedAt: number; heldForMs: number }> {
    return this.selectHeldSince.all(since);
  }

  /** Questions still open, oldest first. */
  pendingQuestions(now: number): PendingQuestionLine[] {
    return this.selectQuestions.all(now);
  }

  /** Proposals still open, oldest first. */
  pendingProposals(now: number): PendingProposalLine[] {
    return this.selectProposals.all(now);
  }

  /** The newest diagnosis, if any. */
  latestDiagnosis(): DiagnosisLine | undefined {
    return this.selectDiagnosis.get();
  }
}
