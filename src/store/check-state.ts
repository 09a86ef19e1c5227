import type { Db } from './database.js';

export type CheckStatus = 'unknown' | 'ok' | 'failing';

/** What the patrol writes after every run. */
export interface CheckRunState {
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
  lastDetails: Record<string, unknown> | null;
  runs: number;
  failures: number;
}

/** True while a check is muted (/mute: a maintenance window) at `at`. */
export function isMuted(state: Pick<CheckStateRow, 'mutedUntil'> | undefined, at: number): boolean {
  const until = state?.mutedUntil ?? null;
  return until !== null && until > at;
}

/** The whole row: run evidence plus what the recovery path and commands keep per check. */
export interface CheckStateRow extends CheckRunState {
  flapping: boolean;
  mutedUntil: number | null;
  lastHealAt: number | null;
  healHeld: boolean;
  unheldHeals: number;
}

/**
 * The latest evidence per check (one row each). Rows are also kept in memory:
 * this process is the database's only writer, every write goes through this
 * class, and the patrol reads a row on every run and the whole table on every
 * status request (1,000 checks made those reads the patrol's main cost).
 */
export class CheckStateStore {
  private cache: Map<string, CheckStateRow> | undefined;
  private readonly upsert;
  private readonly selectAll;
  private readonly updateHeal;
  private readonly updateFlapping;
  private readonly updateMuted;

  constructor(db: Db) {
    this.upsert = db.prepare(`
      INSERT INTO check_state (name, kind, severity, status, consecutive_failures, last_run_at, last_ok_at, last_change_at, last_duration_ms, last_message, last_details, runs, failures)
      VALUES (@name, @kind, @severity, @status, @consecutiveFailures, @lastRunAt, @lastOkAt, @lastChangeAt, @lastDurationMs, @lastMessage, @lastDetails, @runs, @failures)
      ON CONFLICT (name) DO UPDATE SET
        kind = excluded.kind, severity = excluded.severity, status = excluded.status,
        consecutive_failures = excluded.consecutive_failures, last_run_at = excluded.last_run_at,
        last_ok_at = excluded.last_ok_at, last_change_at = excluded.last_change_at,
        last_duration_ms = excluded.last_duration_ms, last_message = excluded.last_message,
        last_details = excluded.last_details, runs = excluded.runs, failures = excluded.failures`);
    this.selectAll = db.prepare('SELECT * FROM check_state ORDER BY name');
    this.updateHeal = db.prepare('UPDATE check_state SET last_heal_at = ?, heal_held = ?, unheld_heals = ? WHERE name = ?');
    this.updateFlapping = db.prepare('UPDATE check_state SET flapping = ? WHERE name = ?');
    this.updateMuted = db.prepare('UPDATE check_state SET muted_until = ? WHERE name = ?');
  }

  /** Writes the evidence of a run; leaves heal, flapping and mute bookkeeping alone. */
  save(row: CheckRunState): void {
    this.upsert.run({ ...row, lastDetails: row.lastDetails ? JSON.stringify(row.lastDetails) : null });
    const rows = this.rows();
    const previous = rows.get(row.name);
    rows.set(row.name, { flapping: false, mutedUntil: null, lastHealAt: null, healHeld: false, unheldHeals: 0, ...previous, ...row });
  }

  setHeal(name: string, heal: { lastHealAt: number | null; healHeld: boolean; unheldHeals: number }): void {
    this.updateHeal.run(heal.lastHealAt, heal.healHeld ? 1 : 0, heal.unheldHeals, name);
    this.patch(name, heal);
  }

  setFlapping(name: string, flapping: boolean): void {
    this.updateFlapping.run(flapping ? 1 : 0, name);
    this.patch(name, { flapping });
  }

  setMutedUntil(name: string, until: number | null): void {
    this.updateMuted.run(until, name);
    this.patch(name, { mutedUntil: until });
  }

  /** Forgets the cached rows (a transaction that wrote one was rolled back): they are read again from the store. */
  invalidate(): void {
    this.cache = undefined;
  }

  get(name: string): CheckStateRow | undefined {
    const row = this.rows().get(name);
    return row && { ...row };
  }

  all(): CheckStateRow[] {
    return [...this.rows().values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => ({ ...r }));
  }

  private rows(): Map<string, CheckStateRow> {
    this.cache ??= new Map((this.selectAll.all() as RawRow[]).map((raw) => [raw.name, fromRaw(raw)]));
    return this.cache;
  }

  private patch(name: string, fields: Partial<CheckStateRow>): void {
    const row = this.rows().get(name);
    if (row) Object.assign(row, fields);
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
  last_details: string | null;
  runs: number;
  failures: number;
  flapping: number;
  muted_until: number | null;
  last_heal_at: number | null;
  heal_held: number;
  unheld_heals: number;
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
    lastDetails: r.last_details ? (JSON.parse(r.last_details) as Record<string, unknown>) : null,
    runs: r.runs,
    failures: r.failures,
    flapping: r.flapping === 1,
    mutedUntil: r.muted_until,
    lastHealAt: r.last_heal_at,
    healHeld: r.heal_held === 1,
    unheldHeals: r.unheld_heals,
  };
}
