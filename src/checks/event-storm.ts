import { cursorAfter, firstSight, openIfExists, planReading, scanLines, type Cursor, type LineScan, type Segment } from './appended-lines.js';
import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { ageDuration, formatDuration } from '../util/duration.js';
import { regexSource } from '../util/regex.js';
import { clipAtWord } from '../util/text.js';
import type { CheckKind, CheckResult, Probe } from './types.js';
import { listPm2Apps } from './pm2-list.js';

const logSource = z.strictObject({
  /** The log file to watch. */
  path: z.string().min(1),
  /** A regular expression (source text): every appended line it matches is one event. Compiled while the configuration is validated. */
  pattern: regexSource({ ignoreCaseKey: 'ignoreCase' }),
  /** Match `pattern` without regard to case. */
  ignoreCase: z.boolean().default(false),
});

const pm2Source = z.strictObject({
  /** The pm2 app (the `name` column of `pm2 list`): every restart pm2 counts for it is one event. */
  app: z
    .string()
    .min(1)
    .refine((app) => !app.startsWith('-'), 'an app name cannot start with "-"'),
  /** The pm2 executable: a name looked up on PATH, or a path. */
  pm2Bin: z.string().min(1).default('pm2'),
  /** PM2_HOME of the daemon to ask (another user's ~/.pm2); the bot's own default when absent. */
  pm2Home: z.string().min(1).optional(),
});

const requestsSource = z.strictObject({
  /** An API's request (access) log: every non-empty line appended to it is one request. */
  path: z.string().min(1),
});

const SOURCES = ['log', 'pm2', 'requests'] as const;

const params = z
  .strictObject({
    /** The breaker trips when more than this many events fall within `window`, and resets once the count is back at or under it. */
    maxEvents: z.number().int().min(0),
    /** Only compared with the times events were seen (never a timer), so it may be long. */
    window: ageDuration.default(60_000),
    /** Source: lines of a log file that match a pattern. */
    log: logSource.optional(),
    /** Source: restarts of a pm2 app (growth of its restart counter in `pm2 jlist`). */
    pm2: pm2Source.optional(),
    /** Source: lines of an API's request log, one request each. */
    requests: requestsSource.optional(),
    /** Never read more than this many bytes of a log in one run; the rest is read (and counted) on the next runs. */
    maxReadBytes: z
      .number()
      .int()
      .min(4096)
      .default(8 * 1024 * 1024),
  })
  .superRefine((p, ctx) => {
    const given = SOURCES.filter((source) => p[source] !== undefined);
    if (given.length === 0) ctx.addIssue({ code: 'custom', path: ['log'], message: 'expected one source: log, pm2 or requests' });
    for (const extra of given.slice(1)) {
      ctx.addIssue({ code: 'custom', path: [extra], message: `expected one source only (${given[0]} is set too)` });
    }
  });

export type EventStormParams = z.output<typeof params>;

/** A tripped breaker: since when, and the highest count seen while it was tripped. */
interface Tripped {
  trippedAt: number;
  peak: number;
}

/** What the probe keeps between runs (and across Nightshift restarts). */
interface StormState {
  /** Which source the rest belongs to: a changed path or app starts afresh instead of counting another file's history. */
  source: string;
  /** log and requests sources. */
  cursor?: Cursor;
  /** pm2 source: the app's restart counter at the last look. */
  restarts?: number;
  /** Events per time bucket, pruned to the window. */
  samples: Array<{ at: number; count: number }>;
  breaker: Tripped | null;
  /** log source: the last few matching lines, so a tripped breaker still shows evidence on a run that read nothing new. */
  sampleLines?: string[];
}

/** What the `stop` heal asks an event-storm probe before it stops anything. */
export interface BreakerStatus {
  tripped: boolean;
  trippedAt: number | null;
  eventsInWindow: number;
}

const BREAKER = Symbol('event-storm breaker');

type BreakerProbe = Probe & { [BREAKER]: () => BreakerStatus };

