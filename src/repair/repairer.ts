import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeIdentity, type Identity, type OutgoingMessage } from '../chat/channel.js';
import type { Invoker } from '../chat/roles.js';
import type { HealResult } from '../checks/types.js';
import type { Clock } from '../clock.js';
import type { RepairConfig, RepairTarget } from '../config/schema.js';
import type { ProposedFix } from '../diagnose/proposals.js';
import { describeExit, runCommand, tail } from '../exec.js';
import type { Logger } from '../log/logger.js';
import type { RunOutcome } from '../patrol/patrol.js';
import type { Db } from '../store/database.js';
import type { DiagnosisStore, ProposalRow } from '../store/diagnoses.js';
import type { EventLog } from '../store/events.js';
import { type RepairRow, type RepairState, type RepairStore } from '../store/repairs.js';
import { errorMessage } from '../errors.js';
import { sleep } from '../util/abort.js';
import { clip } from '../util/text.js';
import { changedPaths, createBackup, NIGHTSHIFT_IDENTITY, restoreBackup, restoreMismatch, treeDigest, worktreeTreeOf, type Backup } from './backup.js';
import { applyPatch, git, gitOk, isWorkTreeRoot, type GitOptions } from './git.js';
import { ratchetBreach, runTests } from './ratchet.js';
import { describeCounts, type TestCounts } from './test-results.js';
import { vetFix, type Vetting } from './vet.js';

/** The trailer every repair commit carries: how a restart recognises a commit it made before it was killed. */
const TRAILER = 'Nightshift-Repair';

export interface RepairerOptions {
  db: Db;
  store: RepairStore;
  proposals: DiagnosisStore;
  events: EventLog;
  clock: Clock;
  log: Logger;
  config: RepairConfig;
  /** Where each repair keeps its backup: <dataDir>/repairs/<id>. */
  dataDir: string;
  /** The environment of the commands a repair runs (the bot's child environment). */
  env: () => NodeJS.ProcessEnv;
  autoRepairGranted: () => boolean;
  /** Why repairs of a target are not started by themselves any more (a regret flag), or null. */
  flagged: (target: string) => string | null;
  surgeryEnabled: () => boolean;
  /** Restarts what a check watches (its kind's restart); absent when the kind has none. */
  restart: (check: string, signal: AbortSignal) => Promise<HealResult> | undefined;
  requestRun: (check: string) => void;
  /** Records the repair as an autonomous action and scores it at once (+1 held, -1 rolled back, -2 needs a human). */
  score: (target: string, score: number, note: string, repairId: string) => void;
  notify: (message: OutgoingMessage) => void;
}

/** A repair, or an approved proposal still waiting for one, as /repairs lists it. */
export interface RepairView {
  id: string;
  target: string | null;
  state: RepairState | 'waiting for /apply' | 'approved, surgery disabled';
  summary: string;
  reason: string | null;
  commitSha: string | null;
  at: number;
}

export type ApplyOutcome =
  | { kind: 'unknown-proposal' }
  | { kind: 'not-approved'; status: string }
  | { kind: 'not-applicable'; reason: string }
  | { kind: 'surgery-disabled' }
  | { kind: 'already'; state: RepairState }
  | { kind: 'target-busy'; other: string }
  | { kind: 'started'; id: string; target: string; timeoutMs: number };

export type RollbackOutcome =
  | { kind: 'unknown-repair' }
  | { kind: 'not-committed'; state: RepairState }
  | { kind: 'moved-on'; reason: string }
  | { kind: 'rolled-back'; id: string }
  | { kind: 'failed'; reason: string };

/** What /apply, /repairs and /rollback may do. */
export interface RepairService {
  list(): RepairView[];
  apply(id: string, by: Invoker): ApplyOutcome;
  rollback(id: string, by: Invoker): Promise<RollbackOutcome>;
}

/** A step that did not hold: the repair is rolled back with this reason. */
class StepFailed extends Error {
  constructor(
    readonly step: string,
    reason: string,
  ) {
    super(reason);
  }
}

/** Surgery was disabled before the change was written: nothing to undo. */
class Cancelled extends Error {}

type Watcher = (outcome: RunOutcome) => void;

/**
 * Level 3. An approved proposal becomes a repair while surgery is enabled,
 * by itself when auto-repair is granted (diffs only) or on /apply. Each step
 * is an audited event and commits the repair's state before it acts:
 * back up, apply (and build), restart the target's checks, verify (the
 * checks healthy for K patrols, the fix's regression command, the ratchet),
 * then commit, or restore the backup exactly, restart and check the
 * restore. A repair found unfinished at start is finished (its commit was
 * made) or rolled back; none runs twice.
 */
