import type { Db } from './database.js';

export interface FlagRow {
  id: number;
  kind: 'category' | 'action';
  category: string;
  target: string;
  reason: string;
  flaggedAt: number;
  clearedAt: number | null;
  clearedBy: string | null;
}

export interface ScoredAction {
  id: number;
  at: number;
  category: string;
  target: string;
  score: number;
  scoredAt: number;
}

const flagFromRaw = (r: Record<string, unknown>): FlagRow => ({
  id: r.id as number,
  kind: r.kind as FlagRow['kind'],
  category: r.category as string,
  target: r.target as string,
  reason: r.reason as string,
  flaggedAt: r.flagged_at as number,
  clearedAt: r.cleared_at as number | null,
  clearedBy: r.cleared_by as string | null,
});

/** Scores of actions and the flags the audit raises. Statements are prepared once: the status page reads the categories on every update. */
export class RegretStore {
  private readonly statements;

  constructor(db: Db) {
    this.statements = {
      unscored: db.prepare<[], { id: number; at: number; category: string; target: string; result: string }>(
        'SELECT id, at, category, target, result FROM actions WHERE score IS NULL ORDER BY id',
      ),
      setScore: db.prepare<[number, number, string | null, number]>('UPDATE actions SET score = ?, scored_at = ?, score_note = ? WHERE id = ?'),
      action: db.prepare<[number], { id: number; category: string; target: string; score: number | null }>(
        'SELECT id, category, target, score FROM actions WHERE id = ?',
      ),
      lastScores: db.prepare<[string, number, number], { score: number }>(
        'SELECT score FROM actions WHERE category = ? AND score IS NOT NULL AND scored_at > ? ORDER BY scored_at DESC, id DESC LIMIT ?',
      ),
      badScoresSince: db.prepare<[string, string, number], { n: number }>(
        'SELECT count(*) AS n FROM actions WHERE category = ? AND target = ? AND score <= -1 AND scored_at > ?',
      ),
      categories: db.prepare<[], { category: string; n: number; avg: number }>(
        'SELECT category, count(*) AS n, avg(score) AS avg FROM actions WHERE score IS NOT NULL GROUP BY category ORDER BY category',
      ),
      activeFlags: db.prepare<[], Record<string, unknown>>('SELECT * FROM flags WHERE cleared_at IS NULL ORDER BY id'),
      lastCleared: db.prepare<[string, string, string], { at: number | null }>(
        'SELECT max(cleared_at) AS at FROM flags WHERE kind = ? AND category = ? AND target = ?',
      ),
      flag: db.prepare<[string, string, string, string, number]>(
        'INSERT INTO flags (kind, category, target, reason, flagged_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      lastFlag: db.prepare<[], Record<string, unknown>>('SELECT * FROM flags WHERE id = last_insert_rowid()'),
      clear: db.prepare<[number, string, number]>('UPDATE flags SET cleared_at = ?, cleared_by = ? WHERE id = ? AND cleared_at IS NULL'),
      flagById: db.prepare<[number], Record<string, unknown>>('SELECT * FROM flags WHERE id = ?'),
    };
  }

  /** Actions (heals, escalations) not scored yet, oldest first. */
  unscored(): Array<{ id: number; at: number; category: string; target: string; result: string }> {
    return this.statements.unscored.all();
  }

  setScore(id: number, score: number, at: number, note: string | null): boolean {
    return this.statements.setScore.run(score, at, note, id).changes === 1;
  }

  action(id: number): { id: number; category: string; target: string; score: number | null } | undefined {
    return this.statements.action.get(id);
  }

  /** The last `limit` scores of a category (scored after `since`), newest first. */
  lastScores(category: string, limit: number, since = 0): number[] {
    return this.statements.lastScores.all(category, since, limit).map((r) => r.score);
  }

  /** Scores of -1 or worse for one action (category + target) since a time. */
  badScoresSince(category: string, target: string, since: number): number {
    return this.statements.badScoresSince.get(category, target, since)!.n;
  }

  /** Per category: count, average, and the scores newest first (for the trend). */
  categories(): Array<{ category: string; count: number; average: number; recent: number[] }> {
    return this.statements.categories.all().map((r) => ({ category: r.category, count: r.n, average: r.avg, recent: this.lastScores(r.category, 10) }));
  }

  activeFlags(): FlagRow[] {
    return this.statements.activeFlags.all().map(flagFromRaw);
  }

  /** When a flag on this key was last cleared (0 if never): older scores do not count again. */
  lastCleared(kind: FlagRow['kind'], category: string, target: string): number {
    return this.statements.lastCleared.get(kind, category, target)?.at ?? 0;
  }

  /** Raises a flag unless the same one is active; returns it when new. */
  flag(kind: FlagRow['kind'], category: string, target: string, reason: string, at: number): FlagRow | undefined {
    if (this.statements.flag.run(kind, category, target, reason, at).changes === 0) return undefined;
    return flagFromRaw(this.statements.lastFlag.get()!);
  }

  clear(id: number, by: string, at: number): FlagRow | undefined {
    if (this.statements.clear.run(at, by, id).changes === 0) return undefined;
    return flagFromRaw(this.statements.flagById.get(id)!);
  }
}
