import { constants } from 'node:os';
import { z } from 'zod';
import { describeExit, runCommand, tail, type ExecResult } from '../exec.js';
import { RestartLoopDetector, restartLoopParams } from './restart-loop.js';
import { LimitWatch, limitsParam, withLimits } from './limits.js';
import { describeStarted, describeStillStarting, graceDetails, insideGrace, readyParam, startGraceParam, watchStartup } from './readiness.js';
import type { CheckKind, CheckResult, HealResult } from './types.js';

const params = z
  .strictObject({
    /** The unit, with its type: "worker.service", "backup.timer". */
    unit: z
      .string()
      .min(1)
      .refine((unit) => !unit.startsWith('-'), 'a unit name cannot start with "-"'),
    /** Watch the user's manager (`systemctl --user`) instead of the system one. */
    user: z.boolean().default(false),
    /** The systemctl executable: a name looked up on PATH, or a path. */
    systemctlBin: z.string().min(1).default('systemctl'),
    /** More than `maxRestarts` automatic restarts (NRestarts) inside `window` is a restart loop: escalate, never restart. */
    restartLoop: restartLoopParams,
    /** After `systemctl restart`, a service must stay active with the same MainPID this long to count as started. */
    startGrace: startGraceParam,
    /** A port or URL that answers once the service is ready: it counts as started then, even before its start grace ends. */
    ready: readyParam,
    /** CPU, memory and process-count limits on the service's MainPID and all below it: exceeded `forCycles` runs in a row, the run fails. */
    limits: limitsParam,
  })
  .refine((p) => p.limits === undefined || !p.unit.endsWith('.timer'), {
    path: ['limits'],
    error: 'no limits on a timer: it has no process of its own (put them on the service it starts)',
  });

/**
 * What `show` asks for. Properties a unit type lacks (NRestarts on a timer,
 * NextElapseUSecRealtime on a service) are simply not printed, and the
 * output order is systemd's, not this one.
 */
export const SHOW_PROPERTIES = [
  'Id',
  'LoadState',
  'ActiveState',
  'SubState',
  'NRestarts',
  'Result',
  'ExecMainStatus',
  'ExecMainCode',
  'MainPID',
  'ActiveEnterTimestamp',
  'ActiveEnterTimestampMonotonic',
  'NextElapseUSecRealtime',
  'LastTriggerUSec',
] as const;

type SystemdParams = z.output<typeof params>;

/** Each look at a service inside its grace runs `systemctl show` (milliseconds): a few looks per second catch a death early. */
const SHOW_POLL_MS = 250;

/**
 * A systemd unit (service or timer) is active and not in a restart loop.
 * Reads `systemctl [--user] show`; restarts with `systemctl [--user] restart`.
 * A service counts as (re)started once it stayed active with the same
 * MainPID for its start grace (or its readiness answered first); timers
 * have no process and no grace.
 */