export class Repairer implements RepairService {
  private readonly running = new Map<string, Promise<void>>();
  /** Targets with a repair under way: their checks alert and heal nobody (the repair owns them). */
  private readonly busyTargets = new Set<string>();
  private readonly watchers = new Set<Watcher>();
  private readonly stopping = new AbortController();
  private readonly targets: Map<string, RepairTarget>;

  constructor(private readonly options: RepairerOptions) {
    this.targets = new Map(options.config.targets.map((t) => [t.name, t]));
  }

  /** True while a repair is under way on a target that serves this check. */
  busy(check: string): boolean {
    for (const name of this.busyTargets) if (this.targets.get(name)?.checks.includes(check)) return true;
    return false;
  }

  /** Every patrol result: verifications waiting for healthy patrols hear it. */
  onResult(outcome: RunOutcome): void {
    // Every patrol result passes here; almost always nobody is waiting.
    if (this.watchers.size === 0) return;
    for (const watcher of [...this.watchers]) watcher(outcome);
  }

  /** The checks a proposed fix passes before anyone is asked (src/repair/vet.ts), against the configured targets. */
  vet(fix: ProposedFix, diagnosisSignature: string | null): Promise<Vetting> {
    const { config } = this.options;
    return vetFix(fix, diagnosisSignature, {
      targets: config.targets,
      allowHosts: config.allowHosts,
      env: this.options.env(),
      needsHuman: (signature) => this.needsHuman(signature),
    });
  }

  /** Why no more fixes are offered for a failure (maxFailures of its repairs failed), or null. */
  private needsHuman(signature: string): string | null {
    const failed = this.options.store.failedFor(signature);
    return failed >= this.options.config.maxFailures ? `${failed} repairs of this failure failed already: it needs a human` : null;
  }

  /** A proposal was just approved: what happens next, said in the answer. */
  approved(proposal: ProposalRow): string {
    if (proposal.kind === 'steps' || !proposal.target) return 'There is nothing for Nightshift to apply.';
    if (!this.options.surgeryEnabled())
      return `Surgery is disabled: nothing is applied until an admin runs /enable-surgery and someone runs /apply ${proposal.id}.`;
    if (proposal.kind === 'command') return `A command is irreversible: it runs only when an operator sends /apply ${proposal.id}.`;
    if (!this.options.autoRepairGranted()) return `Auto-repair is not granted: /apply ${proposal.id} applies it.`;
    const flag = this.options.flagged(proposal.target);
    if (flag) return `Repairs of ${proposal.target} keep failing (${flag}): Nightshift does not start them by itself; /apply ${proposal.id} applies it anyway.`;
    const outcome = this.start(proposal, 'auto-repair');
    return outcome.kind === 'started'
      ? `Auto-repair is on: repair ${proposal.id} starts now (backup, apply, restart, verify); the result follows.`
      : describeRefusal(outcome);
  }

  apply(id: string, by: Invoker): ApplyOutcome {
    const proposal = this.options.proposals.proposal(id);
    if (!proposal) return { kind: 'unknown-proposal' };
    return this.start(proposal, describeIdentity(by));
  }

  /** Surgery turned off: approved proposals no repair has started for are cancelled (one starting now stops before it writes). */
  surgeryDisabled(by: Identity): void {
    const { proposals, events, clock } = this.options;
    for (const proposal of proposals.approvedWithoutRepair()) {
      if (proposals.settleApproved(proposal.id, 'cancelled', describeIdentity(by), clock.now()))
        events.append(clock.now(), 'proposal.decided', proposal.id, 'info', {
          proposalId: proposal.id,
          status: 'cancelled',
          by: describeIdentity(by),
          channel: by.channel,
        });
    }
  }

  list(): RepairView[] {
    const { store, proposals } = this.options;
    const waiting: RepairView[] = proposals.approvedWithoutRepair().map((p) => ({
      id: p.id,
      target: p.target,
      state: this.options.surgeryEnabled() ? 'waiting for /apply' : 'approved, surgery disabled',
      summary: p.summary,
      reason: null,
      commitSha: null,
      at: p.decidedAt ?? p.createdAt,
    }));
    const repairs: RepairView[] = store.recent().map((r) => ({
      id: r.id,
      target: r.target,
      state: r.state,
      summary: proposals.proposal(r.proposalId)?.summary ?? '',
      reason: r.reason,
      commitSha: r.commitSha,
      at: r.updatedAt,
    }));
    return [...waiting, ...repairs];
  }

