import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import type { Probe } from '../checks/types.js';
import type { CheckConfig } from '../checks/types.js';
import type { Logger } from '../log/logger.js';
import { Redactor } from '../log/redact.js';
import type { StoreHealth } from '../store/health.js';
import { MAX_EVENT_STRING } from '../store/events.js';
import { clipAtWord, clipStrings } from '../util/text.js';

/** A check's one-line message as stored and shown. */
const MAX_MESSAGE_CHARS = 2_000;
import type { CheckRunState, CheckStateRow, CheckStateStore } from '../store/check-state.js';
import type { Db } from '../store/database.js';
import type { EventLog } from '../store/events.js';
import { ConcurrencyLimiter } from './limiter.js';
import { DueQueue } from './due-queue.js';
import { runWithBoundary, type TimedResult } from './run-check.js';

/** One recorded run, as listeners (incidents, recovery, metrics) receive it. */
export interface RunOutcome {
  check: CheckConfig;
  result: TimedResult;
  /** The check's row after this run was committed. */
  state: CheckStateRow;
  /** The status before this run. */
  previousStatus: CheckStateRow['status'];
  /** On recovery: how long the check was failing, when known. */
  downForMs: number | null;
  /** When the run began (ms): its check.failed/check.recovered event is dated by it, so failures order by when they began. */
  startedAt: number;
}

export interface PatrolEvents {
  result: [outcome: RunOutcome];
  tick: [at: number];
}

export interface PatrolOptions {
  checks: readonly CheckConfig[];
  probes: ReadonlyMap<string, Probe>;
  db: Db;
  checkState: CheckStateStore;
  events: EventLog;
  clock: Clock;
  log: Logger;
  /** The loop wakes at least this often (and /healthz expects it to). */
  intervalMs: number;
  concurrency: number;
  /** Cleans every result before it is stored or passed on (a failing check quotes what a service printed). */
  redactor?: Redactor;
  /** Where a run that could not be recorded (disk full) is reported; it is recorded by the check's next run. */
  health?: StoreHealth;
}

/**
 * The patrol loop. Each check runs on its own interval, never overlapping
 * itself, at most `concurrency` at a time, each inside its own timeout and
 * error boundary. Every run is committed to the store before anyone is told
 * about it.
 */
export class Patrol extends EventEmitter<PatrolEvents> {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly stopController = new AbortController();
  private readonly limiter: ConcurrencyLimiter;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly nextDue = new Map<string, number>();
  private readonly rerun = new Set<string>();
  private readonly due = new DueQueue();
  /** The checks patrolled now: the configuration's, until a reload replaces them. */
  private checks: readonly CheckConfig[];
  private byName: Map<string, CheckConfig>;
  /** Aborts one check's run in flight (its check was removed or changed by a reload). */
  private readonly runAborts = new Map<string, AbortController>();
  private lastTick: number | null = null;
  private running = false;
  private readonly redactor: Redactor;

  constructor(private readonly options: PatrolOptions) {
    super();
    this.limiter = new ConcurrencyLimiter(options.concurrency);
    this.redactor = options.redactor ?? new Redactor();
    this.checks = options.checks;
    this.byName = new Map(options.checks.map((c) => [c.name, c]));
  }

  /** Starts the loop; the first run of every check is immediate. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const now = this.options.clock.now();
    // With more checks than may run at once, first runs are spread over the first second (or interval,
    // if shorter) instead of queued in one burst: with a thousand checks, that burst set the peak memory.
    const count = this.checks.length;
    const spread = count > this.options.concurrency;
    this.checks.forEach((check, i) => this.schedule(check.name, spread ? now + Math.floor((i / count) * Math.min(1_000, check.intervalMs)) : now));
    this.tick();
  }

  /** Stops the loop, aborts running checks and waits for them to settle. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.stopController.abort(new Error('nightshift is stopping'));
    for (const abort of this.runAborts.values()) abort.abort(this.stopController.signal.reason);
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** When the loop last woke, or null before the first wake. */
  get lastTickAt(): number | null {
    return this.lastTick;
  }

  /** The loop woke within two intervals: what /healthz reports. */
  isAlive(now = this.options.clock.now()): boolean {
    return this.lastTick !== null && now - this.lastTick <= 2 * this.options.intervalMs;
  }