export const systemdCheck: CheckKind<SystemdParams> = {
  kind: 'systemd',
  description:
    'a systemd service or timer is active and not in a restart loop (systemctl show); restart = systemctl restart, counted once it stayed up its start grace',
  params,
  create(p, env) {
    const loopDetector = new RestartLoopDetector(env.state, p.restartLoop);
    const isTimer = p.unit.endsWith('.timer');
    const scope = p.user ? ['--user'] : [];
    const systemctl = `systemctl${p.user ? ' --user' : ''}`;
    const commandEnv = p.user ? userManagerEnv(env.childEnv()) : env.childEnv();
    const withGrace = (result: CheckResult): CheckResult =>
      isTimer ? result : { ...result, details: { ...result.details, ...graceDetails(p.startGrace, p.ready) } };
    const limitWatch = p.limits && new LimitWatch(p.limits);

    /** An active service's result with its limits judged on its MainPID; limits say nothing about a unit that is not up. */
    const judgeLimits = async (result: CheckResult, unit: UnitState, signal: AbortSignal): Promise<CheckResult> => {
      if (!limitWatch || !result.ok || !unit.mainPid) return result;
      return withLimits(result, await limitWatch.observe([unit.mainPid], { signal }), `${p.unit}: `);
    };

    /** `systemctl show`, read; a failure is already the result to report. */
    const show = async (signal: AbortSignal): Promise<{ unit: UnitState } | { failure: CheckResult }> => {
      const result = await runCommand([p.systemctlBin, ...scope, 'show', p.unit, `--property=${SHOW_PROPERTIES.join(',')}`], { env: commandEnv, signal });
      if (result.exitCode === 0) return { unit: readUnitState(parseShowOutput(result.stdout)) };
      return {
        failure: {
          ok: false,
          message: `systemctl show ${p.unit} failed: ${describeExit(result)}${firstLine(result.stderr)}`,
          details: { unit: p.unit, ...exitDetails(result), ...(isTimer ? { timer: true } : {}) },
        },
      };
    };

    /** Watches the service, as it was at `baseline`, through its start grace. */
    const watchService = async (baseline: UnitState, upForMs: number, signal: AbortSignal) => {
      let latest = baseline;
      const outcome = await watchStartup<UnitChange>({
        graceMs: p.startGrace,
        ready: p.ready,
        upForMs,
        pollMs: SHOW_POLL_MS,
        signal,
        async stillUp() {
          const read = await show(signal);
          // A state systemctl cannot give is no evidence the service is up: it does not count as started.
          if ('failure' in read) return signal.aborted ? undefined : { what: read.failure.message };
          latest = read.unit;
          return serviceChanged(baseline, latest, p.startGrace);
        },
      });
      return { outcome, latest: () => latest };
    };

    return {
      async run(ctx): Promise<CheckResult> {
        const read = await show(ctx.signal);
        if ('failure' in read) return read.failure;
        const first = evaluate(p, loopDetector, read.unit, ctx.now());
        const upForMs = activeForMs(read.unit);
        if (isTimer || !first.ok || upForMs === undefined || upForMs >= p.startGrace) return withGrace(await judgeLimits(first, read.unit, ctx.signal));
        // Active, but not for its start grace yet (just restarted, by systemd or by a heal): wait for what really happens.
        const { outcome, latest } = await watchService(read.unit, upForMs, ctx.signal);
        if (outcome.state === 'starting') {
          return withGrace({
            ok: false,
            message: `${p.unit} ${describeStillStarting(outcome.upMs, p.startGrace)}`,
            details: { ...first.details, starting: true },
          });
        }
        const now = evaluate(p, loopDetector, latest(), ctx.now());
        if (outcome.state === 'started') return withGrace(await judgeLimits(now, latest(), ctx.signal));
        const details = { ...now.details, duringStartup: true };
        // Failed now: systemd's own words say why. Active again under another pid: the change does.
        if (!now.ok) return withGrace({ ...now, message: `${now.message}, ${insideGrace(p.startGrace)}`, details });
        return withGrace({ ok: false, message: `${p.unit}: ${describeChange(outcome.gone)}`, details });
      },

      async restart(ctx): Promise<HealResult> {
        const result = await runCommand([p.systemctlBin, ...scope, 'restart', p.unit], { env: commandEnv, signal: ctx.signal });
        const details = {
          unit: p.unit,
          ...exitDetails(result),
          durationMs: Math.round(result.durationMs),
          ...(isTimer ? {} : graceDetails(p.startGrace, p.ready)),
        };
        if (result.exitCode !== 0) {
          return { ok: false, message: `${systemctl} restart ${p.unit} failed: ${describeExit(result)}${firstLine(result.stderr)}`, details };
        }
        if (isTimer) return { ok: true, message: `${systemctl} restart ${p.unit}: done`, details };
        const read = await show(ctx.signal);
        if ('failure' in read) return { ok: false, message: `${systemctl} restart ${p.unit}: done, but ${read.failure.message}`, details };
        const baseline = read.unit;
        if (!isUp(baseline)) {
          return {
            ok: false,
            message: `${systemctl} restart ${p.unit}: done, but it is ${baseline.activeState} (${baseline.subState}) right after it${exitCause(baseline)}`,
            details: { ...details, activeState: baseline.activeState, subState: baseline.subState, duringStartup: true },
          };
        }
        // Without ActiveEnterTimestampMonotonic the grace counts from now: a little longer, never shorter.
        const { outcome } = await watchService(baseline, activeForMs(baseline) ?? 0, ctx.signal);
        const pid = `pid ${baseline.mainPid ?? '?'}`;
        if (outcome.state === 'started') {
          return {
            ok: true,
            message: `${systemctl} restart ${p.unit}: ${pid} ${describeStarted(outcome, p.ready)}`,
            details: { ...details, pid: baseline.mainPid, startedVia: outcome.via },
          };
        }
        if (outcome.state === 'starting') {
          return {
            ok: false,
            message: `${systemctl} restart ${p.unit}: aborted while ${pid} was ${describeStillStarting(outcome.upMs, p.startGrace)}`,
            details: { ...details, pid: baseline.mainPid, starting: true },
          };
        }
        return {
          ok: false,
          message: `${systemctl} restart ${p.unit}: ${describeChange(outcome.gone)}`,
          details: { ...details, pid: baseline.mainPid, duringStartup: true, upMs: outcome.upMs },
        };
      },
    };
  },
};

