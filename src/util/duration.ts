import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/**
 * Parses "250ms", "10s", "5m", "4h", "1d" (or a bare number of seconds)
 * into milliseconds; undefined when the text is not a duration.
 */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.round(input * 1000) : undefined;
  const match = DURATION.exec(input.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

/** "1h 5m", "10s", "250ms": the shortest readable form of a duration. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/**
 * The longest delay Node's timers accept (2^31-1 ms, about 24.8 days). A
 * longer one is not refused: Node warns (TimeoutOverflowWarning) and fires
 * after 1 ms instead, so a long interval would spin.
 */
export const TIMER_LIMIT_MS = 2 ** 31 - 1;

/** The longest age or window: long enough for any retention, short enough to stay far from overflow in `now - age`. */
export const AGE_LIMIT_MS = 100 * 365 * 86_400_000;

/** The shortest patrol or check interval: below it the patrol would spend its time waking up. */
export const MIN_INTERVAL_MS = 100;

interface DurationBounds {
  /** The largest value, and what it is (named in the error). */
  limitMs: number;
  limitName: string;
  /** The smallest value above 0, and why (named in the error). */
  floorMs?: number;
  floorReason?: string;
  /** Only where 0 has a meaning of its own, documented at the field (chat.groupWait: 0 sends at once). */
  allowZero?: boolean;
}

/** A zod field for a duration written as text or seconds, within `bounds`; the value is in ms. */
function boundedDuration(bounds: DurationBounds) {
  return z.union([z.string(), z.number()], { error: 'expected a duration such as "10s", "5m" or a number of seconds' }).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as "10s", "5m", "4h" or a number of seconds` });
      return z.NEVER;
    }
    if (ms === 0 && bounds.allowZero) return ms;
    if (bounds.floorMs !== undefined && ms < bounds.floorMs) {
      ctx.addIssue({ code: 'custom', message: `expected at least ${formatDuration(bounds.floorMs)} (${bounds.floorReason})` });
      return z.NEVER;
    }
    // A zero timeout fails every run and a zero window holds nothing; "0.1ms" rounds to 0 too.
    if (ms <= 0) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration longer than 0' });
      return z.NEVER;
    }
    if (!(ms <= bounds.limitMs)) {
      ctx.addIssue({ code: 'custom', message: `expected at most ${formatDuration(bounds.limitMs)} (${bounds.limitName})` });
      return z.NEVER;
    }
    return ms;
  });
}

const TIMER_LIMIT_NAME = `Node's timer limit, ${TIMER_LIMIT_MS} ms`;
const AGE_LIMIT_NAME = '100 years';

/**
 * A duration Nightshift waits with a timer (timeouts, grace and stop waits,
 * group waits): more than 0, at most Node's timer limit.
 */
export const timerDuration = boundedDuration({ limitMs: TIMER_LIMIT_MS, limitName: TIMER_LIMIT_NAME });

/** A timer duration where 0 has a meaning of its own, stated at the field. */
export const timerDurationOrZero = boundedDuration({ limitMs: TIMER_LIMIT_MS, limitName: TIMER_LIMIT_NAME, allowZero: true });

/** How often the patrol or a check runs: a timer, and at least MIN_INTERVAL_MS. */
export const intervalDuration = boundedDuration({
  limitMs: TIMER_LIMIT_MS,
  limitName: TIMER_LIMIT_NAME,
  floorMs: MIN_INTERVAL_MS,
  floorReason: 'the shortest interval',
});

/**
 * An age or a window, only ever compared with timestamps (never given to a
 * timer), so it may be longer than the timer limit: `olderThan: 90d`.
 */
export const ageDuration = boundedDuration({ limitMs: AGE_LIMIT_MS, limitName: AGE_LIMIT_NAME });

/** An age where 0 has a meaning of its own, stated at the field (cooldown: 0 leaves only maxHeals). */
export const ageDurationOrZero = boundedDuration({ limitMs: AGE_LIMIT_MS, limitName: AGE_LIMIT_NAME, allowZero: true });

/** A maintenance window's length: at least a minute (windows open on a cron minute), at most a week. */
export const windowDuration = boundedDuration({
  limitMs: 7 * 86_400_000,
  limitName: 'a week',
  floorMs: 60_000,
  floorReason: 'a window opens on a cron minute',
});
