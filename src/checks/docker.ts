import { constants } from 'node:os';
import { z } from 'zod';
import { sleep } from '../util/abort.js';
import { formatDuration, timerDurationOrZero } from '../util/duration.js';
import { tellingLine } from '../util/telling-line.js';
import { clipAtWord } from '../util/text.js';
import { describeStillStarting, graceDetails, insideGrace, mostTellingLine, startGraceParam, watchStartup } from './readiness.js';
import { RestartLoopDetector, restartLoopParams } from './restart-loop.js';
import type { CheckKind, CheckResult, HealResult } from './types.js';
import { EngineClient, REQUEST_TIMEOUT_MS, socketPathOf } from './docker-engine.js';

/** Docker's own rule for names ([a-zA-Z0-9][a-zA-Z0-9_.-]+), which ids (hex, or a unique prefix) satisfy too; a leading "/" as inspect prints it is allowed. */
const CONTAINER_REF = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const params = z.strictObject({
  /** The container's name as `docker ps` shows it ("api", "stack-api-1") or its id (whole, or a unique prefix). */
  container: z.string().regex(CONTAINER_REF, 'expected a container name or id such as "api" or "stack-api-1" (letters, digits, "_", "." and "-")'),
  /** The daemon's unix socket: a path, or written as DOCKER_HOST is ("unix:///run/user/1000/docker.sock" for rootless Docker). */
  socket: z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !value.startsWith('unix://')) {
        ctx.addIssue({ code: 'custom', message: 'expected a unix socket (a path, or unix:///path); Docker over tcp:// or ssh:// is not supported' });
      } else if (!socketPathOf(value).startsWith('/')) {
        ctx.addIssue({ code: 'custom', message: 'expected an absolute socket path such as /var/run/docker.sock' });
      }
    })
    .default('/var/run/docker.sock'),
  /** Engine API version used as the path prefix ("1.44"); absent, the newest the daemon offers (its /_ping says which). */
  apiVersion: z
    .string()
    .regex(/^1\.\d{1,3}$/, 'expected an Engine API version such as "1.44"')
    .optional(),
  /**
   * When the container has a healthcheck, "unhealthy" fails (one still "starting" counts as up: Docker has not judged it yet)
   * and a restart counts only once it is "healthy". false: running is enough, and unhealthy is only reported.
   */
  requireHealthy: z.boolean().default(true),
  /** More than `maxRestarts` restarts by Docker's restart policy (RestartCount) inside `window` is a restart loop: escalate, never restart. */
  restartLoop: restartLoopParams,
  /** What `restart` gives the container to stop after SIGTERM before Docker kills it (Docker's `t`, whole seconds; 0s kills at once). */
  stopTimeout: timerDurationOrZero
    .refine((ms) => ms % 1000 === 0, { message: 'expected whole seconds such as "10s" (Docker counts the stop timeout in seconds)' })
    .default(10_000),
  /** A container without a healthcheck (or with requireHealthy: false) counts as (re)started once it stayed running this long. */
  startGrace: startGraceParam,
});

type DockerParams = z.output<typeof params>;

/** On top of the stop timeout, what a restart may take: starting again, pulling nothing, is seconds. */
const RESTART_EXTRA_MS = 60_000;
/** Each look at a starting container is one inspect over the local socket (about a millisecond): four a second catch a death early. */
const POLL_MS = 250;
/** Lines of the container's output read for the one that says why it stopped. */
const LOG_TAIL_LINES = 50;
/** Docker's healthcheck interval when the image or compose file sets none. */
const DEFAULT_HEALTH_INTERVAL_NS = 30e9;
/** Docker's "never" for StartedAt and FinishedAt. */
const ZERO_TIME_PREFIX = '0001-01-01';

/**
 * A Docker container, by name, through the Engine API on the daemon's unix
 * socket: its state, health and restart count (GET /containers/{id}/json);
 * restart = POST /containers/{id}/restart, counted once the container is
 * healthy (or, without a healthcheck, stayed running its start grace).
 */