  /**
   * At start, before the patrol: every repair the previous run left
   * unfinished is finished (its commit was made) or rolled back, and an
   * approved diff that auto-repair would have started is started.
   */
  async resume(): Promise<void> {
    for (const repair of this.options.store.active()) {
      const target = this.targets.get(repair.target);
      if (!target) {
        this.finish(repair.id, 'restore-failed', `the repair target ${repair.target} is no longer configured: restore it by hand from its backup`, null);
        continue;
      }
      if (repair.childPid) {
        // What the killed run left running (a build, a test run, a commit hook) must not write into the restore.
        await killGroup(repair.childPid);
        // A git the kill interrupted leaves its lock behind; nobody else holds it now.
        rmSync(join(target.path, '.git', 'index.lock'), { force: true });
      }
      await this.recover(repair, target);
    }
    if (this.options.surgeryEnabled() && this.options.autoRepairGranted()) {
      for (const proposal of this.options.proposals.approvedWithoutRepair())
        if (proposal.kind === 'diff' && proposal.target && !this.options.flagged(proposal.target)) this.start(proposal, 'auto-repair');
    }
  }

  async rollback(id: string, by: Invoker): Promise<RollbackOutcome> {
    const repair = this.options.store.get(id);
    if (!repair) return { kind: 'unknown-repair' };
    if (repair.state !== 'committed') return { kind: 'not-committed', state: repair.state };
    const target = this.targets.get(repair.target);
    const backup = repair.backup as (Backup & { after?: string }) | null;
    if (!target || !backup) return { kind: 'failed', reason: 'its target or backup is gone' };
    const moved = await this.changedSince(repair, target, backup);
    if (moved) return { kind: 'moved-on', reason: moved };
    const who = describeIdentity(by);
    this.busyTargets.add(target.name);
    try {
      const problem = await this.undo(repair.id, target, backup, `rolled back by ${who} on ${by.channel}`, 'rolled-back');
      if (problem) return { kind: 'failed', reason: problem };
      this.options.score(target.name, -1, `repair ${id} was rolled back by ${who}`, id);
      this.options.notify({ severity: 'warning', title: `Repair ${id} on ${target.name} rolled back by ${who}: the folder is as it was before the repair` });
      return { kind: 'rolled-back', id };
    } finally {
      this.busyTargets.delete(target.name);
    }
  }

