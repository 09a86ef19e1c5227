import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { isProcessRunning, processStartTime } from '../util/proc.js';
import { formatDuration, timerDuration } from '../util/duration.js';
import { tail } from '../exec.js';
import { dropPartialFirstWord } from '../util/text.js';
import { sleep, TIMED_OUT, within } from '../util/abort.js';
import {
  describeReadiness,
  describeStarted,
  describeStillStarting,
  graceDetails,
  insideGrace,
  mostTellingLine,
  probeReadiness,
  readyParam,
  startGraceParam,
  watchStartup,
  type StartupVerdict,
} from './readiness.js';
import { LimitWatch, limitsParam, withLimits } from './limits.js';
import type { CheckEnvironment, CheckKind, CheckResult, HealResult, HealRunContext, Probe } from './types.js';

const params = z.strictObject({
  /** Program and arguments, run without a shell: ["node", "worker.js", "--port", "8080"]. */
  command: z
    .array(z.string())
    .min(1, 'expected at least the program to run')
    .refine((argv) => (argv[0] ?? '').length > 0, 'the program (first item) must not be empty'),
  /** Working directory of the child; the bot's own by default. */
  cwd: z.string().min(1).optional(),
  /** Variables set for the child, over the bot's environment (minus the bot's own tokens). */
  env: z.record(z.string(), z.string()).optional(),
  /** Size at which the child's log file is rotated to `.log.1` (one old file is kept). */
  maxLogBytes: z
    .number()
    .int()
    .min(4096)
    .default(5 * 1024 * 1024),
  /** Time between SIGTERM and SIGKILL when Nightshift stops the child. */
  stopGrace: timerDuration.default(1000),
  /** How long a freshly (re)started child must stay up to count as started: a restart that dies inside it is a failed heal. */
  startGrace: startGraceParam,
  /** A port or URL that answers once the child is ready: it counts as started then, even before its start grace ends. */
  ready: readyParam,
  /** CPU, memory and process-count limits on the child and all below it: exceeded `forCycles` runs in a row, the run fails. */
  limits: limitsParam,
});

type ProcessParams = z.output<typeof params>;

/** Nightshift must stop within 2 s, so stopping its children on the way out never waits longer than this for SIGTERM. */
const DISPOSE_GRACE_MAX_MS = 1000;
/** After a child exits, a run waits at most this long for its last output to drain, so stderrTail holds the final words. */
const OUTPUT_DRAIN_MS = 250;
/** Bytes of each output stream kept in memory for the tails in `details`. */
const TAIL_BYTES = 2048;
const TAIL_LINES = 20;
/** How often a child with a `ready` probe is probed during its start grace (loopback: cheap). */
const READY_POLL_MS = 100;
/** A start-up watch may outlast the grace by one readiness probe and a look; waiting on it is bounded by the grace plus this. */
const STARTUP_SLACK_MS = 2000;

/** What the probe persists, so the next Nightshift can find a child the previous one left behind. */
interface SavedChild {
  pid: number;
  /** Kernel start time of the child (field 22 of /proc/<pid>/stat), to tell our child from a reused pid. */
  procStart: string | null;
  spawnedAt: number;
}

/** How a child ended. */
interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall-clock time (the injected clock), for the record. */
  at: number;
  /** How long it ran, on the monotonic clock. */
  uptimeMs: number;
  /** It ended before it counted as started (inside its start grace, readiness unanswered). */
  duringStartup: boolean;
}

/** One spawned child and what became of it. */
interface ChildRun {
  child: ChildProcess;
  pid: number;
  procStart: string | null;
  spawnedAt: number;
  /** performance.now() at the spawn: uptimes and the start grace are measured from here. */
  spawnedMono: number;
  exit?: ChildExit;
  /** Settles once the child counts as started or is gone; one watch per child, shared by every run and restart. */
  startup: Promise<StartupVerdict<ChildExit>>;
  /** Set the moment the start-up watch decided the child started. */
  startedVia?: 'grace' | 'ready';
  /** The `ready` port or URL answered before this child was spawned: something else holds it, so only the grace counts. */
  readyTakenBeforeStart: boolean;
  /** Resolves on the child's `exit` event. */
  exited: Promise<void>;
  /** Resolves once its stdout and stderr are drained (`close` event). */
  closed: Promise<void>;
  /** Nightshift stopped it on purpose (restart, dispose): its exit is no news for the patrol. */
  stopRequested: boolean;
  stdoutTail: OutputTail;
  stderrTail: OutputTail;
}