  /**
   * Runs a check as soon as possible (a supervised child exited, a ping
   * arrived). If it is running now, it runs again right after.
   */
  requestRun(name: string): void {
    if (!this.running) return;
    this.schedule(name, this.options.clock.now());
    if (this.inFlight.has(name)) this.rerun.add(name);
    else this.tick();
  }

  /** Runs every check now and waits for all of them (for `/status` refreshes and tests). */
  async runAll(): Promise<void> {
    await Promise.all(this.checks.map((check) => this.inFlight.get(check.name) ?? this.launch(check)));
  }

  /**
   * A reload, first step: the checks named (removed or changed) stop being patrolled. A run in flight is aborted
   * and its result dropped (it probed with the old settings), and nothing runs them until replaceChecks().
   */
  async retire(names: ReadonlySet<string>): Promise<void> {
    for (const name of names) {
      this.byName.delete(name);
      this.runAborts.get(name)?.abort(new Error('the check was changed or removed by a reload'));
    }
    await Promise.allSettled([...names].map((name) => this.inFlight.get(name) ?? Promise.resolve()));
    for (const name of names) {
      this.nextDue.delete(name);
      this.rerun.delete(name);
    }
  }

  /** A reload, last step: patrols `next` from now on; checks that are new (or were retired) run at once, the others keep their schedule. */
  replaceChecks(next: readonly CheckConfig[]): void {
    const scheduled = new Set(this.nextDue.keys());
    this.checks = next;
    this.byName = new Map(next.map((c) => [c.name, c]));
    if (!this.running) return;
    const now = this.options.clock.now();
    for (const check of next) if (!scheduled.has(check.name)) this.schedule(check.name, now);
    this.tick();
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.options.clock.now();
    this.lastTick = now;
    this.safeEmit('tick', now);
    for (let entry = this.due.peek(); entry && entry.at <= now; entry = this.due.peek()) {
      this.due.pop();
      // Stale entries (rescheduled since) and checks still running are skipped; a running check is
      // queued again when it finishes.
      if (this.nextDue.get(entry.name) !== entry.at || this.inFlight.has(entry.name)) continue;
      const check = this.byName.get(entry.name);
      if (check) void this.launch(check);
    }
    this.scheduleWake();
  }

  /** Sets the timer for the earliest due check, or one interval from now (the loop's heartbeat). */
  private scheduleWake(): void {
    if (!this.running) return;
    const now = this.options.clock.now();
    while (this.due.size > 0 && this.nextDue.get(this.due.peek()!.name) !== this.due.peek()!.at) this.due.pop();
    this.wakeAt(Math.min(now + this.options.intervalMs, this.due.peek()?.at ?? Infinity), true);
  }

  private schedule(name: string, at: number): void {
    this.nextDue.set(name, at);
    this.due.push(at, name);
  }