  /** Resolves when every repair under way has ended (tests, benchmarks, stop). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Stops: a repair under way is abandoned where it stands and rolled back. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('Nightshift is stopping'));
    await this.settled();
  }

  private start(proposal: ProposalRow, by: string): ApplyOutcome {
    const { store, clock, events } = this.options;
    if (proposal.status !== 'approved') {
      if (proposal.status === 'unfit') return { kind: 'not-applicable', reason: proposal.unfitReason ?? 'it did not pass the checks before asking' };
      const existing = store.get(proposal.id);
      return existing ? { kind: 'already', state: existing.state } : { kind: 'not-approved', status: proposal.status };
    }
    const target = proposal.target ? this.targets.get(proposal.target) : undefined;
    if (proposal.kind === 'steps' || !target || !proposal.signature) return { kind: 'not-applicable', reason: 'it names no configured repair target' };
    const signature = proposal.signature;
    if (!this.options.surgeryEnabled()) return { kind: 'surgery-disabled' };
    const existing = store.get(proposal.id);
    if (existing) return { kind: 'already', state: existing.state };
    const other = store.activeOnTarget(target.name);
    if (other) return { kind: 'target-busy', other: other.id };
    const now = clock.now();
    const inserted = this.options.db.transaction(() => {
      if (!store.insert({ id: proposal.id, proposalId: proposal.id, target: target.name, signature, by, at: now })) return false;
      events.append(now, 'repair.started', proposal.id, 'info', { repairId: proposal.id, target: target.name, kind: proposal.kind, by });
      return true;
    })();
    if (!inserted) return { kind: 'already', state: store.get(proposal.id)!.state };
    this.busyTargets.add(target.name);
    const run = this.run(proposal, target)
      .catch((err: unknown) => this.options.log.error({ err, repair: proposal.id }, 'a repair failed unexpectedly'))
      .finally(() => {
        this.running.delete(proposal.id);
        this.busyTargets.delete(target.name);
      });
    this.running.set(proposal.id, run);
    return { kind: 'started', id: proposal.id, target: target.name, timeoutMs: this.options.config.timeoutMs };
  }

  private async run(proposal: ProposalRow, target: RepairTarget): Promise<void> {
    const { config } = this.options;
    const fix = proposal.content as ProposedFix;
    const id = proposal.id;
    const timeout = AbortSignal.timeout(config.timeoutMs);
    const signal = AbortSignal.any([timeout, this.stopping.signal]);
    const isGit = await isWorkTreeRoot(target.path, this.options.env());
    let backup: Backup | undefined;
    let tests: TestCounts | undefined;
    try {
      backup = await this.step(id, 'backup', async () => {
        const taken = await createBackup({
          path: target.path,
          workDir: this.workDir(id),
          id,
          isGit,
          maxBytes: config.maxBackupBytes,
          env: this.options.env(),
          signal,
        });
        return {
          result: taken,
          detail:
            taken.kind === 'git'
              ? `ref ${taken.ref} at ${taken.head.slice(0, 12)}, ${taken.ignored.length} ignored path(s) copied`
              : `folder copied (${taken.bytes} bytes)`,
        };
      });
      if (target.test && !this.options.store.baseline(target.name)) {
        await this.step(id, 'baseline', async () => {
          const run = await runTests(target, this.options.env(), signal, (pid) => this.setChild(id, pid));
          if (!run.ok) throw new StepFailed('baseline', `the ratchet has no baseline and the tests could not be counted: ${run.error}`);
          this.options.store.advanceBaseline(target.name, run.counts, this.options.clock.now(), null);
          return { result: undefined, detail: `baseline recorded: ${describeCounts(run.counts)}` };
        });
      }
      // The last moment surgery can stop it without anything to undo: committed together with "applying".
      const proceed = this.options.db.transaction(() => {
        if (!this.options.surgeryEnabled()) return false;
        this.setState(id, 'applying', { backup });
        return true;
      })();
      if (!proceed) throw new Cancelled('surgery was disabled before the change was written');

      await this.step(id, 'apply', async () => {
        if (fix.kind === 'diff') {
          const applied = await applyPatch(target.path, isGit, fix.diff, this.options.env(), { signal });
          if (!applied.ok) throw new StepFailed('apply', `the diff did not apply: ${applied.error}`);
          return { result: undefined, detail: 'diff applied' };
        }
        if (fix.kind !== 'command') throw new StepFailed('apply', 'nothing to apply');
        return { result: undefined, detail: await this.mustSucceed(id, fix.command, target, signal, 'the command failed') };
      });
      await this.buildAndRestart(id, target, signal);
      this.setState(id, 'verifying');
      await this.step(id, 'verify-checks', async () => {
        await this.healthyFor(target.checks, config.verifyPatrols, signal);
        return { result: undefined, detail: `${target.checks.join(', ')} healthy for ${config.verifyPatrols} patrol(s)` };
      });
      const regression = fix.kind === 'diff' ? fix.regression : fix.kind === 'command' ? fix.verify : undefined;
      if (regression) {
        await this.step(id, 'verify-regression', async () => ({
          result: undefined,
          detail: await this.mustSucceed(id, regression, target, signal, 'the regression command still fails'),
        }));
      }
      if (target.test) {
        tests = await this.step(id, 'verify-tests', async () => {
          const run = await runTests(target, this.options.env(), signal, (pid) => this.setChild(id, pid));
          if (!run.ok) throw new StepFailed('verify-tests', `the tests could not be counted: ${run.error}`);
          const baseline = this.options.store.baseline(target.name)!;
          const breach = ratchetBreach(baseline, run.counts);
          if (breach) throw new StepFailed('verify-tests', breach);
          return { result: run.counts, detail: `${describeCounts(run.counts)}; baseline ${baseline.passed} passed, ${baseline.failed} failed` };
        });
      }
      // Disabled while it was being verified: the verification has finished, and the change goes.
      if (!this.options.surgeryEnabled()) throw new StepFailed('verify', 'surgery was disabled while the repair was being verified');
      this.setState(id, 'committing', tests ? { tests } : {});
      const sha = await this.step(id, 'commit', async () => {
        const made = await this.commit(proposal, target, backup!, isGit, tests);
        return {
          result: made,
          detail: made ? `commit ${made.slice(0, 12)}` : isGit ? 'no file changed: nothing to commit' : 'kept (a plain folder has no commits)',
        };
      });
      this.passed(proposal, target, backup, sha, tests);
    } catch (err) {
      if (err instanceof Cancelled) {
        this.discard(id);
        this.finish(id, 'cancelled', err.message, null);
        this.options.notify({ severity: 'info', title: `Repair ${id} on ${target.name} cancelled: ${err.message}. Nothing was changed.` });
        return;
      }
      const step = err instanceof StepFailed ? err.step : 'repair';
      // Aborted, a step fails for whatever its command died of: why it was aborted comes first.
      const reason = signal.aborted ? `${abortReason(timeout, config.timeoutMs)}: ${errorMessage(err)}` : errorMessage(err);
      await this.failed(proposal, target, backup, step, reason);
    }
  }

  /** Runs a step and records it as one audited event when it ends: ok with what it did, or failed with why, and how long it took. */
  private async step<T>(id: string, step: string, body: () => Promise<{ result: T; detail: string }>): Promise<T> {
    const started = performance.now();
    const record = (ok: boolean, detail: string) =>
      this.options.events.append(this.options.clock.now(), 'repair.step', id, ok ? 'info' : 'warning', {
        repairId: id,
        step,
        ok,
        ms: Math.round(performance.now() - started),
        detail,
      });
    try {
      const { result, detail } = await body();
      record(true, detail);
      return result;
    } catch (err) {
      record(false, errorMessage(err));
      // Whatever failed inside a step fails that step: the repair's reason names it.
      throw err instanceof StepFailed ? err : new StepFailed(step, errorMessage(err));
    }
  }

