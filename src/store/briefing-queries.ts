import type { Db } from './database.js';

/** An open root incident as the briefing lists it. */
export interface OpenRootIncident {
  id: number;
  checkName: string;
  lastMessage: string;
  openedAt: number;
  escalatedAt: number | null;
}

/** Heal attempts since a time: one per target and time (a heal's steps share both), and how many held or did not. */
export interface HealCounts {
  n: number;
  held: number;
  failed: number;
}

export interface EscalationLine {
  target: string;
  message: string;
}

export interface PendingQuestionLine {
  id: string;
  prompt: string;
  kind: string;
}

export interface OpenProposalLine {
  id: string;
  summary: string;
}

export interface FlagLine {
  id: number;
  kind: string;
  category: string;
  target: string;
  reason: string;
}

/** Failed runs of one subject with one message (the briefing folds messages into signatures itself). */
export interface FailedMessageCount {
  subject: string;
  message: string | null;
  n: number;
}

/**
 * What the morning briefing and the weekly report read, across the tables of
 * several stores: one read-only view, so the report holds no SQL. The
 * statements are prepared once; the briefing runs them every morning and the
 * streak of error-free days runs one of them up to a year of days in a row.
 */
export class BriefingQueries {
  private readonly openedSince;
  private readonly closedSince;
  private readonly openRoots;
  private readonly healsSince;
  private readonly escalationsSince;
  private readonly pendingQuestions;
  private readonly openProposals;
  private readonly flagsSince;
  private readonly healsSkippedByFlagSince;
  private readonly failedMessagesSince;
  private readonly failedBetween;
  private readonly approvedFixesSince;
  private readonly firstEvent;

  constructor(db: Db) {
    this.openedSince = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM incidents WHERE opened_at >= ?');
    this.closedSince = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM incidents WHERE closed_at >= ?');
    this.openRoots = db.prepare<[], { id: number; check_name: string; last_message: string; opened_at: number; escalated_at: number | null }>(
      'SELECT id, check_name, last_message, opened_at, escalated_at FROM incidents WHERE closed_at IS NULL AND root_id IS NULL ORDER BY opened_at',
    );
    this.healsSince = db.prepare<[number], HealCounts>(
      "SELECT count(DISTINCT target || at) AS n, count(DISTINCT CASE WHEN score = 1 THEN target || at END) AS held, count(DISTINCT CASE WHEN score < 0 THEN target || at END) AS failed FROM actions WHERE at >= ? AND category != 'escalate'",
    );
    this.escalationsSince = db.prepare<[number], EscalationLine>("SELECT target, message FROM actions WHERE at >= ? AND category = 'escalate'");
    this.pendingQuestions = db.prepare<[], PendingQuestionLine>("SELECT id, prompt, kind FROM questions WHERE status = 'pending' ORDER BY created_at");
    this.openProposals = db.prepare<[], OpenProposalLine>("SELECT id, summary FROM proposals WHERE status = 'proposed' ORDER BY created_at");
    this.flagsSince = db.prepare<[number], FlagLine>('SELECT id, kind, category, target, reason FROM flags WHERE flagged_at >= ?');
    this.healsSkippedByFlagSince = db.prepare<[number], { n: number }>(
      "SELECT count(*) AS n FROM events WHERE type = 'heal.skipped' AND at >= ? AND json_extract(context, '$.byFlag') = 1",
    );
    this.failedMessagesSince = db.prepare<[number], FailedMessageCount>(
      "SELECT subject, json_extract(context, '$.message') AS message, count(*) AS n FROM events WHERE type = 'check.failed' AND at >= ? GROUP BY subject, message ORDER BY n DESC LIMIT 200",
    );
    this.failedBetween = db.prepare<[number, number], { n: number }>("SELECT count(*) AS n FROM events WHERE type = 'check.failed' AND at >= ? AND at < ?");
    this.approvedFixesSince = db.prepare<[number], { n: number }>("SELECT count(*) AS n FROM proposals WHERE status = 'approved' AND decided_at >= ?");
    this.firstEvent = db.prepare<[], { at: number | null }>('SELECT min(at) AS at FROM events');
  }

  incidentsOpenedSince(since: number): number {
    return this.openedSince.get(since)!.n;
  }

  incidentsClosedSince(since: number): number {
    return this.closedSince.get(since)!.n;
  }

  /** Open incidents that are no symptom of another, oldest first. */
  openRootIncidents(): OpenRootIncident[] {
    return this.openRoots.all().map((r) => ({
      id: r.id,
      checkName: r.check_name,
      lastMessage: r.last_message,
      openedAt: r.opened_at,
      escalatedAt: r.escalated_at,
    }));
  }

  healsSinceTime(since: number): HealCounts {
    return this.healsSince.get(since)!;
  }

  escalationsSinceTime(since: number): EscalationLine[] {
    return this.escalationsSince.all(since);
  }

  /** Questions still waiting for an answer, oldest first. */
  pendingQuestionLines(): PendingQuestionLine[] {
    return this.pendingQuestions.all();
  }

  /** Proposals not decided yet, oldest first. */
  openProposalLines(): OpenProposalLine[] {
    return this.openProposals.all();
  }

  flagsRaisedSince(since: number): FlagLine[] {
    return this.flagsSince.all(since);
  }

  healsSkippedByFlag(since: number): number {
    return this.healsSkippedByFlagSince.get(since)!.n;
  }

  /** The 200 most frequent (subject, message) pairs of failed runs since a time, most first. */
  failedMessageCounts(since: number): FailedMessageCount[] {
    return this.failedMessagesSince.all(since);
  }

  /** Failed runs in [from, to). */
  failedRunsBetween(from: number, to: number): number {
    return this.failedBetween.get(from, to)!.n;
  }

  fixesApprovedSince(since: number): number {
    return this.approvedFixesSince.get(since)!.n;
  }

  /** When the oldest stored event happened; +Infinity when there is none. */
  firstEventAt(): number {
    return this.firstEvent.get()!.at ?? Number.POSITIVE_INFINITY;
  }
}