/** What one `systemctl show` says about the unit, as a run reports it. */
function evaluate(p: SystemdParams, loopDetector: RestartLoopDetector, unit: UnitState, now: number): CheckResult {
  const isTimer = p.unit.endsWith('.timer');
  const details: Record<string, unknown> = {
    unit: p.unit,
    loadState: unit.loadState,
    activeState: unit.activeState,
    subState: unit.subState,
    result: unit.result,
  };
  if (isTimer) {
    details.timer = true;
    details.nextElapse = unit.nextElapse;
    details.lastTrigger = unit.lastTrigger;
  } else {
    Object.assign(details, { nRestarts: unit.nRestarts, execMainStatus: unit.execMainStatus, execMainCode: unit.execMainCode, pid: unit.mainPid });
  }
  if (unit.activeEnterTimestamp) details.activeEnterTimestamp = unit.activeEnterTimestamp;

  if (unit.loadState === 'not-found') return { ok: false, message: `unit ${p.unit} not found`, details };
  if (unit.loadState !== 'loaded') return { ok: false, message: `unit ${p.unit} is not loaded (LoadState=${unit.loadState})`, details };

  if (unit.nRestarts !== undefined) {
    const verdict = loopDetector.observe(unit.nRestarts, now);
    details.restartsInWindow = verdict.restartsInWindow;
    if (verdict.loop) {
      return {
        ok: false,
        message: `${verdict.message} (${p.unit}, now ${unit.activeState}/${unit.subState})`,
        details: { ...details, restartLoop: true },
      };
    }
  }
  if (unit.result === 'start-limit-hit') {
    // systemd itself stopped restarting it (StartLimitBurst= within StartLimitIntervalSec=): another restart is refused or repeats the loop.
    return {
      ok: false,
      message: `restart loop: ${p.unit} hit its start limit, systemd stopped restarting it`,
      details: { ...details, restartLoop: true },
    };
  }

  const state = `${unit.activeState} (${unit.subState})`;
  if (!isUp(unit)) {
    const why = isTimer ? '' : exitCause(unit);
    return { ok: false, message: `${p.unit} is ${state}${why}`, details };
  }
  if (isTimer) {
    const next = unit.nextElapse ? `, next ${unit.nextElapse}` : '';
    const last = unit.lastTrigger ? `, last ${unit.lastTrigger}` : '';
    return { ok: true, message: `${p.unit} ${state}${next}${last}`, details };
  }
  const since = unit.activeEnterTimestamp ? ` since ${unit.activeEnterTimestamp}` : '';
  return { ok: true, message: `${p.unit} ${state}${since}, pid ${unit.mainPid ?? '?'}, ${unit.nRestarts ?? 0} restarts`, details };
}

/** "reloading" is a running unit re-reading its configuration. */
function isUp(unit: UnitState): boolean {
  return unit.activeState === 'active' || unit.activeState === 'reloading';
}

/**
 * How long the unit has been active, from ActiveEnterTimestampMonotonic
 * (CLOCK_MONOTONIC, the clock process.hrtime reads): exact, and free of
 * the time zone in ActiveEnterTimestamp's text. Undefined when systemd
 * does not say.
 */
function activeForMs(unit: UnitState): number | undefined {
  if (!unit.activeEnterMonotonicUs) return undefined;
  return Math.max(0, Number(process.hrtime.bigint() / 1000n) - unit.activeEnterMonotonicUs) / 1000;
}

/** What became of a service inside its start grace: "pid 4017 exited with code 1, inside its 1s start grace", then "now failed (failed)". */
interface UnitChange {
  what: string;
  then?: string;
}

function describeChange(change: UnitChange): string {
  return `${change.what}${change.then ? ` (${change.then})` : ''}`;
}

/** How the service differs from `baseline`; undefined while it is active with the same MainPID and no automatic restart. */
function serviceChanged(baseline: UnitState, now: UnitState, graceMs: number): UnitChange | undefined {
  const restarted = now.mainPid !== baseline.mainPid || (now.nRestarts ?? 0) > (baseline.nRestarts ?? 0);
  if (isUp(now) && !restarted) return undefined;
  const what = `pid ${baseline.mainPid ?? '?'} ${describeMainExit(now)}, ${insideGrace(graceMs)}`;
  if (isUp(now)) return { what, then: `systemd restarted it as pid ${now.mainPid ?? '?'}` };
  return { what, then: `now ${now.activeState} (${now.subState})${now.result && now.result !== 'success' ? `, Result=${now.result}` : ''}` };
}