  /** Runs one of the target's commands; a non-zero exit fails the step with its exit and last lines. What it did, for the step's event. */
  private async mustSucceed(id: string, command: string, target: RepairTarget, signal: AbortSignal, failing: string): Promise<string> {
    const result = await this.command(id, command, target, signal);
    if (result.exitCode !== 0) throw new Error(`${failing} (${describeExit(result)}): ${tail(result.stderr || result.stdout, 3)}`);
    return `${command}: ${describeExit(result)} in ${Math.round(result.durationMs)} ms`;
  }

  /**
   * Builds (when the target has a build) and restarts the target's checks.
   * After a change a check that does not restart fails the repair; after a
   * restore (`restoring`) it is noted and no more: the code is back as it was,
   * and a service that crashed before the repair may well crash again (its
   * checks and heals take it from there). The restore itself is checked
   * against the backup, not by whether the old code runs.
   */
  private async buildAndRestart(id: string, target: RepairTarget, signal: AbortSignal, restoring = false): Promise<void> {
    if (target.build) {
      const build = target.build;
      await this.step(id, 'build', async () => ({ result: undefined, detail: await this.mustSucceed(id, build, target, signal, 'the build failed') }));
    }
    await this.step(id, 'restart', async () => {
      const said: string[] = [];
      for (const check of target.checks) {
        const restarting = this.options.restart(check, signal);
        if (!restarting) {
          said.push(`${check}: its kind has nothing to restart`);
          continue;
        }
        const result = await restarting;
        if (result.ok) said.push(`${check} restarted`);
        else if (restoring) said.push(`${check} did not stay up on the restored code (as before the repair): ${result.message}`);
        else throw new StepFailed('restart', `${check} did not restart: ${result.message}`);
      }
      return { result: undefined, detail: said.join('; ') };
    });
  }