/**
 * Nightshift starts and supervises a command: the child leads its own process
 * group, its exit is noticed from the `exit` event (and the patrol is asked to
 * run at once), its output goes to a size-capped log file, `restart` respawns
 * it, and a child orphaned by a Nightshift killed with -9 is stopped before a
 * new one starts, so two copies never run.
 */
export const processCheck: CheckKind<ProcessParams> = {
  kind: 'process',
  description: 'starts and supervises a command: exit noticed at once, output to a capped log, respawned by restart',
  params,
  create(p, env) {
    return new ProcessSupervisor(p, env);
  },
};

class ProcessSupervisor implements Probe {
  private current: ChildRun | undefined;
  /** Why the latest attempt to start a child failed; cleared by the next successful spawn. */
  private startFailure: string | undefined;
  private spawns = 0;
  private disposed = false;
  private starting: Promise<void> | undefined;
  /** start, restart and dispose's waiting happen one at a time, so two spawns never race. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly logFile: RotatingLogFile;
  private readonly limitWatch: LimitWatch | undefined;

  constructor(
    private readonly p: ProcessParams,
    private readonly env: CheckEnvironment,
  ) {
    this.logFile = new RotatingLogFile(join(env.dataDir, 'logs', `${env.checkName}.log`), p.maxLogBytes, (err) =>
      env.log.warn({ err, file: this.logFile.path }, 'could not write the supervised child log; output is kept in memory only until writing works again'),
    );
    this.limitWatch = p.limits && new LimitWatch(p.limits);
  }

  start(): Promise<void> {
    this.starting ??= this.serialised(async () => {
      await this.spawnFresh();
    });
    return this.starting;
  }

  async run(ctx: { signal: AbortSignal }): Promise<CheckResult> {
    // The engine calls start() first; calling it here as well costs nothing and never leaves a check without its child.
    await this.start();
    const child = this.current;
    if (this.startFailure !== undefined || !child) {
      const reason = this.startFailure ?? 'not started';
      return {
        ok: false,
        message: reason,
        details: { program: this.p.command[0], error: reason, spawns: this.spawns, logFile: this.logFile.path, ...this.graceDetails() },
      };
    }
    // A child inside its start grace has not started in any sense that matters: the run waits to see what really happens.
    const verdict = await this.startupOf(child, ctx.signal);
    if (!child.exit) {
      const uptimeMs = uptimeOf(child);
      if (verdict?.state !== 'started') {
        return {
          ok: false,
          message: describeStillStarting(uptimeMs, this.p.startGrace),
          details: { pid: child.pid, uptimeMs, spawns: this.spawns, starting: true, ...this.graceDetails() },
        };
      }
      const up: CheckResult = {
        ok: true,
        message: `pid ${child.pid} up ${formatDuration(uptimeMs)}`,
        details: { pid: child.pid, uptimeMs, spawns: this.spawns, startedVia: verdict.via, ...this.graceDetails() },
      };
      // Limits judge a running child only; one that exits meanwhile is the next run's news (its exit requests that run).
      return this.limitWatch ? withLimits(up, await this.limitWatch.observe([child.pid], { signal: ctx.signal })) : up;
    }
    await waitAtMost(child.closed, OUTPUT_DRAIN_MS, ctx.signal);
    const stdoutTail = child.stdoutTail.text();
    return {
      ok: false,
      message: this.describeExit(child.exit, child.stderrTail.text()),
      details: {
        ...this.exitDetails(child, child.exit),
        exitedAt: new Date(child.exit.at).toISOString(),
        ...(stdoutTail ? { stdoutTail } : {}),
        spawns: this.spawns,
        logFile: this.logFile.path,
      },
    };
  }

  restart(ctx: HealRunContext): Promise<HealResult> {
    return this.serialised(async (): Promise<HealResult> => {
      if (this.disposed) return { ok: false, message: 'nightshift is stopping; not respawning' };
      const previous = this.current;
      const evidence = {
        previousPid: previous?.pid ?? null,
        previousExitCode: previous?.exit?.code ?? null,
        previousSignal: previous?.exit?.signal ?? null,
        previousWasRunning: previous !== undefined && previous.exit === undefined,
      };
      // Also run when the child already exited: whatever it left in its process group (a shell's children) goes too.
      if (previous && !(await this.stopChild(previous, this.p.stopGrace))) {
        return { ok: false, message: `pid ${previous.pid} would not stop, even after SIGKILL; not starting a second copy`, details: evidence };
      }
      if (ctx.signal.aborted) return { ok: false, message: 'aborted before respawning', details: evidence };
      const outcome = await this.spawnFresh();
      if (!outcome.ok) return { ok: false, message: outcome.error, details: { ...evidence, error: outcome.error } };
      return this.awaitRespawn(outcome.child, evidence, ctx.signal);
    });
  }

  /** A respawn is a heal only once the child counts as started; one that dies first is a failed heal, with its last words. */
  private async awaitRespawn(child: ChildRun, evidence: Record<string, unknown>, signal: AbortSignal): Promise<HealResult> {
    const verdict = await this.startupOf(child, signal);
    if (this.disposed)
      return { ok: false, message: `nightshift is stopping; pid ${child.pid} was stopped before it started`, details: { pid: child.pid, ...evidence } };
    if (child.exit) {
      await waitAtMost(child.closed, OUTPUT_DRAIN_MS, signal);
      return {
        ok: false,
        message: `pid ${child.pid} ${this.describeExit(child.exit, child.stderrTail.text())}`,
        details: { ...this.exitDetails(child, child.exit), ...evidence },
      };
    }
    const uptimeMs = uptimeOf(child);
    if (verdict?.state !== 'started') {
      return {
        ok: false,
        message: `aborted while pid ${child.pid} was ${describeStillStarting(uptimeMs, this.p.startGrace)}`,
        details: { pid: child.pid, uptimeMs, starting: true, ...this.graceDetails(), ...evidence },
      };
    }
    return {
      ok: true,
      message: `respawned as pid ${child.pid}; ${describeStarted(verdict, this.p.ready)}`,
      details: { pid: child.pid, uptimeMs, startedVia: verdict.via, ...this.graceDetails(), ...evidence },
    };
  }

