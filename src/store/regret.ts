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

/** Scores of actions and the flags the audit raises. */
export class RegretStore {
  constructor(private readonly db: Db) {}

  /** Actions (heals, escalations) not scored yet, oldest first. */
  unscored(): Array<{ id: number; at: number; category: string; target: string; result: string }> {
    return this.db.prepare('SELECT id, at, category, target, result FROM actions WHERE score IS NULL ORDER BY id').all() as Array<{
      id: number;
      at: number;
      category: string;
      target: string;
      result: string;
    }>;
  }

  setScore(id: number, score: number, at: number, note: string | null): boolean {
    return this.db.prepare('UPDATE actions SET score = ?, scored_at = ?, score_note = ? WHERE id = ?').run(score, at, note, id).changes === 1;
  }

  action(id: number): { id: number; category: string; target: string; score: number | null } | undefined {
    return this.db.prepare('SELECT id, category, target, score FROM actions WHERE id = ?').get(id) as
      { id: number; category: string; target: string; score: number | null } | undefined;
  }

  /** The last `limit` scores of a category (scored after `since`), newest first. */
  lastScores(category: string, limit: number, since = 0): number[] {
    return (
      this.db
        .prepare('SELECT score FROM actions WHERE category = ? AND score IS NOT NULL AND scored_at > ? ORDER BY scored_at DESC, id DESC LIMIT ?')
        .all(category, since, limit) as Array<{ score: number }>
    ).map((r) => r.score);
  }

  /** Scores of -1 or worse for one action (category + target) since a time. */
  badScoresSince(category: string, target: string, since: number): number {
    return (
      this.db.prepare('SELECT count(*) AS n FROM actions WHERE category = ? AND target = ? AND score <= -1 AND scored_at > ?').get(category, target, since) as {
        n: number;
      }
    ).n;
  }

  /** Per category: count, average, and the scores newest first (for the trend). */
  categories(): Array<{ category: string; count: number; average: number; recent: number[] }> {
    const rows = this.db
      .prepare('SELECT category, count(*) AS n, avg(score) AS avg FROM actions WHERE score IS NOT NULL GROUP BY category ORDER BY category')
      .all() as Array<{ category: string; n: number; avg: number }>;
    return rows.map((r) => ({ category: r.category, count: r.n, average: r.avg, recent: this.lastScores(r.category, 10) }));
  }

  activeFlags(): FlagRow[] {
    return (this.db.prepare('SELECT * FROM flags WHERE cleared_at IS NULL ORDER BY id').all() as Array<Record<string, unknown>>).map(flagFromRaw);
  }

  /** When a flag on this key was last cleared (0 if never): older scores do not count again. */
  lastCleared(kind: FlagRow['kind'], category: string, target: string): number {
    return (
      (
        this.db.prepare('SELECT max(cleared_at) AS at FROM flags WHERE kind = ? AND category = ? AND target = ?').get(kind, category, target) as {
          at: number | null;
        }
      ).at ?? 0
    );
  }

  /** Raises a flag unless the same one is active; returns it when new. */
  flag(kind: FlagRow['kind'], category: string, target: string, reason: string, at: number): FlagRow | undefined {
    const changes = this.db
      .prepare('INSERT INTO flags (kind, category, target, reason, flagged_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(kind, category, target, reason, at).changes;
    if (changes === 0) return undefined;
    return flagFromRaw(this.db.prepare('SELECT * FROM flags WHERE id = last_insert_rowid()').get() as Record<string, unknown>);
  }

  clear(id: number, by: string, at: number): FlagRow | undefined {
    const changed = this.db.prepare('UPDATE flags SET cleared_at = ?, cleared_by = ? WHERE id = ? AND cleared_at IS NULL').run(at, by, id).changes;
    if (changed === 0) return undefined;
    return flagFromRaw(this.db.prepare('SELECT * FROM flags WHERE id = ?').get(id) as Record<string, unknown>);
  }
}
