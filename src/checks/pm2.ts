import { z } from 'zod';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { describeExit, runCommand, tail, type ExecResult } from '../exec.js';
import { formatDuration } from '../util/duration.js';
import { describeStarted, describeStillStarting, graceDetails, insideGrace, mostTellingLine, readyParam, startGraceParam, watchStartup } from './readiness.js';
import { RestartLoopDetector, restartLoopParams } from './restart-loop.js';
import { LimitWatch, limitsParam, withLimits } from './limits.js';
import type { CheckKind, CheckResult, HealResult } from './types.js';
import { formatBytes } from '../util/format.js';
import { ANSI, readPm2List, type JlistEntry } from './pm2-list.js';

const params = z.strictObject({
  /** The pm2 app name (the `name` column of `pm2 list`). */
  app: z
    .string()
    .min(1)
    .refine((app) => !app.startsWith('-'), 'an app name cannot start with "-"'),
  /** The pm2 executable: a name looked up on PATH, or a path. */
  pm2Bin: z.string().min(1).default('pm2'),
  /** More than `maxRestarts` restarts (pm2's restart_time) inside `window` is a restart loop: escalate, never restart. */
  restartLoop: restartLoopParams,
  /** PM2_HOME of the daemon to watch (another user's ~/.pm2); the bot's own default when absent. */
  pm2Home: z.string().min(1).optional(),
  /** After `pm2 restart`, the app must stay online as the same process, unrestarted, this long to count as started. */
  startGrace: startGraceParam,
  /** A port or URL that answers once the app is ready: it counts as started then, even before its start grace ends. */
  ready: readyParam,
  /**
   * CPU, memory and process-count limits on the app's process(es) and all below them, from /proc (pm2's own
   * figures where /proc cannot see them): exceeded `forCycles` runs in a row, the run fails.
   */
  limits: limitsParam,
});

type Pm2Params = z.output<typeof params>;

/** Each look at an app inside its grace runs `pm2 jlist` (a few hundred ms): a few looks per second are plenty. */
const LIST_POLL_MS = 250;
/** Bytes of an app's pm2 error log read after a start-up death, for the line that says why. */
const ERR_LOG_READ_BYTES = 16 * 1024;

/**
 * A pm2-managed app: online or not, and whether pm2 keeps restarting it.
 * Reads `pm2 jlist`; restarts with `pm2 restart <app>`.
 */