/**
 * The breaker of an event-storm probe, or undefined for a probe of any other
 * kind. A stop heal acts only while it is tripped: a source that cannot be
 * read (pm2 down, log missing) fails the check too, and is no reason to stop
 * a service.
 */
export function stormBreakerOf(probe: Probe): (() => BreakerStatus) | undefined {
  return BREAKER in probe ? (probe as BreakerProbe)[BREAKER] : undefined;
}

const SAMPLE_COUNT = 3;
const SAMPLE_CHARS = 200;
/** The window is counted in this many buckets, which bounds the state whatever the run interval. */
const WINDOW_BUCKETS = 120;

/**
 * A circuit breaker on the rate of events from one source: lines matching a
 * pattern in a log, restarts of a pm2 app, or requests in an API's request
 * log. Each run adds the events seen since the previous run to a sliding
 * window; more than maxEvents within it trips the breaker (the run fails),
 * and it stays tripped until the count within the window is back at or
 * under maxEvents. Logs are read from where the last run stopped (offset kept
 * across restarts, rotation followed); on the first run reading starts at the
 * end, so old history is not a storm. Events are dated when a run sees them.
 */
export const eventStormCheck: CheckKind<EventStormParams> = {
  kind: 'event-storm',
  description: 'a breaker that trips when more than maxEvents events (log lines, pm2 restarts, requests) fall within a window',
  params,
  create(p, env) {
    const source = describeSource(p);
    const observe =
      p.pm2 !== undefined
        ? pm2Observer(p.pm2, env.childEnv(p.pm2.pm2Home === undefined ? {} : { PM2_HOME: p.pm2.pm2Home }))
        : logObserver(p.log?.path ?? p.requests!.path, lineMatcher(p), p.maxReadBytes, p.log !== undefined);
    const stored = () => {
      const state = env.state.get<StormState>();
      return state?.source === source.key ? state : undefined;
    };
    const probe: BreakerProbe = {
      async run(ctx) {
        const now = ctx.now();
        const previous = stored();
        const seen = await observe(previous, ctx.signal);
        const samples = addToSamples(previous?.samples ?? [], now, seen.events, p.window);
        const inWindow = countWithin(samples, now, p.window);
        const wasTripped = previous?.breaker ?? null;
        const breaker = inWindow > p.maxEvents ? { trippedAt: wasTripped?.trippedAt ?? now, peak: Math.max(wasTripped?.peak ?? 0, inWindow) } : null;
        const sampleLines = p.log ? [...(previous?.sampleLines ?? []), ...seen.sampleLines].slice(-SAMPLE_COUNT) : undefined;
        env.state.set<StormState>({ source: source.key, ...seen.keep, samples, breaker, ...(sampleLines ? { sampleLines } : {}) });
        return judge(p, source, now, { inWindow, newEvents: seen.events, breaker, wasTripped, problem: seen.problem, evidence: seen.evidence, sampleLines });
      },
      [BREAKER]() {
        const state = stored();
        const now = env.now();
        return {
          tripped: state?.breaker != null,
          trippedAt: state?.breaker?.trippedAt ?? null,
          eventsInWindow: state ? countWithin(state.samples, now, p.window) : 0,
        };
      },
    };
    return probe;
  },
};

interface SourceDescription {
  /** Identity of the source in the persisted state. */
  key: string;
  /** "pm2 app worker", "/var/log/api/access.log". */
  label: string;
  /** What is counted: "restarts", "requests", "lines matching /timeout/". */
  noun: string;
}

function describeSource(p: EventStormParams): SourceDescription {
  if (p.pm2) return { key: `pm2:${p.pm2.pm2Home ?? ''}:${p.pm2.app}`, label: `pm2 app ${p.pm2.app}`, noun: 'restarts' };
  if (p.log) {
    const pattern = `/${clipAtWord(p.log.pattern, 60)}/${p.log.ignoreCase ? 'i' : ''}`;
    return { key: `log:${p.log.path}:${p.log.pattern}`, label: p.log.path, noun: `lines matching ${pattern}` };
  }
  return { key: `requests:${p.requests!.path}`, label: p.requests!.path, noun: 'requests' };
}

