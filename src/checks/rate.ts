import { z } from 'zod';
import { ageDuration, formatDuration } from '../util/duration.js';
import { regexSource } from '../util/regex.js';
import { clipAtWord } from '../util/text.js';
import type { CheckKind, CheckResult } from './types.js';
import { fieldAt, fieldPath, leadingTimestamp, maxReadBytesParam, parseJsonObject, parseTime, readRecentLines, timeZoneParam } from './records.js';

const outcomeValue = z.union([z.string(), z.number(), z.boolean()]);

const jsonlSource = z.strictObject({
  /** One JSON object per outcome (a validation, a generated task), appended as they happen. */
  path: z.string().min(1),
  /** When the outcome happened: unix seconds, unix ms or ISO-8601 text. Dotted paths reach into objects. */
  timeField: fieldPath.default('ts'),
  /** The field holding the outcome, compared with `good` and `bad`. */
  outcomeField: fieldPath.default('outcome'),
  /** Outcome values that count as good (compared exactly: "pass", true, 1). */
  good: z.array(outcomeValue).min(1),
  /** Outcome values that count as bad. Left out: every value that is not good is bad. Values in neither list are not counted. */
  bad: z.array(outcomeValue).min(1).optional(),
  /** A field shown as the evidence of the last bad outcome ("reason", "task"); left out, the outcome value is shown. */
  noteField: fieldPath.optional(),
});

const logSource = z.strictObject({
  /** A plain log; a line with a leading ISO timestamp is timed by it, a line without one takes the time of the line before it. */
  path: z.string().min(1),
  /** A line matching this is a good outcome (compiled while the configuration is validated). */
  goodPattern: regexSource({ ignoreCaseKey: 'ignoreCase' }),
  /** A line matching this is a bad outcome; a line matching both counts as bad, one matching neither is not counted. */
  badPattern: regexSource({ ignoreCaseKey: 'ignoreCase' }),
  /** Match both patterns without regard to case. */
  ignoreCase: z.boolean().default(false),
});

const ratio = z
  .number({ error: 'expected a ratio between 0 and 1 (0.8 is 80%)' })
  .min(0, 'expected a ratio between 0 and 1 (0.8 is 80%)')
  .max(1, 'expected a ratio between 0 and 1 (0.8 is 80%)');

const params = z
  .strictObject({
    /** Outcomes as JSON lines: `{ path, good: [...] }` and the field names when they differ from `ts` and `outcome`. */
    jsonl: jsonlSource.optional(),
    /** Outcomes as lines of a plain log: `{ path, goodPattern, badPattern }`. */
    log: logSource.optional(),
    /** The ratio counts the outcomes of this last stretch of time. */
    window: ageDuration.default(3_600_000),
    /** The share of good outcomes, good / (good + bad), below this fails. */
    minRatio: ratio.optional(),
    /** The share of good outcomes above this fails (when "good" is the thing to keep rare). */
    maxRatio: ratio.optional(),
    /** With fewer outcomes than this in the window, the ratio is not judged (a quiet hour is no verdict). */
    minSamples: z.number().int().min(1).default(10),
    /** More bad outcomes than this in a row, at the end of what was read, fails, however old they are. */
    maxConsecutiveBad: z.number().int().min(1).optional(),
    /** What the ratio is called in messages. */
    label: z.string().min(1).max(40).default('pass rate'),
    /** How times without a zone ("2026-01-05 03:12:00") are read: `utc`, or `local` (this process's TZ). */
    timeZone: timeZoneParam,
    /** Read at most this many bytes from the end of the file per run; what lies before is left out (details say `partial`). */
    maxReadBytes: maxReadBytesParam,
  })
  .superRefine((p, ctx) => {
    if (p.jsonl !== undefined && p.log !== undefined) ctx.addIssue({ code: 'custom', message: 'expected either jsonl or log, not both' });
    if (p.jsonl === undefined && p.log === undefined)
      ctx.addIssue({ code: 'custom', message: 'expected an outcome source: jsonl: { path, good } or log: { path, goodPattern, badPattern }' });
    if (p.minRatio === undefined && p.maxRatio === undefined && p.maxConsecutiveBad === undefined)
      ctx.addIssue({ code: 'custom', message: 'expected at least one limit (minRatio, maxRatio or maxConsecutiveBad): without one the check can never fail' });
    if (p.minRatio !== undefined && p.maxRatio !== undefined && p.minRatio > p.maxRatio)
      ctx.addIssue({ code: 'custom', path: ['maxRatio'], message: `expected maxRatio at least minRatio (${p.minRatio})` });
    if (p.jsonl?.bad && p.jsonl.good.some((value) => p.jsonl!.bad!.includes(value)))
      ctx.addIssue({ code: 'custom', path: ['jsonl', 'bad'], message: 'expected values that are not also good' });
  });