export const pm2Check: CheckKind<Pm2Params> = {
  kind: 'pm2',
  description: 'a pm2 app is online and not in a restart loop (pm2 jlist); restart = pm2 restart, counted once it stayed up its start grace',
  params,
  create(p, env) {
    const loopDetector = new RestartLoopDetector(env.state, p.restartLoop);
    // The child inherits the bot's environment (PATH, HOME) and only PM2_HOME changes when another daemon is watched.
    const commandEnv = env.childEnv(p.pm2Home === undefined ? {} : { PM2_HOME: p.pm2Home });
    const withGrace = (result: CheckResult): CheckResult => ({ ...result, details: { ...result.details, ...graceDetails(p.startGrace, p.ready) } });
    const limitWatch = p.limits && new LimitWatch(p.limits);

    /** An online app's result with its limits judged; limits say nothing about an app that is not up. */
    const judgeLimits = async (result: CheckResult, instances: JlistEntry[], signal: AbortSignal): Promise<CheckResult> => {
      if (!limitWatch || !result.ok) return result;
      const reported = { by: 'pm2', cpuPercent: sum(instances.map((proc) => proc.monit.cpu)), memoryBytes: sum(instances.map((proc) => proc.monit.memory)) };
      return withLimits(
        result,
        await limitWatch.observe(
          instances.map((proc) => proc.pid),
          { signal, reported },
        ),
        `pm2 app ${p.app}: `,
      );
    };

    /** The app's error logs as the latest `pm2 jlist` named them: a restart (always after a run) marks them without listing again. */
    let errLogPaths: Array<string | undefined> | undefined;

    /** `pm2 jlist`, parsed; a failure is already the result to report. */
    const readList = async (signal: AbortSignal): Promise<{ list: JlistEntry[]; daemonSpawned: boolean } | { failure: CheckResult }> => {
      const listed = await readPm2List(p.pm2Bin, commandEnv, signal);
      if (listed.list === undefined) {
        const { result, notices } = listed;
        if (result.exitCode !== 0)
          return { failure: { ok: false, message: `pm2 jlist failed: ${describeExit(result)}${lastLine(result.stderr)}`, details: failureDetails(result) } };
        return { failure: { ok: false, message: 'pm2 jlist printed no JSON process list', details: { ...failureDetails(result), notices } } };
      }
      errLogPaths = listed.list.filter((proc) => proc.name === p.app).map((proc) => proc.pm2_env.pm_err_log_path);
      return listed;
    };

    /** Watches the app's instances, as they were at `baseline`, through their start grace. */
    const watchInstances = (baseline: JlistEntry[], signal: AbortSignal) => {
      let latest = baseline;
      const verdict = watchStartup<InstanceChange>({
        graceMs: p.startGrace,
        ready: p.ready,
        upForMs: youngestUptime(baseline, Date.now()),
        pollMs: LIST_POLL_MS,
        signal,
        async stillUp() {
          const read = await readList(signal);
          // A list pm2 cannot give is no evidence the app is up: it does not count as started.
          if ('failure' in read) return signal.aborted ? undefined : { what: read.failure.message };
          latest = read.list.filter((proc) => proc.name === p.app);
          return instancesChanged(baseline, latest, p.startGrace);
        },
      });
      return verdict.then((outcome) => ({ outcome, latest: () => latest }));
    };

    return {
      async run(ctx): Promise<CheckResult> {
        const read = await readList(ctx.signal);
        if ('failure' in read) return withGrace(read.failure);
        const first = evaluate(p, loopDetector, read.list, read.daemonSpawned, ctx.now());
        const upForMs = youngestUptime(first.instances, Date.now());
        if (!first.result.ok || upForMs >= p.startGrace) return withGrace(await judgeLimits(first.result, first.instances, ctx.signal));
        // Online, but not for its start grace yet (just restarted, by pm2 or by a heal): wait for what really happens.
        const { outcome, latest } = await watchInstances(first.instances, ctx.signal);
        if (outcome.state === 'starting') {
          return withGrace({
            ok: false,
            message: `pm2 app ${p.app} ${describeStillStarting(outcome.upMs, p.startGrace)}`,
            details: { ...first.result.details, starting: true },
          });
        }
        const now = evaluate(p, loopDetector, latest(), false, ctx.now());
        if (outcome.state === 'started' || !now.result.ok) return withGrace(await judgeLimits(now.result, now.instances, ctx.signal));
        return withGrace({
          ok: false,
          message: `pm2 app ${p.app}: ${describeChange(outcome.gone, '')}`,
          details: { ...now.result.details, duringStartup: true },
        });
      },

      async restart(ctx): Promise<HealResult> {
        // Where the app's error logs end now: what the restarted process writes comes after, and says why it died.
        if (errLogPaths === undefined) await readList(ctx.signal);
        const errLogs = (errLogPaths ?? []).map(errLogMark);
        const lastWords = () => mostTellingLine(errLogs.map((mark) => readAppended(mark)).join('\n'));

        const result = await runCommand([p.pm2Bin, 'restart', p.app], { env: commandEnv, signal: ctx.signal });
        const restartedAt = performance.now();
        const details = {
          exitCode: result.exitCode,
          signal: result.signal,
          stderrTail: cleanTail(result.stderr),
          durationMs: Math.round(result.durationMs),
          ...graceDetails(p.startGrace, p.ready),
        };
        if (result.exitCode !== 0) return { ok: false, message: `pm2 restart ${p.app} failed: ${describeExit(result)}${lastLine(result.stderr)}`, details };
        const read = await readList(ctx.signal);
        if ('failure' in read) return { ok: false, message: `pm2 restart ${p.app}: done, but ${read.failure.message}`, details };
        const baseline = read.list.filter((proc) => proc.name === p.app);
        if (baseline.length === 0) return { ok: false, message: `pm2 restart ${p.app}: done, but the app is not in pm2's list right after it`, details };
        const notOnline = baseline.find((proc) => proc.pm2_env.status !== 'online');
        if (notOnline) {
          const code = notOnline.pm2_env.exit_code !== undefined ? ` with code ${notOnline.pm2_env.exit_code}` : '';
          const when = performance.now() - restartedAt <= p.startGrace ? `, ${insideGrace(p.startGrace)}` : '';
          const change = { what: `the app exited${code} right after the restart${when}`, then: `now ${notOnline.pm2_env.status}` };
          return { ok: false, message: `pm2 restart ${p.app}: ${describeChange(change, lastWords())}`, details: { ...details, duringStartup: true } };
        }
        const { outcome } = await watchInstances(baseline, ctx.signal);
        const pids = baseline.map((proc) => proc.pid).join(', ');
        if (outcome.state === 'started') {
          return {
            ok: true,
            message: `pm2 restart ${p.app}: pid ${pids} ${describeStarted(outcome, p.ready)}`,
            details: { ...details, pid: baseline[0]!.pid, startedVia: outcome.via },
          };
        }
        if (outcome.state === 'starting') {
          return {
            ok: false,
            message: `pm2 restart ${p.app}: aborted while pid ${pids} was ${describeStillStarting(outcome.upMs, p.startGrace)}`,
            details: { ...details, starting: true },
          };
        }
        return {
          ok: false,
          message: `pm2 restart ${p.app}: ${describeChange(outcome.gone, lastWords())}`,
          details: { ...details, pid: baseline[0]!.pid, duringStartup: true, upMs: outcome.upMs },
        };
      },
    };
  },
};