  /** Waits until each check has passed `count` patrols in a row that started after now; the first failure fails it. */
  private healthyFor(checks: readonly string[], count: number, signal: AbortSignal): Promise<void> {
    const since = this.options.clock.now();
    return new Promise<void>((resolve, reject) => {
      const passed = new Map(checks.map((c) => [c, 0]));
      const done = (err?: Error) => {
        this.watchers.delete(watcher);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const watcher: Watcher = ({ check, result }) => {
        const seen = passed.get(check.name);
        if (seen === undefined || this.options.clock.now() - result.durationMs < since) return;
        if (!result.ok)
          return done(new StepFailed('verify-checks', `${check.name} failed on patrol ${seen + 1} of ${count} after the change: ${result.message}`));
        passed.set(check.name, seen + 1);
        if ([...passed.values()].every((n) => n >= count)) done();
      };
      const onAbort = () =>
        done(
          new StepFailed('verify-checks', `the checks did not pass ${count} patrols in time (${[...passed].map(([c, n]) => `${c} ${n}/${count}`).join(', ')})`),
        );
      if (signal.aborted) return onAbort();
      this.watchers.add(watcher);
      signal.addEventListener('abort', onAbort, { once: true });
      for (const check of checks) this.options.requestRun(check);
    });
  }

  private async commit(proposal: ProposalRow, target: RepairTarget, backup: Backup, isGit: boolean, tests: TestCounts | undefined): Promise<string | null> {
    if (!isGit || backup.kind !== 'git') return null;
    const o = this.gitOptions(target);
    const now = await worktreeTreeOf(join(this.workDir(proposal.id), 'commit-index'), o);
    const paths = await changedPaths(backup.worktreeTree, now, o);
    if (paths.length === 0) return null;
    await gitOk(['add', '-A', '--', ...paths], o);
    const message = [
      `nightshift: repair ${proposal.id} on ${target.name}: ${firstLine(proposal.summary)}`,
      '',
      `Diagnosis #${proposal.diagnosisId}${proposal.signature ? ` of ${proposal.signature}` : ''}; proposal ${proposal.id} approved by ${proposal.decidedBy ?? 'unknown'}.`,
      `Verified: ${target.checks.join(', ')} healthy for ${this.options.config.verifyPatrols} patrol(s)${tests ? `; tests ${describeCounts(tests)}` : ''}.`,
      '',
      `${TRAILER}: ${proposal.id}`,
    ].join('\n');
    // The target's own commit hooks run (a hook that refuses fails the repair); their process group is recorded like any step's.
    await gitOk(['commit', '-q', '-m', message, '--', ...paths], { ...o, onSpawn: (pid) => this.setChild(proposal.id, pid) });
    this.setChild(proposal.id, null);
    return gitOk(['rev-parse', 'HEAD'], o);
  }

  private passed(proposal: ProposalRow, target: RepairTarget, backup: Backup, sha: string | null, tests: TestCounts | undefined): void {
    const { store, clock, db } = this.options;
    const now = clock.now();
    db.transaction(() => {
      const after = backup.kind === 'copy' ? { ...backup, after: treeDigest(target.path) } : backup;
      store.update(proposal.id, now, { backup: after, ...(sha ? { commitSha: sha } : {}) });
      if (tests) store.advanceBaseline(target.name, tests, now, proposal.id);
      this.finish(proposal.id, 'committed', null, sha);
      this.options.score(target.name, 1, `repair ${proposal.id} verified and kept`, proposal.id);
    })();
    const baseline = store.baseline(target.name);
    this.options.notify({
      severity: 'info',
      title: `Repair ${proposal.id} on ${target.name} applied and verified${sha ? `: commit ${sha.slice(0, 12)}` : ''}`,
      body: [
        `${proposal.summary}`,
        `${target.checks.join(', ')} healthy for ${this.options.config.verifyPatrols} patrol(s) after the change.`,
        tests && baseline ? `Tests: ${describeCounts(tests)} (baseline now ${baseline.passed} passed, ${baseline.failed} failed).` : '',
        `/rollback ${proposal.id} puts it back.`,
      ]
        .filter(Boolean)
        .join('\n'),
    });
  }

  private async failed(proposal: ProposalRow, target: RepairTarget, backup: Backup | undefined, step: string, reason: string): Promise<void> {
    const id = proposal.id;
    const repair = this.options.store.get(id)!;
    // Nothing was written before "applying": the backup is dropped, there is nothing to restore.
    if (!backup || repair.state === 'backing-up') {
      this.discard(id);
      this.finish(id, 'rolled-back', `${step}: ${reason} (before any change; nothing was changed)`, null);
      this.options.notify({ severity: 'warning', title: `Repair ${id} on ${target.name} did not start: ${reason}. Nothing was changed.` });
      return;
    }
    const problem = await this.undo(id, target, backup, `${step}: ${reason}`, 'rolled-back');
    if (problem) {
      this.options.score(target.name, -2, `repair ${id} failed and its restore failed too`, id);
      this.options.notify({
        severity: 'critical',
        title: `Repair ${id} on ${target.name} failed at ${step} and could NOT be restored: ${problem}`,
        body: `Why it failed: ${reason}\nThe backup is kept${backup.kind === 'git' ? ` as ${backup.ref} (and ${backup.ignoredDir})` : ` in ${backup.dir}`}. Restore it by hand.`,
      });
      return;
    }
    const stop = this.needsHuman(repair.signature);
    if (stop && this.options.proposals.settleApproved(id, 'needs_human', 'nightshift', this.options.clock.now()))
      this.options.events.append(this.options.clock.now(), 'proposal.decided', id, 'warning', {
        proposalId: id,
        status: 'needs_human',
        by: 'nightshift',
        channel: 'nightshift',
      });
    this.options.score(target.name, stop ? -2 : -1, `repair ${id} failed at ${step} and was rolled back${stop ? `; ${stop}` : ''}`, id);
    this.options.notify({
      severity: 'warning',
      title: `Repair ${id} on ${target.name} failed at ${step} and was rolled back: the folder is exactly as it was`,
      body: [`Why: ${reason}`, stop ? `${stop}; Nightshift will not offer another fix for it.` : ''].filter(Boolean).join('\n'),
    });
  }

  /**
   * Puts the target back exactly as its backup has it, rebuilds and
   * restarts it, checks the restore against the backup, and finishes the
   * repair in `state` (or restore-failed); the problem, or null. Idempotent,
   * so a restore interrupted by a crash is simply run again.
   */
  private async undo(id: string, target: RepairTarget, backup: Backup, reason: string, state: 'rolled-back' | 'interrupted'): Promise<string | null> {
    this.setState(id, 'rolling-back', { reason });
    const signal = AbortSignal.timeout(this.options.config.timeoutMs);
    let problem: string | null = null;
    try {
      await this.step(id, 'restore', async () => {
        await restoreBackup(backup, { path: target.path, env: this.options.env(), signal, workDir: this.workDir(id) });
        const mismatch = await restoreMismatch(backup, { path: target.path, env: this.options.env(), workDir: this.workDir(id) });
        if (mismatch) throw new StepFailed('restore', mismatch);
        return {
          result: undefined,
          detail: backup.kind === 'git' ? `back at ${backup.head.slice(0, 12)}, work tree, index and ignored files as they were` : 'folder as it was',
        };
      });
      await this.buildAndRestart(id, target, signal, true);
    } catch (err) {
      problem = errorMessage(err);
    }
    this.finish(id, problem ? 'restore-failed' : state, problem ? `${reason}; then the restore failed: ${problem}` : reason, null);
    return problem;
  }

  /** The unfinished repair of a previous run: finished when its commit is there, otherwise undone. */
  private async recover(repair: RepairRow, target: RepairTarget): Promise<void> {
    const backup = repair.backup as Backup | null;
    this.busyTargets.add(target.name);
    try {
      if (repair.state === 'backing-up' || !backup) {
        this.discard(repair.id);
        this.finish(repair.id, 'interrupted', 'Nightshift stopped before the change was written; nothing was changed', null);
        this.options.notify({
          severity: 'warning',
          title: `Repair ${repair.id} on ${target.name} was interrupted before it changed anything; it does not run again (a new diagnosis can propose the fix anew)`,
        });
        return;
      }
      if (repair.state === 'committing') {
        const sha = await this.findCommit(repair.id, target);
        if (sha) {
          const proposal = this.options.proposals.proposal(repair.proposalId)!;
          this.passed(proposal, target, backup, sha, (repair.tests as TestCounts | null) ?? undefined);
          return;
        }
      }
      const was = repair.state;
      const problem = await this.undo(repair.id, target, backup, `Nightshift stopped while it was ${was}; undone at the next start`, 'interrupted');
      this.options.notify(
        problem
          ? { severity: 'critical', title: `Repair ${repair.id} on ${target.name} was interrupted and could NOT be restored: ${problem}` }
          : {
              severity: 'warning',
              title: `Repair ${repair.id} on ${target.name} was interrupted (Nightshift stopped while it was ${was}) and has been undone: the folder is as it was`,
            },
      );
    } finally {
      this.busyTargets.delete(target.name);
    }
  }

  /** The commit a repair made before it was killed, if HEAD is it. */
  private async findCommit(id: string, target: RepairTarget): Promise<string | null> {
    const o = this.gitOptions(target);
    const body = await git(['log', '-1', '--format=%H%n%B'], o);
    if (body.exitCode !== 0) return null;
    const [sha, ...message] = body.stdout.trim().split('\n');
    return message.some((line) => line.trim() === `${TRAILER}: ${id}`) ? sha! : null;
  }

  /** Why /rollback would lose work done since the repair, or null when the target is still as the repair left it. */
  private async changedSince(repair: RepairRow, target: RepairTarget, backup: Backup & { after?: string }): Promise<string | null> {
    if (backup.kind === 'copy')
      return backup.after && treeDigest(target.path) === backup.after ? null : 'the folder has changed since the repair: restore it by hand';
    if (!repair.commitSha) return null;
    const o = this.gitOptions(target);
    const head = await gitOk(['rev-parse', 'HEAD'], o);
    if (head !== repair.commitSha)
      return `HEAD has moved on from the repair's commit ${repair.commitSha.slice(0, 12)}: revert it by hand (git revert ${repair.commitSha.slice(0, 12)})`;
    const status = await gitOk(['status', '--porcelain', '--untracked-files=no'], o);
    const before = await gitOk(['diff', '--name-only', backup.head, repair.commitSha], o);
    const touched = new Set(before.split('\n').filter(Boolean));
    const conflicting = status
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3))
      .filter((p) => touched.has(p));
    return conflicting.length > 0 ? `files the repair changed have been edited since: ${conflicting.join(', ')}` : null;
  }

  private command(id: string, command: string, target: RepairTarget, signal: AbortSignal) {
    return runCommand(command, { cwd: target.path, env: this.options.env(), signal, keepBytes: 64 * 1024, onSpawn: (pid) => this.setChild(id, pid) }).finally(
      () => this.setChild(id, null),
    );
  }

  private setChild(id: string, pid: number | null): void {
    this.options.store.update(id, this.options.clock.now(), { childPid: pid });
  }

  private setState(id: string, state: RepairState, extra: { backup?: unknown; tests?: unknown; reason?: string } = {}): void {
    this.options.store.update(id, this.options.clock.now(), { state, ...extra });
  }

  private finish(id: string, state: RepairState, reason: string | null, sha: string | null): void {
    const { store, events, clock, db } = this.options;
    const now = clock.now();
    db.transaction(() => {
      store.update(id, now, { state, finished: true, childPid: null, ...(reason !== null ? { reason } : {}), ...(sha ? { commitSha: sha } : {}) });
      events.append(now, 'repair.finished', id, state === 'committed' ? 'info' : state === 'restore-failed' ? 'critical' : 'warning', {
        repairId: id,
        state,
        ...(reason ? { reason } : {}),
        ...(sha ? { commit: sha } : {}),
      });
    })();
  }

  /** A backup nothing will restore from: its copies go (a git ref is small and stays as a record). */
  private discard(id: string): void {
    rmSync(this.workDir(id), { recursive: true, force: true });
  }

  private workDir(id: string): string {
    return join(this.options.dataDir, 'repairs', id);
  }

  private gitOptions(target: RepairTarget): GitOptions {
    return { cwd: target.path, env: this.options.env(), extraEnv: NIGHTSHIFT_IDENTITY };
  }
}

