import type { BigIntStats } from 'node:fs';
import { cursorAfter, firstSight, openIfExists, planReading, scanLines, type Cursor, type LineScan, type ReadPlan, type Segment } from './appended-lines.js';
import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { ageDuration, formatDuration } from '../util/duration.js';
import { regexSource } from '../util/regex.js';
import type { CheckKind, CheckResult } from './types.js';
import { clipAtWord } from '../util/text.js';
import { formatBytes } from '../util/format.js';

const DEFAULT_ERROR_PATTERN = String.raw`\b(ERROR|FATAL|CRITICAL|Traceback|panic)\b`;

const params = z.strictObject({
  /** The log file to watch. */
  path: z.string().min(1),
  /** Fail when the file is larger than this many bytes (it needs rotating). */
  maxSize: z
    .number()
    .int()
    .positive()
    .default(15 * 1024 * 1024),
  /** A regular expression (source text) that marks an error line; compiled while the configuration is validated. */
  errorPattern: regexSource({ ignoreCaseKey: 'ignoreCase' }).default(DEFAULT_ERROR_PATTERN),
  /** Match errorPattern without regard to case. */
  ignoreCase: z.boolean().default(false),
  /** Fail when more than this many error lines were seen within `window`. */
  maxErrors: z.number().int().min(0).default(50),
  /** Only compared with the time errors were seen (never a timer), so it may be long. */
  window: ageDuration.default(3_600_000),
  /** Never read more than this many bytes in one patrol; the rest is read on the next ones. */
  maxReadBytes: z
    .number()
    .int()
    .min(4096)
    .default(8 * 1024 * 1024),
});

export type LogParams = z.output<typeof params>;

/** What the probe persists between patrols (and across Nightshift restarts). */
interface LogState {
  cursor: Cursor;
  /** Error counts per time bucket, pruned to the window: enough to judge a spike without keeping lines. */
  errorBuckets: Array<{ at: number; count: number }>;
  /** The last few error lines seen, so a failure still shows evidence on a patrol that read nothing new. */
  sampleErrors: string[];
}

const SAMPLE_COUNT = 3;
const SAMPLE_CHARS = 200;
/** The window is counted in this many buckets, which bounds the state whatever the patrol interval. */
const WINDOW_BUCKETS = 120;

/**
 * Watches an application log: its size, and the rate of error lines within a
 * time window. Each patrol reads only what was appended since the previous
 * one (at most maxReadBytes), so a multi-gigabyte log costs nothing. It
 * follows rename rotation (the rest of the old file is read from `<path>.1`),
 * copy-truncate and truncation, and Nightshift's own rotate-log (collapse
 * range). On the very first patrol it starts at the end of the file: old
 * errors are history, not a spike. Errors are counted at the time the patrol
 * sees them; timestamps inside the lines are not parsed.
 */
export const logCheck: CheckKind<LogParams> = {
  kind: 'log',
  description: 'size of a log file and the rate of error lines appended to it',
  // An error spike in a log reports that the service writing it is in trouble; it never is the trouble.
  causalRole: 'symptom',
  params,
  create(p, env) {
    const pattern = new RegExp(p.errorPattern, p.ignoreCase ? 'i' : '');
    return {
      async run(ctx) {
        const now = ctx.now();
        const live = await openIfExists(p.path);
        if (!live) {
          // Remember that the file was missing at first sight, so it is read from its start once it appears.
          if (!env.state.get<LogState>()) env.state.set<LogState>({ cursor: { fileId: '', offset: 0, anchor: '' }, errorBuckets: [], sampleErrors: [] });
          return { ok: false, message: `missing: ${p.path}`, details: { path: p.path, missing: true } };
        }
        const opened: FileHandle[] = [live.handle];
        try {
          const previous = env.state.get<LogState>();
          const plan = previous ? await planReading(p.path, live, previous.cursor, opened) : await firstSight(live);
          const scan = await scanSegments(plan.segments, p.maxReadBytes, pattern, ctx.signal);
          const cursor = await cursorAfter(scan, plan.segments);
          const errorBuckets = addToBuckets(previous?.errorBuckets ?? [], now, scan.errorCount, p.window);
          const sampleErrors = [...(previous?.sampleErrors ?? []), ...scan.samples].slice(-SAMPLE_COUNT);
          env.state.set<LogState>({ cursor, errorBuckets, sampleErrors });
          return judge(p, now, live.stats, scan, plan, errorBuckets, sampleErrors);
        } finally {
          await Promise.all(opened.map((h) => h.close()));
        }
      },
    };
  },
};