/** Which lines are events: those matching the pattern (log), or every non-empty line (requests). */
function lineMatcher(p: EventStormParams): (line: Buffer) => boolean {
  if (p.log) {
    const pattern = new RegExp(p.log.pattern, p.log.ignoreCase ? 'i' : '');
    return (line) => pattern.test(line.toString('utf8').replace(/\r$/, ''));
  }
  return (line) => line.length > 1 || (line.length === 1 && line[0] !== 0x0d);
}

/** What one run saw of its source. */
interface Observation {
  events: number;
  /** Why the source could not be read, when it could not. */
  problem?: string;
  /** Structured evidence for the result's details. */
  evidence: Record<string, unknown>;
  /** What the source keeps in the state (cursor, restart counter). */
  keep: Pick<StormState, 'cursor' | 'restarts'>;
  sampleLines: string[];
}

type Observer = (previous: StormState | undefined, signal: AbortSignal) => Promise<Observation>;

function judge(
  p: EventStormParams,
  source: SourceDescription,
  now: number,
  seen: {
    inWindow: number;
    newEvents: number;
    breaker: Tripped | null;
    wasTripped: Tripped | null;
    problem: string | undefined;
    evidence: Record<string, unknown>;
    sampleLines: string[] | undefined;
  },
): CheckResult {
  const { inWindow, breaker, wasTripped, problem } = seen;
  const details: Record<string, unknown> = {
    source: p.pm2 ? 'pm2' : p.log ? 'log' : 'requests',
    eventsInWindow: inWindow,
    newEvents: seen.newEvents,
    maxEvents: p.maxEvents,
    windowMs: p.window,
    breaker: breaker ? 'tripped' : 'closed',
    ...seen.evidence,
  };
  if (seen.sampleLines) details.sampleLines = seen.sampleLines;
  const count = `${source.label}: ${number(inWindow)} ${source.noun} in ${formatDuration(p.window)} (max ${number(p.maxEvents)})`;
  if (breaker) {
    details.trippedAt = breaker.trippedAt;
    details.peak = breaker.peak;
    const since = now - breaker.trippedAt >= 1000 ? ` ${formatDuration(now - breaker.trippedAt)} ago, peak ${number(breaker.peak)}` : '';
    const cannotRead = problem ? `; ${problem}` : '';
    return { ok: false, message: `${count}: breaker tripped${since}; it resets once the count falls to ${number(p.maxEvents)}${cannotRead}`, details };
  }
  if (problem) return { ok: false, message: `${source.label}: cannot count ${source.noun}: ${problem}`, details };
  if (wasTripped) {
    details.resetAfterMs = now - wasTripped.trippedAt;
    details.peak = wasTripped.peak;
    return { ok: true, message: `${count}: breaker reset after ${formatDuration(now - wasTripped.trippedAt)} (peak ${number(wasTripped.peak)})`, details };
  }
  return { ok: true, message: count, details };
}

function number(n: number): string {
  return n.toLocaleString('en-US');
}

/** Adds this run's events, merged into buckets of window/WINDOW_BUCKETS, and drops what fell out of the window. */
function addToSamples(samples: StormState['samples'], now: number, count: number, windowMs: number): StormState['samples'] {
  const kept = samples.filter((sample) => sample.at > now - windowMs);
  if (count === 0) return kept;
  const bucketMs = Math.max(1, Math.floor(windowMs / WINDOW_BUCKETS));
  const newest = kept.at(-1);
  if (newest && now - newest.at < bucketMs && now >= newest.at) {
    // Keep the bucket's first time: its events leave the window no later than they should.
    return [...kept.slice(0, -1), { at: newest.at, count: newest.count + count }];
  }
  return [...kept, { at: now, count }];
}

function countWithin(samples: StormState['samples'], now: number, windowMs: number): number {
  return samples.filter((sample) => sample.at > now - windowMs).reduce((sum, sample) => sum + sample.count, 0);
}

// ---- pm2 source -------------------------------------------------------------

