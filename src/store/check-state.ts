import type { Db } from './database.js';

export type CheckStatus = 'unknown' | 'ok' | 'failing';

export interface CheckStateRow {
  name: string;
  kind: string;
  severity: 'critical' | 'optional';
  status: CheckStatus;
  consecutiveFailures: number;
  lastRunAt: number | null;
  lastOkAt: number | null;
  lastChangeAt: number | null;
  lastDurationMs: number | null;
  lastMessage: string | null;
  runs: number;
  failures: number;
}

/** The latest evidence per check (one row each). */
export class CheckStateStore {
  private readonly upsert;
  private readonly selectAll;
  private readonly selectOne;

  constructor(db: Db) {
    this.upsert = db.prepare(`
      INSERT INTO check_state (name, kind, severity, status, consecutive_failures, last_run_at, last_ok_at, last_change_at, last_duration_ms, last_message, runs, failures)
      VALUES (@name, @kind, @severity, @status, @consecutiveFailures, @lastRunAt, @lastOkAt, @lastChangeAt, @lastDurationMs, @lastMessage, @runs, @failures)
      ON CONFLICT (name) DO UPDATE SET
        kind = excluded.kind, severity = excluded.severity, status = excluded.status,
        consecutive_failures = excluded.consecutive_failures, last_run_at = excluded.last_run_at,
        last_ok_at = excluded.last_ok_at, last_change_at = excluded.last_change_at,
        last_duration_ms = excluded.last_duration_ms, last_message = excluded.last_message,
        runs = excluded.runs, failures = excluded.failures`);
    this.selectAll = db.prepare('SELECT * FROM check_state ORDER BY name');
    this.selectOne = db.prepare('SELECT * FROM check_state WHERE name = ?');
  }

  save(row: CheckStateRow): void {
    this.upsert.run(row);
  }

  get(name: string): CheckStateRow | undefined {
    const raw = this.selectOne.get(name) as RawRow | undefined;
    return raw && fromRaw(raw);
  }

  all(): CheckStateRow[] {
    return (this.selectAll.all() as RawRow[]).map(fromRaw);
  }
}

interface RawRow {
  name: string;
  kind: string;
  severity: 'critical' | 'optional';
  status: CheckStatus;
  consecutive_failures: number;
  last_run_at: number | null;
  last_ok_at: number | null;
  last_change_at: number | null;
  last_duration_ms: number | null;
  last_message: string | null;
  runs: number;
  failures: number;
}

function fromRaw(r: RawRow): CheckStateRow {
  return {
    name: r.name,
    kind: r.kind,
    severity: r.severity,
    status: r.status,
    consecutiveFailures: r.consecutive_failures,
    lastRunAt: r.last_run_at,
    lastOkAt: r.last_ok_at,
    lastChangeAt: r.last_change_at,
    lastDurationMs: r.last_duration_ms,
    lastMessage: r.last_message,
    runs: r.runs,
    failures: r.failures,
  };
}