export type RateParams = z.output<typeof params>;

/** Longest line matched against the patterns: a runaway line (a dumped payload) is matched on its start. */
const MAX_MATCH_CHARS = 64 * 1024;
const NOTE_CHARS = 160;

/** One outcome in the order it was written; `at` is undefined when nothing before it had a time. */
interface Outcome {
  good: boolean;
  at: number | undefined;
  /** What to show for a bad outcome. */
  note: string;
}

interface OutcomesRead {
  outcomes: Outcome[];
  /** Lines or records that are neither good nor bad. */
  uncounted: number;
  /** JSONL: lines that are not a JSON object. */
  badLines: number;
  /** Outcomes with no time of their own (a time was taken from the line before, or none was known). */
  untimed: number;
  /** Whether any outcome had a time; with none, the window is "what was read". */
  timed: boolean;
}

/**
 * A ratio of good outcomes over a window, from JSON lines or a plain log:
 * an AI validator's pass rate, template fallbacks against generated tasks.
 * Fails outside minRatio/maxRatio (once there are minSamples outcomes), or
 * on more than maxConsecutiveBad bad outcomes in a row at the end. Stateless:
 * each run reads the end of the file again.
 */
export const rateCheck: CheckKind<RateParams> = {
  kind: 'rate',
  description: 'share of good outcomes over a window (JSONL or log), and bad outcomes in a row',
  params,
  create(p) {
    const flags = p.log?.ignoreCase ? 'i' : '';
    const goodPattern = p.log ? new RegExp(p.log.goodPattern, flags) : undefined;
    const badPattern = p.log ? new RegExp(p.log.badPattern, flags) : undefined;
    return {
      async run(ctx) {
        const now = ctx.now();
        const since = now - p.window;
        const path = (p.jsonl ?? p.log)!.path;
        const timeOfLine = p.jsonl
          ? (line: string) => parseTime(fieldAt(parseJsonObject(line), p.jsonl!.timeField), p.timeZone)
          : (line: string) => leadingTimestamp(line, p.timeZone).at;
        const read = await readRecentLines(path, { maxReadBytes: p.maxReadBytes, signal: ctx.signal, since, timeOfLine });
        if ('problem' in read) return { ok: false, message: read.problem, details: read.details };
        const lines = [...read.lines];
        // JSONL: a last line without its newline counts once it is a whole object. Log: it waits for its newline.
        if (p.jsonl && read.unfinishedLine !== undefined && parseJsonObject(read.unfinishedLine)) lines.push(read.unfinishedLine);
        const outcomes = p.jsonl ? jsonlOutcomes(lines, p.jsonl, p.timeZone) : logOutcomes(lines, goodPattern!, badPattern!, p.timeZone);
        const evidence = { path, files: read.files, bytesRead: read.bytesRead, fileBytes: read.fileBytes, partial: read.partial };
        return judge(p, now, outcomes, evidence);
      },
    };
  },
};

function jsonlOutcomes(lines: readonly string[], source: z.output<typeof jsonlSource>, timeZone: RateParams['timeZone']): OutcomesRead {
  const result: OutcomesRead = { outcomes: [], uncounted: 0, badLines: 0, untimed: 0, timed: false };
  const clock = positionClock(result);
  for (const line of lines) {
    if (line.trim() === '') continue;
    const record = parseJsonObject(line);
    if (!record) {
      result.badLines++;
      continue;
    }
    const value = outcomeOf(fieldAt(record, source.outcomeField));
    const good = value !== undefined && source.good.includes(value);
    const bad = value !== undefined && !good && (source.bad === undefined || source.bad.includes(value));
    const at = clock(parseTime(fieldAt(record, source.timeField), timeZone), good || bad);
    if (!good && !bad) {
      result.uncounted++;
      continue;
    }
    const noted = source.noteField === undefined ? undefined : fieldAt(record, source.noteField);
    const note =
      noted === undefined || noted === null ? `${source.outcomeField} ${JSON.stringify(value)}` : typeof noted === 'string' ? noted : JSON.stringify(noted);
    result.outcomes.push({ good, at, note });
  }
  return result;
}

/** An outcome value that can be compared with the lists; a missing field, null or an object is none. */
function outcomeOf(raw: unknown): string | number | boolean | undefined {
  return typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? raw : undefined;
}