/** The sentence for an /apply that did not start. */
export function describeRefusal(outcome: Exclude<ApplyOutcome, { kind: 'started' }>): string {
  switch (outcome.kind) {
    case 'unknown-proposal':
      return 'No such proposal. /proposals lists them.';
    case 'not-approved':
      if (outcome.status === 'cancelled') return 'It was cancelled when surgery was disabled: a new diagnosis can propose the fix again.';
      if (outcome.status === 'needs_human') return 'Repairs of this failure kept failing: it needs a human.';
      return `It is ${outcome.status}, not approved: only an approved proposal is applied (/approve it first).`;
    case 'not-applicable':
      return `It cannot be applied: ${outcome.reason}.`;
    case 'surgery-disabled':
      return 'Surgery is disabled: nothing is applied until an admin runs /enable-surgery.';
    case 'already':
      return `Its repair already ran: ${outcome.state}. A repair never runs twice.`;
    case 'target-busy':
      return `Repair ${outcome.other} is under way on the same target: one at a time.`;
  }
}

function abortReason(timeout: AbortSignal, timeoutMs: number): string {
  return timeout.aborted ? `the repair took longer than repair.timeout (${Math.round(timeoutMs / 1000)} s)` : 'Nightshift was stopping';
}

function firstLine(text: string): string {
  return clip(text.split('\n')[0] ?? '', 72);
}

/** Kills what a killed Nightshift left running for a repair (the command's whole process group), and waits until it is gone. */
async function killGroup(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && alive(); i++) await sleep(20);
}