function pm2Observer(source: z.output<typeof pm2Source>, commandEnv: NodeJS.ProcessEnv): Observer {
  return async (previous, signal) => {
    const keep = previous?.restarts === undefined ? {} : { restarts: previous.restarts };
    const listed = await listPm2Apps(source.pm2Bin, commandEnv, signal);
    if ('problem' in listed) return { events: 0, problem: listed.problem, evidence: { app: source.app, ...listed.evidence }, keep, sampleLines: [] };
    const instances = listed.apps.filter((app) => app.name === source.app);
    if (instances.length === 0) {
      const why = listed.daemonSpawned ? ' (its daemon was not running; pm2 jlist started a new, empty one)' : '';
      return { events: 0, problem: `pm2 has no app named ${source.app}${why}`, evidence: { app: source.app, apps: listed.apps.length }, keep, sampleLines: [] };
    }
    // Cluster mode lists one entry per instance under the same name: their restarts add up.
    const restarts = instances.reduce((sum, app) => sum + app.pm2_env.restart_time, 0);
    const evidence: Record<string, unknown> = { app: source.app, restarts, status: instances.map((app) => app.pm2_env.status).join(', ') };
    const before = previous?.restarts;
    // A counter that went down was reset (pm2 reset, a new daemon, the app deleted and started again): not a storm.
    if (before !== undefined && restarts < before) evidence.counterReset = true;
    const events = before === undefined || restarts < before ? 0 : restarts - before;
    return { events, evidence, keep: { restarts }, sampleLines: [] };
  };
}

// ---- log and requests sources -------------------------------------------------

function logObserver(path: string, matches: (line: Buffer) => boolean, maxReadBytes: number, keepSamples: boolean): Observer {
  return async (previous, signal) => {
    const live = await openIfExists(path);
    if (!live) {
      // A file missing at first sight is read from its start once it appears: all of it is new then.
      const cursor = previous?.cursor ?? { fileId: '', offset: 0, anchor: '' };
      return { events: 0, problem: `${path} is missing`, evidence: { path, missing: true }, keep: { cursor }, sampleLines: [] };
    }
    const opened: FileHandle[] = [live.handle];
    try {
      const plan = previous?.cursor ? await planReading(path, live, previous.cursor, opened) : await firstSight(live);
      const scan = await scanSegments(plan.segments, maxReadBytes, matches, keepSamples, signal);
      const cursor = await cursorAfter(scan, plan.segments);
      const evidence: Record<string, unknown> = {
        path,
        bytes: live.size,
        newBytes: scan.bytes,
        newLines: scan.lines,
        rotated: plan.rotated,
        truncated: plan.truncated,
      };
      if (scan.pendingBytes > 0) evidence.pendingBytes = scan.pendingBytes;
      if (plan.oldTailLost) evidence.oldTailLost = true;
      if (plan.skippedBytes > 0) evidence.skippedBytes = plan.skippedBytes;
      return { events: scan.events, evidence, keep: { cursor }, sampleLines: scan.samples };
    } finally {
      await Promise.all(opened.map((handle) => handle.close()));
    }
  };
}

interface ScanResult extends LineScan {
  lines: number;
  /** Bytes of complete lines consumed. */
  bytes: number;
  events: number;
  samples: string[];
}

/** Reads the appended lines within the byte budget and counts those that are events. */
async function scanSegments(
  segments: Segment[],
  budget: number,
  matches: (line: Buffer) => boolean,
  keepSamples: boolean,
  signal: AbortSignal,
): Promise<ScanResult> {
  let lines = 0;
  let bytes = 0;
  let events = 0;
  let samples: string[] = [];
  const scan = await scanLines(segments, budget, signal, (line, consumed) => {
    lines++;
    bytes += consumed;
    if (!matches(line)) return;
    events++;
    if (keepSamples) samples = [...samples, clipAtWord(line.toString('utf8').trimEnd(), SAMPLE_CHARS)].slice(-SAMPLE_COUNT);
  });
  return { ...scan, lines, bytes, events, samples };
}
