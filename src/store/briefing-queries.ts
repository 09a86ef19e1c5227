import type { Db } from './database.js';

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

/** An incident healed in time, so nobody was woken for it. */
export interface QuietHealLine {
  checkName: string;
  openedAt: number;
  closedAt: number | null;
  message: string;
}

/**
 * What the morning briefing and the weekly report read that no store offers
 * (incidents, heals, escalations and questions come from their own stores):
 * one read-only view, so the report holds no SQL. The
 * statements are prepared once; the briefing runs them every morning and the
 * streak of error-free days runs one of them up to a year of days in a row.
 */
export class BriefingQueries {
  private readonly openedSince;
  private readonly closedSince;
  private readonly openProposals;
  private readonly flagsSince;
  private readonly healsSkippedByFlagSince;
  private readonly failedMessagesSince;
  private readonly failedBetween;
  private readonly approvedFixesSince;
  private readonly firstEvent;
  private readonly quietHealsSince;

  constructor(db: Db) {
    this.openedSince = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM incidents WHERE opened_at >= ?');
    this.closedSince = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM incidents WHERE closed_at >= ?');
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
    this.quietHealsSince = db.prepare<[number], QuietHealLine>(
      `SELECT i.check_name AS checkName, i.opened_at AS openedAt, i.closed_at AS closedAt, i.first_message AS message
         FROM events e JOIN incidents i ON i.id = json_extract(e.context, '$.incidentId')
        WHERE e.type = 'incident.unannounced' AND e.at >= ? ORDER BY e.id`,
    );
  }

  /** Incidents that were never pushed because they healed in time (the `incident.unannounced` events), oldest first. */
  quietHeals(since: number): QuietHealLine[] {
    return this.quietHealsSince.all(since);
  }

  incidentsOpenedSince(since: number): number {
    return this.openedSince.get(since)!.n;
  }

  incidentsClosedSince(since: number): number {
    return this.closedSince.get(since)!.n;
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
