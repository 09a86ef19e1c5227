import type { Db } from './database.js';

/** interrupted: Nightshift stopped in the middle of it and undid it at the next start (not a failure of the fix). */
export type RepairState =
  'backing-up' | 'applying' | 'verifying' | 'committing' | 'committed' | 'rolling-back' | 'rolled-back' | 'cancelled' | 'interrupted' | 'restore-failed';

/** States a repair is still in while something may be half done: a restart finishes or undoes them. */
export const ACTIVE_REPAIR_STATES: readonly RepairState[] = ['backing-up', 'applying', 'verifying', 'committing', 'rolling-back'];

export interface RepairRow {
  id: string;
  proposalId: string;
  target: string;
  signature: string;
  state: RepairState;
  by: string;
  backup: unknown;
  tests: unknown;
  commitSha: string | null;
  reason: string | null;
  childPid: number | null;
  startedAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface Baseline {
  target: string;
  passed: number;
  failed: number;
  format: string;
  recordedAt: number;
  repairId: string | null;
}

const fromRaw = (r: Record<string, unknown>): RepairRow => ({
  id: r.id as string,
  proposalId: r.proposal_id as string,
  target: r.target as string,
  signature: r.signature as string,
  state: r.state as RepairState,
  by: r.by as string,
  backup: r.backup === null ? null : (JSON.parse(r.backup as string) as unknown),
  tests: r.tests === null ? null : (JSON.parse(r.tests as string) as unknown),
  commitSha: r.commit_sha as string | null,
  reason: r.reason as string | null,
  childPid: r.child_pid as number | null,
  startedAt: r.started_at as number,
  updatedAt: r.updated_at as number,
  finishedAt: r.finished_at as number | null,
});

/** Repairs and the ratchet's baselines. */
export class RepairStore {
  private readonly selectOne;
  private readonly selectActiveOnTarget;
  private readonly selectActive;
  private readonly updateOne;

  constructor(private readonly db: Db) {
    const active = `state IN (${ACTIVE_REPAIR_STATES.map((s) => `'${s}'`).join(', ')})`;
    this.selectOne = db.prepare('SELECT * FROM repairs WHERE id = ?');
    this.selectActiveOnTarget = db.prepare(`SELECT * FROM repairs WHERE target = ? AND ${active}`);
    this.selectActive = db.prepare(`SELECT * FROM repairs WHERE ${active} ORDER BY started_at`);
    // Prepared once, for every update (each step's command sets child_pid as it starts and ends): a NULL parameter leaves its column as it is.
    this.updateOne = db.prepare(
      `UPDATE repairs SET updated_at = @at, state = coalesce(@state, state), backup = coalesce(@backup, backup), tests = coalesce(@tests, tests),
         commit_sha = coalesce(@commitSha, commit_sha), reason = coalesce(@reason, reason),
         child_pid = CASE WHEN @setChildPid THEN @childPid ELSE child_pid END, finished_at = CASE WHEN @finished THEN @at ELSE finished_at END
       WHERE id = @id`,
    );
  }

  get(id: string): RepairRow | undefined {
    const r = this.selectOne.get(id) as Record<string, unknown> | undefined;
    return r && fromRaw(r);
  }

  /** Starts a repair; false when one already exists for the proposal. */
  insert(row: { id: string; proposalId: string; target: string; signature: string; by: string; at: number }): boolean {
    return (
      this.db
        .prepare(
          "INSERT INTO repairs (id, proposal_id, target, signature, state, by, started_at, updated_at) VALUES (?, ?, ?, ?, 'backing-up', ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .run(row.id, row.proposalId, row.target, row.signature, row.by, row.at, row.at).changes === 1
    );
  }

  /** Moves a repair to a state, with what came with it; only the fields given change. */
  update(
    id: string,
    at: number,
    change: { state?: RepairState; backup?: unknown; tests?: unknown; commitSha?: string; reason?: string; childPid?: number | null; finished?: boolean },
  ): void {
    this.updateOne.run({
      id,
      at,
      state: change.state ?? null,
      backup: change.backup === undefined ? null : JSON.stringify(change.backup),
      tests: change.tests === undefined ? null : JSON.stringify(change.tests),
      commitSha: change.commitSha ?? null,
      reason: change.reason ?? null,
      setChildPid: change.childPid === undefined ? 0 : 1,
      childPid: change.childPid ?? null,
      finished: change.finished ? 1 : 0,
    });
  }

  activeOnTarget(target: string): RepairRow | undefined {
    const r = this.selectActiveOnTarget.get(target) as Record<string, unknown> | undefined;
    return r && fromRaw(r);
  }

  active(): RepairRow[] {
    return (this.selectActive.all() as Array<Record<string, unknown>>).map(fromRaw);
  }

  recent(limit = 20): RepairRow[] {
    return (this.db.prepare('SELECT * FROM repairs ORDER BY started_at DESC, id DESC LIMIT ?').all(limit) as Array<Record<string, unknown>>).map(fromRaw);
  }

  /** Repairs of a failure that did not hold (rolled back, or could not even be restored). */
  failedFor(signature: string): number {
    return (
      this.db.prepare("SELECT count(*) AS n FROM repairs WHERE signature = ? AND state IN ('rolled-back', 'restore-failed')").get(signature) as { n: number }
    ).n;
  }

  baseline(target: string): Baseline | undefined {
    const r = this.db.prepare('SELECT * FROM ratchet_baselines WHERE target = ?').get(target) as Record<string, unknown> | undefined;
    return (
      r && {
        target: r.target as string,
        passed: r.passed as number,
        failed: r.failed as number,
        format: r.format as string,
        recordedAt: r.recorded_at as number,
        repairId: r.repair_id as string | null,
      }
    );
  }

  /** Records the baseline the first time; afterwards only forward: more passing, fewer failing (each never worse). */
  advanceBaseline(target: string, counts: { passed: number; failed: number; format: string }, at: number, repairId: string | null): void {
    this.db
      .prepare(
        `INSERT INTO ratchet_baselines (target, passed, failed, format, recorded_at, repair_id) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (target) DO UPDATE SET passed = max(passed, excluded.passed), failed = min(failed, excluded.failed),
           format = excluded.format, recorded_at = excluded.recorded_at, repair_id = excluded.repair_id`,
      )
      .run(target, counts.passed, counts.failed, counts.format, at, repairId);
  }
}