/** "exited with code 1", "was killed by SIGKILL", or "exited" when systemd has no status yet. */
function describeMainExit(unit: UnitState): string {
  if (unit.execMainCode === CLD_EXITED) return `exited with code ${unit.execMainStatus}`;
  if (unit.execMainCode === CLD_KILLED) return `was killed by ${signalName(unit.execMainStatus)}`;
  if (unit.execMainCode === CLD_DUMPED) return `dumped core on ${signalName(unit.execMainStatus)}`;
  return 'exited';
}

/** `systemctl show` output as a map: one KEY=VALUE per line, split at the first "=" (values may contain "="). */
export function parseShowOutput(stdout: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) properties.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return properties;
}

/** The fields this kind reads from `systemctl show`; numbers are undefined when the unit type has no such property. */
export interface UnitState {
  loadState: string;
  activeState: string;
  subState: string;
  result?: string | undefined;
  nRestarts?: number | undefined;
  execMainCode?: number | undefined;
  execMainStatus?: number | undefined;
  mainPid?: number | undefined;
  /** systemd's own text ("Sun 2025-11-23 03:00:00 UTC"), kept as printed: it carries the machine's time zone. */
  activeEnterTimestamp?: string | undefined;
  /** ActiveEnterTimestampMonotonic, µs of CLOCK_MONOTONIC; 0 or absent when unknown. */
  activeEnterMonotonicUs?: number | undefined;
  nextElapse?: string | undefined;
  lastTrigger?: string | undefined;
}

function readUnitState(properties: Map<string, string>): UnitState {
  const text = (key: string) => properties.get(key) || undefined;
  const int = (key: string) => {
    const value = properties.get(key);
    return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : undefined;
  };
  return {
    loadState: text('LoadState') ?? 'unknown',
    activeState: text('ActiveState') ?? 'unknown',
    subState: text('SubState') ?? 'unknown',
    result: text('Result'),
    nRestarts: int('NRestarts'),
    execMainCode: int('ExecMainCode'),
    execMainStatus: int('ExecMainStatus'),
    mainPid: int('MainPID'),
    activeEnterTimestamp: text('ActiveEnterTimestamp'),
    activeEnterMonotonicUs: int('ActiveEnterTimestampMonotonic'),
    nextElapse: text('NextElapseUSecRealtime'),
    lastTrigger: text('LastTriggerUSec'),
  };
}

/** ExecMainCode is the siginfo code of the main process's end: CLD_EXITED, CLD_KILLED, CLD_DUMPED. */
const CLD_EXITED = 1;
const CLD_KILLED = 2;
const CLD_DUMPED = 3;

/** ", Result=exit-code, exit status 1" / ", Result=signal, killed by SIGKILL". */
function exitCause(unit: UnitState): string {
  const parts: string[] = [];
  if (unit.result && unit.result !== 'success') parts.push(`Result=${unit.result}`);
  if (unit.execMainCode === CLD_EXITED) parts.push(`exit status ${unit.execMainStatus}`);
  else if (unit.execMainCode === CLD_KILLED) parts.push(`killed by ${signalName(unit.execMainStatus)}`);
  else if (unit.execMainCode === CLD_DUMPED) parts.push(`dumped core on ${signalName(unit.execMainStatus)}`);
  return parts.length > 0 ? `, ${parts.join(', ')}` : '';
}

function signalName(signal: number | undefined): string {
  const name = Object.entries(constants.signals).find(([, number]) => number === signal)?.[0];
  return name ?? `signal ${signal}`;
}

/**
 * `systemctl --user` finds the user's manager through XDG_RUNTIME_DIR, which
 * a system service or cron job running Nightshift usually lacks; the user's
 * runtime folder is /run/user/<uid> on every systemd machine.
 */
function userManagerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.XDG_RUNTIME_DIR || process.getuid === undefined) return env;
  return { ...env, XDG_RUNTIME_DIR: `/run/user/${process.getuid()}` };
}

function exitDetails(result: ExecResult): Record<string, unknown> {
  return { exitCode: result.exitCode, signal: result.signal, spawnError: result.spawnError, stderrTail: tail(result.stderr, 10) };
}

/** The first line of systemctl's complaint ("Failed to restart x: Unit x not found."): the lines after it point elsewhere. */
function firstLine(stderr: string): string {
  const line = stderr.split('\n').find((text) => text.trim() !== '');
  return line ? `: ${line.trim()}` : '';
}
