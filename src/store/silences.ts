import type { Db } from './database.js';

export interface SilenceRow {
  id: number;
  matcher: string;
  createdAt: number;
  createdBy: string;
  until: number;
  reason: string | null;
  removedAt: number | null;
  removedBy: string | null;
}

interface RawRow {
  id: number;
  matcher: string;
  created_at: number;
  created_by: string;
  until: number;
  reason: string | null;
  removed_at: number | null;
  removed_by: string | null;
}

const fromRaw = (r: RawRow): SilenceRow => ({
  id: r.id,
  matcher: r.matcher,
  createdAt: r.created_at,
  createdBy: r.created_by,
  until: r.until,
  reason: r.reason,
  removedAt: r.removed_at,
  removedBy: r.removed_by,
});

/**
 * Silences set from chat. The ones not removed and not yet expired are also
 * kept in memory: every check result asks whether its check is silenced, and
 * this process is the database's only writer.
 */
export class SilenceStore {
  private cache: SilenceRow[] | undefined;
  private readonly insert;
  private readonly selectLive;
  private readonly selectById;
  private readonly updateRemoved;

  constructor(db: Db) {
    this.insert = db.prepare('INSERT INTO silences (matcher, created_at, created_by, until, reason) VALUES (?, ?, ?, ?, ?)');
    this.selectLive = db.prepare('SELECT * FROM silences WHERE removed_at IS NULL AND until > ? ORDER BY id');
    this.selectById = db.prepare('SELECT * FROM silences WHERE id = ?');
    this.updateRemoved = db.prepare('UPDATE silences SET removed_at = ?, removed_by = ? WHERE id = ? AND removed_at IS NULL AND until > ?');
  }

  add(input: { matcher: string; createdAt: number; createdBy: string; until: number; reason: string | null }): SilenceRow {
    const id = Number(this.insert.run(input.matcher, input.createdAt, input.createdBy, input.until, input.reason).lastInsertRowid);
    const row: SilenceRow = { id, ...input, removedAt: null, removedBy: null };
    this.cache?.push(row);
    return { ...row };
  }

  /** Ends an active silence; false when there is no such silence or it already ended. */
  remove(id: number, by: string, at: number): boolean {
    if (this.updateRemoved.run(at, by, id, at).changes !== 1) return false;
    this.cache = this.cache?.filter((s) => s.id !== id);
    return true;
  }

  get(id: number): SilenceRow | undefined {
    const raw = this.selectById.get(id) as RawRow | undefined;
    return raw && fromRaw(raw);
  }

  /** Silences in force at `at`, oldest first: the cached rows themselves (asked on every check result), read-only. */
  active(at: number): ReadonlyArray<Readonly<SilenceRow>> {
    this.cache ??= (this.selectLive.all(at) as RawRow[]).map(fromRaw);
    if (this.cache.some((s) => s.until <= at)) this.cache = this.cache.filter((s) => s.until > at);
    return this.cache;
  }
}