/** The app's state from one `pm2 jlist`: the result a run reports, and the app's instances. */
function evaluate(
  p: Pm2Params,
  loopDetector: RestartLoopDetector,
  list: JlistEntry[],
  daemonSpawned: boolean,
  now: number,
): { result: CheckResult; instances: JlistEntry[] } {
  const instances = list.filter((proc) => proc.name === p.app);
  const first = instances[0];
  if (first === undefined) {
    const why = daemonSpawned ? ' (its daemon was not running; pm2 jlist started a new, empty one)' : '';
    return { result: { ok: false, message: `pm2 has no app named ${p.app}${why}`, details: { app: p.app, apps: list.length, daemonSpawned } }, instances };
  }

  // Cluster mode lists one entry per instance under the same name: sum the counters, report the worst status.
  const notOnline = instances.find((proc) => proc.pm2_env.status !== 'online');
  const shown = notOnline ?? first;
  const status = shown.pm2_env.status;
  const restarts = sum(instances.map((proc) => proc.pm2_env.restart_time));
  const uptimeMs = status === 'online' && first.pm2_env.pm_uptime !== undefined ? Math.max(0, now - first.pm2_env.pm_uptime) : 0;
  const memoryBytes = sum(instances.map((proc) => proc.monit.memory));
  const exitCode = shown.pm2_env.exit_code;
  const details: Record<string, unknown> = {
    app: p.app,
    status,
    pid: shown.pid,
    restarts,
    unstableRestarts: sum(instances.map((proc) => proc.pm2_env.unstable_restarts)),
    uptimeMs,
    memoryBytes,
    cpu: sum(instances.map((proc) => proc.monit.cpu)),
  };
  if (instances.length > 1) {
    details.instances = instances.length;
    details.pids = instances.map((proc) => proc.pid);
  }
  if (exitCode !== undefined) details.lastExitCode = exitCode;

  const verdict = loopDetector.observe(restarts, now);
  details.restartsInWindow = verdict.restartsInWindow;
  if (verdict.loop) {
    // pm2's autorestart may show the app online at this very moment; the counter is what tells the truth.
    return { result: { ok: false, message: `${verdict.message} (pm2 app ${p.app}, now ${status})`, details: { ...details, restartLoop: true } }, instances };
  }
  if (notOnline) {
    const which = instances.length > 1 ? ` (${instances.length - countOnline(instances)} of ${instances.length} instances)` : '';
    const lastExit = exitCode !== undefined && exitCode !== 0 ? `, last exit code ${exitCode}` : '';
    return { result: { ok: false, message: `pm2 app ${p.app} is ${status}${which}${lastExit}`, details }, instances };
  }
  return {
    result: {
      ok: true,
      message: `pm2 app ${p.app} online, pid ${first.pid}, up ${formatDuration(uptimeMs)}, ${restarts} restarts, ${formatBytes(memoryBytes)}`,
      details,
    },
    instances,
  };
}