export const dockerCheck: CheckKind<DockerParams> = {
  kind: 'docker',
  description:
    'a Docker container is running, healthy and not in a restart loop (Engine API on the unix socket); restart = docker restart, counted once it is healthy or stayed up its start grace',
  params,
  create(p, env) {
    const engine = new EngineClient(socketPathOf(p.socket), p.apiVersion);
    const loopDetector = new RestartLoopDetector(env.state, p.restartLoop);
    const ref = p.container.replace(/^\//, '');
    const withGrace = (result: CheckResult): CheckResult => ({ ...result, details: { ...result.details, ...graceDetails(p.startGrace, undefined) } });
    const needsHealth = (view: ContainerView) => p.requireHealthy && view.health !== undefined;

    const inspect = async (signal: AbortSignal): Promise<{ view: ContainerView } | { failure: CheckResult }> => {
      const answer = await engine.call('GET', `/containers/${encodeURIComponent(ref)}/json`, signal, REQUEST_TIMEOUT_MS);
      if ('failure' in answer) return { failure: answer.failure };
      if (answer.status === 404) return { failure: { ok: false, message: `no such container: ${ref}`, details: { ...engine.details(), httpStatus: 404 } } };
      if (answer.status !== 200) return { failure: engine.httpFailure(answer, `inspecting ${ref}`) };
      const view = readInspect(answer.body);
      if (view === undefined) {
        return {
          failure: {
            ok: false,
            message: `Docker at ${engine.socketPath} answered the inspect of ${ref} with something that is not a container (is this the Docker Engine API?)`,
            details: { ...engine.details(), httpStatus: answer.status },
          },
        };
      }
      return { view };
    };

    /** Why a container that is not running stopped: the daemon's own error, else the most telling line of what it printed in its last run. */
    const stopReason = async (view: ContainerView, signal: AbortSignal): Promise<string> => {
      if (view.error) return clipAtWord(view.error, 200);
      if (signal.aborted) return '';
      const since = view.startedAtMs === undefined ? 0 : Math.floor(view.startedAtMs / 1000);
      const path = `/containers/${encodeURIComponent(view.id)}/logs?stdout=1&stderr=1&tail=${LOG_TAIL_LINES}&since=${since}`;
      const answer = await engine.call('GET', path, signal, REQUEST_TIMEOUT_MS);
      // Only some log drivers can be read back (json-file, local, journald): without its output the state alone is the message.
      if ('failure' in answer || answer.status !== 200) return '';
      const output = view.tty ? { stdout: answer.body.toString('utf8'), stderr: '' } : demultiplex(answer.body);
      return tellingLine(output)?.line ?? mostTellingLine(output.stderr || output.stdout);
    };

    /** The container's state as one patrol reports it. */
    const evaluate = async (view: ContainerView, now: number, signal: AbortSignal): Promise<CheckResult> => {
      const details = describeDetails(view, engine);
      const verdict = loopDetector.observe(view.restartCount, now);
      details.restartsInWindow = verdict.restartsInWindow;
      if (verdict.loop) {
        return { ok: false, message: `${verdict.message} (container ${view.name}, now ${view.status})`, details: { ...details, restartLoop: true } };
      }
      const restarts = `(restarts: ${view.restartCount})`;
      if (view.status === 'running') {
        const up = view.startedAtMs === undefined ? '' : `, up ${formatDuration(Math.max(0, Date.now() - view.startedAtMs))}`;
        if (view.health === undefined) return { ok: true, message: `running${up} ${restarts}`, details };
        if (view.health.status === 'healthy') return { ok: true, message: `running, healthy${up} ${restarts}`, details };
        if (view.health.status === 'unhealthy') {
          const line = healthLine(view.health);
          if (!p.requireHealthy) return { ok: true, message: `running${up}, unhealthy (not required): ${line} ${restarts}`, details };
          return { ok: false, message: `running but unhealthy: ${line}`, details };
        }
        // Docker has not judged it yet, and bounds that itself (start period, then `retries` failed checks make it unhealthy):
        // a restart now would only start the wait over, and its first check may be a whole interval (30s by default) away.
        return { ok: true, message: `running, health check still starting${up} ${restarts}`, details: { ...details, starting: true } };
      }
      const reason = await stopReason(view, signal);
      const why = reason ? `: ${reason}` : '';
      if (view.status === 'exited') return { ok: false, message: `exited (${describeExitCode(view)})${ago(view.finishedAtMs)}${why}`, details };
      if (view.status === 'restarting') {
        return {
          ok: false,
          message: `restarting: Docker's restart policy is bringing it back after exit ${describeExitCode(view)} ${restarts}${why}`,
          details,
        };
      }
      if (view.status === 'paused') return { ok: false, message: `paused (docker unpause ${view.name} resumes it)`, details };
      if (view.status === 'created') return { ok: false, message: `created but never started${why}`, details };
      if (view.status === 'dead') return { ok: false, message: `dead: Docker failed to stop or remove it${why}`, details };
      if (view.status === 'removing') return { ok: false, message: 'being removed', details };
      return { ok: false, message: `${view.status}${why}`, details };
    };

    /** Watches a running container from `baseline` until it is healthy, unhealthy, no longer the same run, or `signal` fires. */
    const watchHealth = async (baseline: ContainerView, signal: AbortSignal): Promise<HealthWatch> => {
      let latest = baseline;
      for (;;) {
        const change = runChanged(baseline, latest);
        if (change) return { state: 'gone', view: latest, change };
        const health = latest.health?.status;
        if (health === 'healthy') return { state: 'healthy', view: latest };
        if (health === 'unhealthy') return { state: 'unhealthy', view: latest };
        if (!(await sleep(POLL_MS, signal))) return { state: 'starting', view: latest };
        const read = await inspect(signal);
        if ('failure' in read) {
          if (signal.aborted) return { state: 'starting', view: latest };
          // A state Docker cannot give is no evidence the container is up: it does not count as started.
          return { state: 'gone', view: latest, change: read.failure.message };
        }
        latest = read.view;
      }
    };

    /** Watches a freshly (re)started container through its start grace: it must stay the same run, running. */
    const watchGrace = async (baseline: ContainerView, signal: AbortSignal) => {
      let latest = baseline;
      const outcome = await watchStartup<string>({
        graceMs: p.startGrace,
        upForMs: upFor(baseline),
        pollMs: POLL_MS,
        signal,
        async stillUp() {
          const read = await inspect(signal);
          if ('failure' in read) return signal.aborted ? undefined : read.failure.message;
          latest = read.view;
          return runChanged(baseline, latest);
        },
      });
      return { outcome, latest: () => latest };
    };

    return {
      async run(ctx): Promise<CheckResult> {
        const read = await inspect(ctx.signal);
        if ('failure' in read) return withGrace(read.failure);
        const { view } = read;
        const first = await evaluate(view, ctx.now(), ctx.signal);
        if (first.details?.restartLoop === true || view.status !== 'running') return withGrace(first);

        if (upFor(view) >= p.startGrace) return withGrace(first);
        // Running, but not for its start grace yet (just restarted, by Docker's restart policy or a heal): wait for what really happens.
        const { outcome, latest } = await watchGrace(view, ctx.signal);
        if (outcome.state === 'starting') {
          return withGrace({ ok: false, message: describeStillStarting(outcome.upMs, p.startGrace), details: { ...first.details, starting: true } });
        }
        const now = await evaluate(latest(), ctx.now(), ctx.signal);
        if (outcome.state === 'started') return withGrace(now);
        const details = { ...now.details, duringStartup: true };
        if (!now.ok) return withGrace({ ...now, message: `${now.message}, ${insideGrace(p.startGrace)}`, details });
        return withGrace({ ok: false, message: `${outcome.gone}, ${insideGrace(p.startGrace)}`, details });
      },

      async restart(ctx): Promise<HealResult> {
        const started = performance.now();
        const stopSeconds = p.stopTimeout / 1000;
        const verb = `docker restart ${ref}`;
        const answer = await engine.call(
          'POST',
          `/containers/${encodeURIComponent(ref)}/restart?t=${stopSeconds}`,
          ctx.signal,
          p.stopTimeout + RESTART_EXTRA_MS,
        );
        const base = { container: ref, stopTimeoutSeconds: stopSeconds, ...graceDetails(p.startGrace, undefined) };
        const took = () => ({ durationMs: Math.round(performance.now() - started) });
        if ('failure' in answer)
          return { ok: false, message: `${verb} failed: ${answer.failure.message}`, details: { ...base, ...answer.failure.details, ...took() } };
        if (answer.status === 404) return { ok: false, message: `${verb} failed: no such container: ${ref}`, details: { ...base, httpStatus: 404, ...took() } };
        if (answer.status !== 204 && answer.status !== 200) {
          const failure = engine.httpFailure(answer, 'restarting it');
          return { ok: false, message: `${verb} failed: ${failure.message}`, details: { ...base, ...failure.details, ...took() } };
        }

        const read = await inspect(ctx.signal);
        if ('failure' in read)
          return { ok: false, message: `${verb}: done, but ${read.failure.message}`, details: { ...base, ...read.failure.details, ...took() } };
        const baseline = read.view;
        const evidence = (view: ContainerView) => ({ ...base, ...describeDetails(view, engine), ...took() });
        if (baseline.status !== 'running') {
          const reason = await stopReason(baseline, ctx.signal);
          return {
            ok: false,
            message: `${verb}: done, but it is ${baseline.status} (${describeExitCode(baseline)}) right after it${reason ? `: ${reason}` : ''}`,
            details: { ...evidence(baseline), duringStartup: true },
          };
        }

        if (needsHealth(baseline)) {
          const watch = await watchHealth(baseline, ctx.signal);
          const upMs = upFor(watch.view);
          if (watch.state === 'healthy') {
            return { ok: true, message: `${verb}: running, healthy after ${formatDuration(upMs)}`, details: { ...evidence(watch.view), startedVia: 'health' } };
          }
          if (watch.state === 'unhealthy') {
            return {
              ok: false,
              message: `${verb}: running but unhealthy after ${formatDuration(upMs)}: ${healthLine(watch.view.health!)}`,
              details: { ...evidence(watch.view), duringStartup: true },
            };
          }
          if (watch.state === 'starting') {
            return {
              ok: false,
              message: `${verb}: running for ${formatDuration(upMs)}, but its health check has not passed yet (${describeSchedule(watch.view)}); raise patrol.healTimeout above it, or shorten the healthcheck's interval or start_interval`,
              details: { ...evidence(watch.view), starting: true },
            };
          }
          const reason = watch.view.status === 'running' ? '' : await stopReason(watch.view, ctx.signal);
          return {
            ok: false,
            message: `${verb}: ${watch.change}, before its health check passed${reason ? `: ${reason}` : ''}`,
            details: { ...evidence(watch.view), duringStartup: true },
          };
        }

        const { outcome, latest } = await watchGrace(baseline, ctx.signal);
        if (outcome.state === 'started') {
          return { ok: true, message: `${verb}: running, up ${formatDuration(outcome.upMs)}`, details: { ...evidence(latest()), startedVia: 'grace' } };
        }
        if (outcome.state === 'starting') {
          return {
            ok: false,
            message: `${verb}: aborted while ${describeStillStarting(outcome.upMs, p.startGrace)}`,
            details: { ...evidence(latest()), starting: true },
          };
        }
        const reason = latest().status === 'running' ? '' : await stopReason(latest(), ctx.signal);
        return {
          ok: false,
          message: `${verb}: ${outcome.gone}, ${insideGrace(p.startGrace)}${reason ? `: ${reason}` : ''}`,
          details: { ...evidence(latest()), duringStartup: true, upMs: outcome.upMs },
        };
      },
    };
  },
};

/** What a health watch found: the health check's verdict, a run that ended or was replaced, or the signal first. */
type HealthWatch =
  | { state: 'healthy'; view: ContainerView }
  | { state: 'unhealthy'; view: ContainerView }
  | { state: 'starting'; view: ContainerView }
  | { state: 'gone'; view: ContainerView; change: string };

/** The parts of an inspect answer this kind reads; Docker adds fields over versions, and unknown ones are ignored. */
const inspectAnswer = z.object({
  Id: z.string().min(1),
  Name: z.string().default(''),
  RestartCount: z.number().int().default(0),
  State: z.object({
    Status: z.string(),
    Running: z.boolean().default(false),
    OOMKilled: z.boolean().default(false),
    Pid: z.number().default(0),
    ExitCode: z.number().default(0),
    Error: z.string().default(''),
    StartedAt: z.string().default(''),
    FinishedAt: z.string().default(''),
    Health: z
      .object({
        Status: z.string(),
        FailingStreak: z.number().default(0),
        Log: z
          .array(z.object({ ExitCode: z.number().default(0), Output: z.string().default(''), End: z.string().optional() }))
          .nullable()
          .default([]),
      })
      .nullable()
      .optional(),
  }),
  Config: z
    .object({
      Image: z.string().optional(),
      Tty: z.boolean().default(false),
      /** Durations in nanoseconds; 0 means Docker's default. */
      Healthcheck: z
        .object({ Interval: z.number().default(0), StartPeriod: z.number().default(0) })
        .nullable()
        .optional(),
    })
    .nullable()
    .optional(),
});

/** One container, as this kind sees it. */
interface ContainerView {
  id: string;
  name: string;
  image: string | undefined;
  status: string;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  pid: number;
  restartCount: number;
  startedAt: string;
  startedAtMs: number | undefined;
  finishedAtMs: number | undefined;
  tty: boolean;
  /** How often Docker runs the healthcheck, and the start period in which failures do not count (ms). */
  healthSchedule: { intervalMs: number; startPeriodMs: number };
  /** Absent when the container has no healthcheck. */
  health: { status: string; failingStreak: number; lastOutput: string | undefined; lastExitCode: number | undefined } | undefined;
}

function readInspect(body: Buffer): ContainerView | undefined {
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    // The caller says it is not a container; the parse position says nothing to an operator.
    return undefined;
  }
  const parsed = inspectAnswer.safeParse(document);
  if (!parsed.success) return undefined;
  const { Id, Name, RestartCount, State, Config } = parsed.data;
  const health = State.Health && State.Health.Status !== 'none' ? State.Health : undefined;
  const last = health?.Log?.at(-1);
  return {
    id: Id,
    name: Name.replace(/^\//, '') || Id.slice(0, 12),
    image: Config?.Image,
    status: State.Status,
    exitCode: State.ExitCode,
    oomKilled: State.OOMKilled,
    error: State.Error,
    pid: State.Pid,
    restartCount: RestartCount,
    startedAt: State.StartedAt,
    startedAtMs: dockerTime(State.StartedAt),
    finishedAtMs: dockerTime(State.FinishedAt),
    tty: Config?.Tty ?? false,
    healthSchedule: {
      intervalMs: Math.round((Config?.Healthcheck?.Interval || DEFAULT_HEALTH_INTERVAL_NS) / 1e6),
      startPeriodMs: Math.round((Config?.Healthcheck?.StartPeriod ?? 0) / 1e6),
    },
    health: health ? { status: health.Status, failingStreak: health.FailingStreak, lastOutput: last?.Output, lastExitCode: last?.ExitCode } : undefined,
  };
}

/** ms since epoch of one of Docker's RFC 3339 times; undefined for its zero time ("never") or text that is not a time. */
function dockerTime(text: string): number | undefined {
  if (text === '' || text.startsWith(ZERO_TIME_PREFIX)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The structured evidence of a result: never the container's environment or command line, which carry its secrets. */
function describeDetails(view: ContainerView, engine: EngineClient): Record<string, unknown> {
  const details: Record<string, unknown> = {
    ...engine.details(),
    container: view.name,
    id: view.id.slice(0, 12),
    state: view.status,
    health: view.health?.status ?? 'none',
    exitCode: view.exitCode,
    oomKilled: view.oomKilled,
    restartCount: view.restartCount,
    startedAt: view.startedAtMs === undefined ? null : view.startedAt,
  };
  if (view.image !== undefined) details.image = view.image;
  if (view.status === 'running') details.pid = view.pid;
  if (view.status === 'running' && view.startedAtMs !== undefined) details.uptimeMs = Math.max(0, Date.now() - view.startedAtMs);
  if (view.finishedAtMs !== undefined) details.finishedAt = new Date(view.finishedAtMs).toISOString();
  if (view.error) details.error = clipAtWord(view.error, 500);
  if (view.health) details.failingStreak = view.health.failingStreak;
  return details;
}

/** "137, OOM killed", "143: SIGTERM", "1": an exit code above 128 is the signal that ended the process (the OOM killer's is always SIGKILL). */
function describeExitCode(view: ContainerView): string {
  if (view.oomKilled) return `${view.exitCode}, OOM killed`;
  return view.exitCode > 128 && view.exitCode < 128 + 65 ? `${view.exitCode}: ${signalName(view.exitCode - 128)}` : String(view.exitCode);
}

function signalName(signal: number): string {
  return Object.entries(constants.signals).find(([, number]) => number === signal)?.[0] ?? `signal ${signal}`;
}

/** " 3m ago", or nothing when Docker does not say when. */
function ago(atMs: number | undefined): string {
  return atMs === undefined ? '' : ` ${formatDuration(Math.max(0, Date.now() - atMs))} ago`;
}

/** The newest health check's output, at its most telling line: what the check itself said was wrong. */
function healthLine(health: NonNullable<ContainerView['health']>): string {
  const line = health.lastOutput ? mostTellingLine(health.lastOutput) : '';
  if (line) return line;
  return health.lastExitCode === undefined ? 'no health check result yet' : `health check exited ${health.lastExitCode} without output`;
}

/** "healthcheck interval 30s, start period 1m": when Docker gets round to judging the container. */
function describeSchedule(view: ContainerView): string {
  const { intervalMs, startPeriodMs } = view.healthSchedule;
  const period = startPeriodMs > 0 ? `, start period ${formatDuration(startPeriodMs)}` : '';
  return `healthcheck interval ${formatDuration(intervalMs)}${period}`;
}

/** How long the container's current run has lasted (0 when Docker does not say). */
function upFor(view: ContainerView): number {
  return view.startedAtMs === undefined ? 0 : Math.max(0, Date.now() - view.startedAtMs);
}

/** How the container differs from the run `baseline` was; undefined while it is that same run, still running. */
function runChanged(baseline: ContainerView, now: ContainerView): string | undefined {
  const lived = baseline.startedAtMs === undefined ? '' : ` after ${formatDuration(Math.max(0, (now.finishedAtMs ?? Date.now()) - baseline.startedAtMs))}`;
  if (now.id !== baseline.id) return `the container was replaced (new id ${now.id.slice(0, 12)})`;
  if (now.status !== 'running') return `it ${now.status === 'exited' ? 'exited' : `went ${now.status}`} (${describeExitCode(now)})${lived}`;
  if (now.startedAt !== baseline.startedAt || now.restartCount > baseline.restartCount) {
    return `it exited${lived} and Docker's restart policy started it again (restarts: ${now.restartCount})`;
  }
  return undefined;
}

/**
 * Stdout and stderr of a log read without a TTY, from Docker's multiplexed
 * stream: frames of [stream type, 0, 0, 0, length (uint32 big endian)] and
 * the payload. A truncated last frame keeps what arrived.
 */
export function demultiplex(body: Buffer): { stdout: string; stderr: string } {
  const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  for (let offset = 0; offset + 8 <= body.length;) {
    const type = body[offset];
    const length = body.readUInt32BE(offset + 4);
    const payload = body.subarray(offset + 8, Math.min(body.length, offset + 8 + length));
    if (type === 2) out.stderr.push(payload);
    else if (type === 1) out.stdout.push(payload);
    offset += 8 + length;
  }
  return { stdout: Buffer.concat(out.stdout).toString('utf8'), stderr: Buffer.concat(out.stderr).toString('utf8') };
}