  /** The child's start-up verdict, or undefined when `signal` fires first. */
  private async startupOf(child: ChildRun, signal: AbortSignal): Promise<StartupVerdict<ChildExit> | undefined> {
    const verdict = await within(child.startup, this.p.startGrace + STARTUP_SLACK_MS, signal);
    return verdict === TIMED_OUT ? undefined : verdict;
  }

  /** "exited with code 1 after 110ms, inside its 1s start grace: FATAL: listen EADDRINUSE"; the stderr line only for a start-up death. */
  private describeExit(exit: ChildExit, stderrTail: string): string {
    const end = describeEnd(exit, exit.uptimeMs);
    if (!exit.duringStartup) return end;
    const line = mostTellingLine(stderrTail);
    return `${end}, ${insideGrace(this.p.startGrace)}${line ? `: ${line}` : ''}`;
  }

  private exitDetails(child: ChildRun, exit: ChildExit): Record<string, unknown> {
    return {
      pid: child.pid,
      exitCode: exit.code,
      signal: exit.signal,
      uptimeMs: exit.uptimeMs,
      ...(exit.duringStartup ? { duringStartup: true } : {}),
      stderrTail: child.stderrTail.text(),
      ...this.graceDetails(),
    };
  }

  private graceDetails(): Record<string, unknown> {
    return graceDetails(this.p.startGrace, this.p.ready);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const grace = Math.min(this.p.stopGrace, DISPOSE_GRACE_MAX_MS);
    const child = this.current;
    if (child) await this.stopChild(child, grace);
    // A start or restart under way sees `disposed` and spawns nothing more (or stops what it just spawned).
    await waitAtMost(this.queue, grace + 500);
    const last = this.current;
    if (last && last !== child) await this.stopChild(last, grace);
    if (last) await waitAtMost(last.closed, 200);
    this.logFile.close();
  }

  /** Runs tasks one after another; a failing task does not block the next (its caller sees the error). */
  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Stops a child left by a previous Nightshift, then spawns one. Never throws: failures come back as text. */
  private async spawnFresh(): Promise<{ ok: true; child: ChildRun } | { ok: false; error: string }> {
    let outcome: { ok: true; child: ChildRun } | { ok: false; error: string };
    try {
      const orphanProblem = await this.stopOrphanFromState();
      if (orphanProblem) outcome = { ok: false, error: orphanProblem };
      else if (this.disposed) outcome = { ok: false, error: 'nightshift is stopping; not starting the child' };
      else outcome = await this.spawnChild();
    } catch (err) {
      this.env.log.error({ err }, 'could not start the supervised child');
      outcome = { ok: false, error: `could not start: ${err instanceof Error ? err.message : String(err)}` };
    }
    this.startFailure = outcome.ok ? undefined : outcome.error;
    return outcome;
  }