  /** Sets the timer to `at`; unless `force`, only ever moves it earlier (cheap after each run). */
  private wakeAt(at: number, force = false): void {
    if (!this.running) return;
    if (!force && this.timer !== undefined && at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.tick();
      },
      Math.max(0, at - this.options.clock.now()),
    );
  }

  private launch(check: CheckConfig): Promise<void> {
    const probe = this.options.probes.get(check.name);
    const started = this.options.clock.now();
    this.schedule(check.name, started + check.intervalMs);
    // One controller per run, aborted by stop() or by a reload: no listener per run on a shared signal.
    const abort = new AbortController();
    const signal = abort.signal;
    if (this.stopController.signal.aborted) abort.abort(this.stopController.signal.reason);
    this.runAborts.set(check.name, abort);
    const run = this.limiter
      .run(async () => {
        if (signal.aborted) return;
        const result = probe
          ? await runWithBoundary(probe, check.timeoutMs, signal, () => this.options.clock.now())
          : { ok: false, message: 'no probe was created for this check', durationMs: 0, timedOut: false };
        // Stopping, or a reload changed or removed the check while it ran: this result speaks for settings no longer in force.
        if (signal.aborted || this.byName.get(check.name) !== check) return;
        this.record(check, result, started);
      })
      .catch((err: unknown) => {
        // The boundary of last resort: recording failed (disk full, database locked). The patrol goes on, and
        // the check's next run records it again: incidents are derived from runs, so nothing is lost for good.
        this.options.checkState.invalidate();
        if (!this.options.health?.failed(err, `patrol:${check.name}`))
          this.options.log.error({ err, check: check.name }, 'patrol could not record a check result');
      })
      .finally(() => {
        this.inFlight.delete(check.name);
        if (this.runAborts.get(check.name) === abort) this.runAborts.delete(check.name);
        if (this.rerun.delete(check.name)) this.schedule(check.name, this.options.clock.now());
        // Its due entry may have been passed over while it ran: queue it again (duplicates are harmless).
        else this.due.push(this.nextDue.get(check.name) ?? this.options.clock.now(), check.name);
        this.wakeAt(this.nextDue.get(check.name) ?? this.options.clock.now());
      });
    this.inFlight.set(check.name, run);
    return run;
  }

  /**
   * Commits the run (state row + event on failure/recovery), then tells
   * listeners. The event is dated when the run began, not when it finished:
   * checks of one patrol run concurrently and a slow one that failed first
   * finishes last, so finish times would put its failure after the fast
   * failures it caused (the causal analysis orders by these dates). The
   * state row's lastRunAt stays the finish time (what /status shows).
   */
  private record(check: CheckConfig, rawResult: TimedResult, startedAt: number): void {
    const { checkState, events, db, clock } = this.options;
    // Secrets out and sizes bounded before anything is stored or told: a check may quote a whole stderr.
    const result: TimedResult = {
      ...rawResult,
      message: clipAtWord(this.redactor.redact(rawResult.message), MAX_MESSAGE_CHARS),
      ...(rawResult.details ? { details: clipStrings(this.redactor.redactValue(rawResult.details), MAX_EVENT_STRING) } : {}),
    };
    const at = clock.now();
    const previous = checkState.get(check.name);
    const from = previous?.status ?? 'unknown';
    const to = result.ok ? 'ok' : 'failing';
    const changed = from !== to;
    const downForMs = result.ok && from === 'failing' && previous?.lastChangeAt != null ? at - previous.lastChangeAt : null;
    const run: CheckRunState = {
      name: check.name,
      kind: check.kind,
      severity: check.severity,
      status: to,
      consecutiveFailures: result.ok ? 0 : (previous?.consecutiveFailures ?? 0) + 1,
      lastRunAt: at,
      lastOkAt: result.ok ? at : (previous?.lastOkAt ?? null),
      lastChangeAt: changed ? at : (previous?.lastChangeAt ?? at),
      lastDurationMs: Number(result.durationMs.toFixed(2)),
      lastMessage: result.message,
      lastDetails: result.details ?? null,
      runs: (previous?.runs ?? 0) + 1,
      failures: (previous?.failures ?? 0) + (result.ok ? 0 : 1),
    };
    db.transaction(() => {
      checkState.save(run);
      if (!result.ok) {
        events.append(startedAt, 'check.failed', check.name, check.severity === 'critical' ? 'critical' : 'warning', {
          ...result.details,
          kind: check.kind,
          message: result.message,
          durationMs: run.lastDurationMs ?? 0,
          consecutiveFailures: run.consecutiveFailures,
          ...(result.timedOut ? { timedOut: true } : {}),
        });
      } else if (from === 'failing') {
        events.append(startedAt, 'check.recovered', check.name, 'info', {
          ...result.details,
          kind: check.kind,
          message: result.message,
          downForMs,
        });
      }
    })();
    this.options.health?.succeeded();
    const state: CheckStateRow = { flapping: false, mutedUntil: null, lastHealAt: null, healHeld: false, unheldHeals: 0, ...previous, ...run };
    this.safeEmit('result', { check, result, state, previousStatus: from, downForMs, startedAt });
  }

  /** A listener that throws (a broken channel, a metrics bug) is logged and never stops the patrol. */
  private safeEmit<K extends keyof PatrolEvents>(event: K, ...args: PatrolEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: PatrolEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      if (!this.options.health?.failed(err, `patrol listener:${event}`)) this.options.log.error({ err, event }, 'a patrol listener failed');
    }
  }
}