function logOutcomes(lines: readonly string[], goodPattern: RegExp, badPattern: RegExp, timeZone: RateParams['timeZone']): OutcomesRead {
  const result: OutcomesRead = { outcomes: [], uncounted: 0, badLines: 0, untimed: 0, timed: false };
  const clock = positionClock(result);
  for (const line of lines) {
    const { at: own, rest } = leadingTimestamp(line, timeZone);
    const text = line.length > MAX_MATCH_CHARS ? line.slice(0, MAX_MATCH_CHARS) : line;
    const bad = badPattern.test(text);
    const good = !bad && goodPattern.test(text);
    const at = clock(own, good || bad);
    if (!good && !bad) {
      if (line.trim() !== '') result.uncounted++;
      continue;
    }
    result.outcomes.push({ good, at, note: rest });
  }
  return result;
}

/**
 * Times by position: a line with a time sets the clock, a line without one
 * (a continuation, a logger that writes none) takes the time of the last line
 * before it that had one. Counted outcomes without a time of their own are
 * tallied in `untimed`.
 */
function positionClock(result: OutcomesRead): (own: number | undefined, counted: boolean) => number | undefined {
  let last: number | undefined;
  return (own, counted) => {
    if (own !== undefined) {
      last = own;
      result.timed = true;
      return own;
    }
    if (counted) result.untimed++;
    return last;
  };
}

function judge(p: RateParams, now: number, read: OutcomesRead, evidence: Record<string, unknown> & { partial: boolean }): CheckResult {
  const since = now - p.window;
  // Outcomes before the first timed line have no time at all: they are in the window only when nothing in the file is timed.
  const inWindow = read.outcomes.filter((o) => (o.at === undefined ? !read.timed : o.at > since));
  const good = inWindow.filter((o) => o.good).length;
  const bad = inWindow.length - good;
  const samples = good + bad;
  const share = samples === 0 ? null : good / samples;
  let streak = 0;
  for (let i = read.outcomes.length - 1; i >= 0 && !read.outcomes[i]!.good; i--) streak++;
  const lastBad = [...read.outcomes].reverse().find((o) => !o.good);
  const window = formatDuration(p.window);
  const details: Record<string, unknown> = {
    ratio: share === null ? null : Math.round(share * 10_000) / 10_000,
    good,
    bad,
    samples,
    windowMs: p.window,
    consecutiveBad: streak,
    badLines: read.badLines,
    uncounted: read.uncounted,
    untimed: read.untimed,
    timed: read.timed,
    ...evidence,
  };
  if (p.minRatio !== undefined) details.minRatio = p.minRatio;
  if (p.maxRatio !== undefined) details.maxRatio = p.maxRatio;
  if (p.maxConsecutiveBad !== undefined) details.maxConsecutiveBad = p.maxConsecutiveBad;
  if (lastBad) details.lastBad = clipAtWord(lastBad.note, NOTE_CHARS);
  // With no timestamps the window cannot be told: what was read is the window, and the message says so.
  const over = read.timed ? `over ${window}` : 'over the lines read (no timestamps)';
  const problems: string[] = [];
  const judged = share !== null && samples >= p.minSamples;
  if (judged && p.minRatio !== undefined && share < p.minRatio)
    problems.push(`${p.label} ${percent(share)} ${over} (min ${percent(p.minRatio)}, ${samples} samples)`);
  if (judged && p.maxRatio !== undefined && share > p.maxRatio)
    problems.push(`${p.label} ${percent(share)} ${over} (max ${percent(p.maxRatio)}, ${samples} samples)`);
  if (p.maxConsecutiveBad !== undefined && streak > p.maxConsecutiveBad) {
    // Every outcome read was bad: the streak may begin before the read did.
    const atLeast = evidence.partial && streak === read.outcomes.length ? 'at least ' : '';
    problems.push(`${atLeast}${streak} bad outcomes in a row (max ${p.maxConsecutiveBad}): last '${clipAtWord(lastBad!.note, NOTE_CHARS)}'`);
  }
  if (problems.length > 0) return { ok: false, message: problems.join('; '), details };
  if (!judged && (p.minRatio !== undefined || p.maxRatio !== undefined))
    return { ok: true, message: `${p.label} not judged: ${samples} ${samples === 1 ? 'sample' : 'samples'} ${over} (min ${p.minSamples})`, details };
  if (share === null) return { ok: true, message: `no outcomes ${over}`, details };
  return { ok: true, message: `${p.label} ${percent(share)} ${over} (${samples} ${samples === 1 ? 'sample' : 'samples'})`, details };
}

/** 0.625 → "62%", 0.999 → "99.9%": whole percents, one decimal where rounding would reach 0% or 100% falsely. */
function percent(value: number): string {
  const whole = Math.round(value * 100);
  if (whole === 100 && value < 1) return `${(Math.floor(value * 1000) / 10).toFixed(1)}%`;
  if (whole === 0 && value > 0) return `${(Math.ceil(value * 1000) / 10).toFixed(1)}%`;
  return `${whole}%`;
}