interface ScanResult extends LineScan {
  newLines: number;
  /** Bytes of complete lines consumed. */
  newBytes: number;
  errorCount: number;
  samples: string[];
}

/** Reads the appended lines within the byte budget and counts those that match the error pattern. */
async function scanSegments(segments: Segment[], budget: number, pattern: RegExp, signal: AbortSignal): Promise<ScanResult> {
  let newLines = 0;
  let newBytes = 0;
  let errorCount = 0;
  const samples: string[] = [];
  const scan = await scanLines(segments, budget, signal, (bytes, consumed) => {
    newLines++;
    newBytes += consumed;
    const text = bytes.toString('utf8').replace(/\r$/, '');
    if (!pattern.test(text)) return;
    errorCount++;
    samples.push(clipAtWord(text, SAMPLE_CHARS));
    if (samples.length > SAMPLE_COUNT) samples.shift();
  });
  return { ...scan, newLines, newBytes, errorCount, samples };
}

/** Adds this patrol's errors, merged into buckets of window/WINDOW_BUCKETS, and drops what fell out of the window. */
function addToBuckets(buckets: LogState['errorBuckets'], now: number, count: number, windowMs: number): LogState['errorBuckets'] {
  const kept = buckets.filter((b) => b.at > now - windowMs);
  if (count === 0) return kept;
  const bucketMs = Math.max(1, Math.floor(windowMs / WINDOW_BUCKETS));
  const newest = kept.at(-1);
  if (newest && now - newest.at < bucketMs && now >= newest.at) {
    // Keep the bucket's first time: its errors leave the window no later than they should.
    return [...kept.slice(0, -1), { at: newest.at, count: newest.count + count }];
  }
  return [...kept, { at: now, count }];
}

function judge(
  p: LogParams,
  now: number,
  stats: BigIntStats,
  scan: ScanResult,
  plan: ReadPlan,
  buckets: LogState['errorBuckets'],
  sampleErrors: string[],
): CheckResult {
  const size = Number(stats.size);
  const errorsInWindow = buckets.filter((b) => b.at > now - p.window).reduce((sum, b) => sum + b.count, 0);
  const details: Record<string, unknown> = {
    path: p.path,
    bytes: size,
    newBytes: scan.newBytes,
    newLines: scan.newLines,
    errorsInWindow,
    sampleErrors,
    rotated: plan.rotated,
    truncated: plan.truncated,
  };
  if (scan.pendingBytes > 0) details.pendingBytes = scan.pendingBytes;
  if (plan.oldTailLost) details.oldTailLost = true;
  if (plan.skippedBytes > 0) details.skippedBytes = plan.skippedBytes;
  const window = formatDuration(p.window);
  const problems: string[] = [];
  if (size > p.maxSize) problems.push(`log is ${formatBytes(size)} (max ${formatBytes(p.maxSize)})`);
  if (errorsInWindow > p.maxErrors) problems.push(`error spike: ${errorsInWindow} errors in the last ${window} (max ${p.maxErrors})`);
  if (problems.length > 0) return { ok: false, message: problems.join('; '), details };
  return { ok: true, message: `${scan.newLines} new lines, ${errorsInWindow} errors in the last ${window}, ${formatBytes(size)}`, details };
}