/** What became of an app inside its start grace: "pid 812 exited with code 1 within 230ms, inside its 1s start grace", then "pm2 restarted it as pid 840". */
interface InstanceChange {
  what: string;
  then?: string;
}

/** The change, with the most telling line of the app's stderr when there is one. */
function describeChange(change: InstanceChange, line: string): string {
  return `${change.what}${line ? `: ${line}` : ''}${change.then ? ` (${change.then})` : ''}`;
}

/** How the app's instances differ from `baseline`; undefined while they are the same processes, all online, none restarted. */
function instancesChanged(baseline: JlistEntry[], latest: JlistEntry[], graceMs: number): InstanceChange | undefined {
  for (const [index, before] of baseline.entries()) {
    const now = before.pm_id === undefined ? latest[index] : latest.find((proc) => proc.pm_id === before.pm_id);
    const startedAt = before.pm2_env.pm_uptime;
    const lived = startedAt === undefined ? '' : ` within ${formatDuration(Math.max(0, Date.now() - startedAt))}`;
    if (now === undefined) return { what: `pid ${before.pid} left pm2's list${lived}, ${insideGrace(graceMs)}` };
    const restarted = now.pid !== before.pid || now.pm2_env.restart_time > before.pm2_env.restart_time;
    if (!restarted && now.pm2_env.status === 'online') continue;
    const code = now.pm2_env.exit_code !== undefined ? ` with code ${now.pm2_env.exit_code}` : '';
    const then = now.pm2_env.status === 'online' ? `pm2 restarted it as pid ${now.pid}` : `now ${now.pm2_env.status}`;
    return { what: `pid ${before.pid} exited${code}${lived}, ${insideGrace(graceMs)}`, then };
  }
  return undefined;
}

function cleanTail(text: string): string {
  return tail(text.replace(ANSI, ''), 10);
}

function lastLine(stderr: string): string {
  const line = cleanTail(stderr).split('\n').at(-1)?.trim();
  return line ? `: ${line}` : '';
}

function failureDetails(result: ExecResult): Record<string, unknown> {
  return { exitCode: result.exitCode, signal: result.signal, spawnError: result.spawnError, stderrTail: cleanTail(result.stderr) };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function countOnline(instances: readonly JlistEntry[]): number {
  return instances.filter((proc) => proc.pm2_env.status === 'online').length;
}

/** How long the most recently started instance has been up (0 when pm2 does not say). */
function youngestUptime(instances: readonly JlistEntry[], now: number): number {
  const starts = instances.map((proc) => proc.pm2_env.pm_uptime ?? now);
  return starts.length === 0 ? 0 : Math.max(0, now - Math.max(...starts));
}

/** An error log and its size now: what is appended after it is the newest output. */
interface LogMark {
  path: string | undefined;
  size: number;
}

function errLogMark(path: string | undefined): LogMark {
  if (path === undefined) return { path, size: 0 };
  try {
    return { path, size: statSync(path).size };
  } catch {
    // No log yet (pm2 creates it on the first write): everything in it later is new.
    return { path, size: 0 };
  }
}

/** What was appended to a log since its mark (its last ERR_LOG_READ_BYTES at most); '' when unreadable. */
function readAppended({ path, size: fromSize }: LogMark): string {
  if (path === undefined) return '';
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = statSync(path).size;
    // A log that shrank was rotated (pm2-logrotate): all of it is new.
    const from = Math.max(fromSize <= size ? fromSize : 0, size - ERR_LOG_READ_BYTES);
    const buffer = Buffer.alloc(size - from);
    const text = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, from)).toString('utf8');
    // Cut at the read limit, the first line is a partial one.
    return (from > fromSize ? text.slice(text.indexOf('\n') + 1) : text).replace(ANSI, '');
  } catch {
    // The line is a courtesy: a log pm2 keeps elsewhere or denies us leaves the message without it.
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
