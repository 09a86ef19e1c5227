import type { Db } from './database.js';

export type ActionResult = 'ok' | 'failed' | 'skipped';

export interface ActionRow {
  id: number;
  at: number;
  category: string;
  target: string;
  trigger: string;
  incidentId: number | null;
  result: ActionResult;
  message: string;
  details: Record<string, unknown>;
  score: number | null;
}

/** Heal attempts since a time (all steps of one attempt share a target and a timestamp), and how many held or did not, as scored so far. */
export interface HealOutcomes {
  attempts: number;
  held: number;
  failed: number;
}

/** What counts as a heal step: not an escalation, a repair or an agent's own action. */
export const IS_HEAL = "category NOT IN ('escalate', 'repair') AND category NOT LIKE 'agent:%'";

/**
 * Every autonomous action, recorded so the regret index can score it later:
 * Nightshift's own, and agents' (category "agent:<category>", never counted
 * as heals: not in heals_24h, not against a check's maxHeals).
 */
export class ActionStore {
  private readonly insert;
  private readonly selectForTarget;
  private readonly selectOne;
  private readonly outcomesSince;
  private readonly escalationsSince;
  private readonly countCategorySince;
  private readonly countTargetSince;
  private readonly countByTarget;

  constructor(db: Db) {
    this.insert = db.prepare('INSERT INTO actions (at, category, target, trigger, incident_id, result, message, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.selectForTarget = db.prepare('SELECT * FROM actions WHERE target = ? ORDER BY id DESC LIMIT ?');
    this.selectOne = db.prepare('SELECT * FROM actions WHERE id = ?');
    this.outcomesSince = db.prepare<[number], HealOutcomes>(
      `SELECT count(DISTINCT target || ':' || at) AS attempts, count(DISTINCT CASE WHEN score = 1 THEN target || ':' || at END) AS held, count(DISTINCT CASE WHEN score < 0 THEN target || ':' || at END) AS failed FROM actions WHERE at >= ? AND ${IS_HEAL}`,
    );
    this.escalationsSince = db.prepare<[number], { target: string; message: string }>(
      "SELECT target, message FROM actions WHERE at >= ? AND category = 'escalate' ORDER BY id",
    );
    this.countCategorySince = db.prepare('SELECT count(*) AS n FROM actions WHERE at >= ? AND category = ?');
    this.countByTarget = db.prepare(`SELECT target, count(DISTINCT at) AS n FROM actions WHERE at >= ? AND ${IS_HEAL} GROUP BY target`);
    this.countTargetSince = db.prepare(`SELECT count(DISTINCT at) AS n FROM actions WHERE target = ? AND at >= ? AND ${IS_HEAL}`);
  }

  record(input: Omit<ActionRow, 'id' | 'score'>): number {
    return Number(
      this.insert.run(input.at, input.category, input.target, input.trigger, input.incidentId, input.result, input.message, JSON.stringify(input.details))
        .lastInsertRowid,
    );
  }

  /** The newest actions for a check. */
  forTarget(target: string, limit = 20): ActionRow[] {
    return (this.selectForTarget.all(target, limit) as Array<Record<string, unknown>>).map(actionFromRow);
  }

  /** One action by id; undefined when there is none. */
  get(id: number): ActionRow | undefined {
    const row = this.selectOne.get(id) as Record<string, unknown> | undefined;
    return row ? actionFromRow(row) : undefined;
  }

  /** Heal attempts (all steps of one attempt share a timestamp) since a time. */
  healAttemptsSince(at: number): number {
    return this.healOutcomesSince(at).attempts;
  }

  healOutcomesSince(at: number): HealOutcomes {
    return this.outcomesSince.get(at)!;
  }

  /** The escalations since a time, oldest first: which check, and why. */
  escalations(since: number): Array<{ target: string; message: string }> {
    return this.escalationsSince.all(since);
  }

  /** Heal attempts for one check since a time. */
  healAttemptsFor(target: string, since: number): number {
    return (this.countTargetSince.get(target, since) as { n: number }).n;
  }

  /** Heal attempts per check since a time (checks without any are absent). */
  healAttemptsByTarget(since: number): Map<string, number> {
    const rows = this.countByTarget.all(since) as Array<{ target: string; n: number }>;
    return new Map(rows.map((r) => [r.target, r.n]));
  }

  countCategory(category: string, since: number): number {
    return (this.countCategorySince.get(since, category) as { n: number }).n;
  }
}

function actionFromRow(r: Record<string, unknown>): ActionRow {
  return {
    id: r.id as number,
    at: r.at as number,
    category: r.category as string,
    target: r.target as string,
    trigger: r.trigger as string,
    incidentId: r.incident_id as number | null,
    result: r.result as ActionResult,
    message: r.message as string,
    details: JSON.parse(r.details as string) as Record<string, unknown>,
    score: r.score as number | null,
  };
}