  private async spawnChild(): Promise<{ ok: true; child: ChildRun } | { ok: false; error: string }> {
    // The schema guarantees a non-empty program.
    const [program = '', ...args] = this.p.command;
    const readyTakenBeforeStart = await this.readyAnswersBeforeSpawn();
    const child = spawn(program, args, { cwd: this.p.cwd, env: this.env.childEnv(this.p.env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let spawned = false;
    const startOutcome = new Promise<Error | null>((resolve) => {
      child.once('spawn', () => {
        spawned = true;
        resolve(null);
      });
      child.on('error', (err) => {
        if (!spawned) resolve(err);
        else this.env.log.warn({ err, pid: child.pid }, 'the supervised child reported an error');
      });
    });
    let markExited = () => {};
    let markClosed = () => {};
    const run: ChildRun = {
      child,
      pid: child.pid ?? 0,
      procStart: null,
      spawnedAt: this.env.now(),
      spawnedMono: performance.now(),
      exited: new Promise((resolve) => (markExited = resolve)),
      closed: new Promise((resolve) => (markClosed = resolve)),
      // The watch begins once the child is known to run; a child that never started is never current, so nobody waits on it.
      startup: startOutcome.then((failure) => (failure ? { state: 'starting', upMs: 0 } : this.watchChildStartup(run))),
      readyTakenBeforeStart,
      stopRequested: false,
      stdoutTail: new OutputTail(TAIL_BYTES),
      stderrTail: new OutputTail(TAIL_BYTES),
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      run.stdoutTail.push(chunk);
      this.logFile.write(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      run.stderrTail.push(chunk);
      this.logFile.write(chunk);
    });
    child.on('exit', (code, signal) => {
      // A child that never started has nothing to report here; the spawn error tells the story.
      if (!spawned) return;
      run.exit = { code, signal, at: this.env.now(), uptimeMs: Math.round(performance.now() - run.spawnedMono), duringStartup: run.startedVia === undefined };
      const expected = run.stopRequested || this.disposed;
      if (!expected && run === this.current) this.env.requestRun();
      this.forgetSavedChild(run.pid);
      const logFields = { pid: run.pid, exitCode: code, signal, uptimeMs: run.exit.uptimeMs, duringStartup: run.exit.duringStartup };
      if (expected) this.env.log.info(logFields, 'supervised child stopped');
      else this.env.log.warn(logFields, 'supervised child exited');
      markExited();
    });
    child.on('close', () => {
      if (spawned && run.exit)
        this.logFile.writeLine(`[nightshift ${new Date(run.exit.at).toISOString()}] pid ${run.pid} ${describeEnd(run.exit, run.exit.uptimeMs)}`);
      markClosed();
    });

    const failure = await startOutcome;
    if (failure) {
      const error = `could not start: ${explainSpawnError(failure, this.p.cwd)}`;
      this.env.log.error({ err: failure, program }, 'could not start the supervised child');
      return { ok: false, error };
    }
    run.pid = child.pid!;
    run.procStart = processStartTime(run.pid);
    this.spawns++;
    this.current = run;
    this.logFile.writeLine(`[nightshift ${new Date(run.spawnedAt).toISOString()}] started pid ${run.pid}: ${this.p.command.join(' ')}`);
    try {
      this.env.state.set<SavedChild>({ pid: run.pid, procStart: run.procStart, spawnedAt: run.spawnedAt });
    } catch (err) {
      this.env.log.error({ err, pid: run.pid }, 'could not record the supervised child; a Nightshift killed now would leave it running unnoticed');
    }
    this.env.log.info({ pid: run.pid, program }, 'started the supervised child');
    if (this.disposed) {
      await this.stopChild(run, Math.min(this.p.stopGrace, DISPOSE_GRACE_MAX_MS));
      return { ok: false, error: 'nightshift is stopping; stopped the child it had just started' };
    }
    return { ok: true, child: run };
  }

  /**
   * Watches a spawned child through its start grace. The `ready` probe is
   * left out when it answered before the spawn: whatever holds that port
   * (the squatter a dying child reports EADDRINUSE about) would otherwise
   * pass for the child.
   */
  private watchChildStartup(run: ChildRun): Promise<StartupVerdict<ChildExit>> {
    const ready = run.readyTakenBeforeStart ? undefined : this.p.ready;
    // Ends a readiness probe in flight the moment the child exits.
    const childGone = new AbortController();
    void run.exited.then(() => childGone.abort());
    return watchStartup<ChildExit>({
      graceMs: this.p.startGrace,
      ready,
      upForMs: performance.now() - run.spawnedMono,
      stillUp: () => run.exit,
      pollMs: ready ? READY_POLL_MS : this.p.startGrace,
      wake: run.exited,
      signal: childGone.signal,
    }).then((verdict) => {
      if (verdict.state === 'started') {
        run.startedVia = verdict.via;
        this.env.log.info({ pid: run.pid, via: verdict.via, upMs: verdict.upMs }, 'the supervised child started');
      }
      return verdict;
    });
  }

  /** True when the `ready` port or URL answers before the child is spawned (logged: something else holds it). */
  private async readyAnswersBeforeSpawn(): Promise<boolean> {
    if (!this.p.ready) return false;
    const answer = await probeReadiness(this.p.ready);
    if (answer.ready)
      this.env.log.warn(
        { ready: describeReadiness(this.p.ready) },
        'the ready probe answers before the child is started: something else holds it, so only the start grace decides',
      );
    return answer.ready;
  }

  /** SIGTERM to the child's group, SIGKILL after `graceMs`; true once the child and its group are gone. */
  private async stopChild(run: ChildRun, graceMs: number): Promise<boolean> {
    if (run.exit && !groupExists(run.pid)) return true;
    run.stopRequested = true;
    const outcome = await stopProcessGroup(run.pid, graceMs, () => run.exit !== undefined, run.exited);
    if (outcome.forced) this.env.log.warn({ pid: run.pid, graceMs }, 'the supervised child or its process group ignored SIGTERM; sent SIGKILL to the group');
    return outcome.stopped;
  }

  /**
   * When the saved state names a child that is still running (the previous
   * Nightshift died without stopping it), stops its process group. A pid
   * that now belongs to another program (start time differs) is left alone.
   * Returns a reason when the orphan would not stop.
   */
  private async stopOrphanFromState(): Promise<string | undefined> {
    const saved = this.env.state.get<SavedChild | null>();
    if (!saved || !Number.isInteger(saved.pid) || saved.pid <= 0) return undefined;
    if (this.current && this.current.pid === saved.pid && !this.current.exit) return undefined;
    if (!isProcessRunning(saved.pid)) {
      this.forgetSavedChild(saved.pid);
      return undefined;
    }
    const start = processStartTime(saved.pid);
    if (!saved.procStart || !start || start !== saved.procStart) {
      this.env.log.info({ pid: saved.pid }, 'the saved child pid now belongs to another process (or its start time is unknown); left it alone');
      this.forgetSavedChild(saved.pid);
      return undefined;
    }
    const outcome = await stopProcessGroup(saved.pid, this.p.stopGrace, () => !isProcessRunning(saved.pid));
    if (!outcome.stopped) {
      this.env.log.error({ pid: saved.pid }, 'an orphaned child from a previous run would not stop; not starting a second copy');
      return `an orphaned child (pid ${saved.pid}) from a previous run would not stop; not starting a second copy`;
    }
    this.env.log.warn({ pid: saved.pid, forced: outcome.forced }, 'stopped an orphaned child from a previous run');
    this.forgetSavedChild(saved.pid);
    return undefined;
  }

  /** Clears the saved child, unless it already names another one (a newer spawn, another probe's). */
  private forgetSavedChild(pid: number): void {
    try {
      const saved = this.env.state.get<SavedChild | null>();
      if (saved && saved.pid === pid) this.env.state.set<SavedChild | null>(null);
    } catch (err) {
      this.env.log.warn({ err, pid }, 'could not clear the saved child; the next start will check it against /proc and leave it alone if it is gone');
    }
  }
}

/** How long a child has been running, on the monotonic clock. */
function uptimeOf(run: ChildRun): number {
  return Math.round(run.exit ? run.exit.uptimeMs : performance.now() - run.spawnedMono);
}

/** "exited with code 3 after 120ms", "killed by SIGKILL after 4s". */
function describeEnd(exit: { code: number | null; signal: NodeJS.Signals | null }, uptimeMs: number): string {
  const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return `${how} after ${formatDuration(uptimeMs)}`;
}

function explainSpawnError(err: Error, cwd: string | undefined): string {
  // Node reports a missing working directory as ENOENT of the program, which sends the operator looking in the wrong place.
  if ((err as NodeJS.ErrnoException).code === 'ENOENT' && cwd !== undefined && !existsSync(cwd))
    return `working directory ${cwd} does not exist (${err.message})`;
  return err.message;
}

/**
 * Sends SIGTERM to a process group, waits up to `graceMs` for the leader and
 * the group to be gone, then SIGKILLs the group and waits up to 1 s more.
 * `leaderExited` (our own child's exit event) wakes the wait early.
 */
async function stopProcessGroup(
  pid: number,
  graceMs: number,
  leaderGone: () => boolean,
  leaderExited?: Promise<void>,
): Promise<{ stopped: boolean; forced: boolean }> {
  const allGone = () => leaderGone() && !groupExists(pid);
  signalGroup(pid, 'SIGTERM');
  if (await waitUntil(allGone, graceMs, leaderExited)) return { stopped: true, forced: false };
  signalGroup(pid, 'SIGKILL');
  return { stopped: await waitUntil(allGone, 1000, leaderExited), forced: true };
}

/** Polls `condition` every 10 ms until true or `ms` pass; `wake` ends the first wait early. */
async function waitUntil(condition: () => boolean, ms: number, wake?: Promise<void>): Promise<boolean> {
  const deadline = Date.now() + ms;
  let woken = wake === undefined;
  void wake?.then(() => (woken = true));
  for (;;) {
    if (condition()) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await waitAtMost(woken ? undefined : wake, Math.min(10, left));
  }
}

/** Waits for `promise` (if any), at most `ms`, and no longer than `signal` allows. Never rejects. */
async function waitAtMost(promise: Promise<unknown> | undefined, ms: number, signal?: AbortSignal): Promise<void> {
  // A rejected promise only means "done waiting" here; its owner reports the error.
  if (promise)
    await within(
      promise.catch(() => undefined),
      ms,
      signal,
    );
  else await sleep(ms, signal);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  try {
    // No group led by this pid (it changed its group): signal the process itself.
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    // Gone already: nothing left to stop.
  }
}

function groupExists(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The last bytes of one output stream, for the tails in a run's details. */
class OutputTail {
  private buffer = Buffer.alloc(0);
  /** Something was dropped from the front: the first word kept may be partial. */
  private cut = false;

  constructor(private readonly keepBytes: number) {}

  push(chunk: Buffer): void {
    const joined = Buffer.concat([this.buffer, chunk]);
    this.cut ||= joined.length > this.keepBytes;
    this.buffer = joined.length > this.keepBytes ? Buffer.from(joined.subarray(joined.length - this.keepBytes)) : joined;
  }

  /** The last lines of what was kept, without a word (half a secret, half a character) cut at the start. */
  text(): string {
    const kept = this.buffer.toString('utf8');
    return tail(this.cut ? dropPartialFirstWord(kept) : kept, TAIL_LINES);
  }
}

/**
 * An append-only log file capped at `maxBytes`: when a write would pass the
 * cap, the file is renamed to `<file>.1` (replacing the older one) and a new
 * file starts. Writes are synchronous so rotation loses and reorders no byte.
 * Write errors go to `onError` once per failing streak; they never throw.
 */
export class RotatingLogFile {
  private fd: number | undefined;
  private size = 0;
  private endsWithNewline = true;
  private closed = false;
  private failing = false;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Appends bytes, rotating as often as needed. */
  write(data: Buffer): void {
    if (this.closed || data.length === 0) return;
    try {
      let rest = data;
      while (rest.length > 0) {
        const fd = this.open();
        if (this.size > 0 && this.size + rest.length > this.maxBytes) {
          this.rotate();
          continue;
        }
        const piece = rest.subarray(0, this.maxBytes - this.size);
        writeFully(fd, piece);
        this.size += piece.length;
        this.endsWithNewline = piece[piece.length - 1] === 0x0a;
        rest = rest.subarray(piece.length);
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.onError(err);
      this.failing = true;
    }
  }

  /** Appends one line of Nightshift's own, starting on a fresh line. */
  writeLine(text: string): void {
    this.write(Buffer.from(`${this.endsWithNewline ? '' : '\n'}${text}\n`));
  }

  close(): void {
    this.closed = true;
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    mkdirSync(dirname(this.path), { recursive: true });
    const fd = openSync(this.path, 'a', 0o640);
    this.fd = fd;
    this.size = fstatSync(fd).size;
    return fd;
  }

  private rotate(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    try {
      renameSync(this.path, `${this.path}.1`);
    } catch (err) {
      // Someone removed or moved the file already: start a new one all the same.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.size = 0;
  }
}

function writeFully(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}
