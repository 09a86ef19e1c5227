/**
 * How often a cron schedule fires: the longest gap between two runs, which
 * is what a heartbeat must allow. Five fields (minute hour day-of-month
 * month day-of-week) with `*`, lists, ranges and steps, plus the @daily
 * family; names (jan, mon) are read too. Day-of-month and day-of-week
 * restricted together fire on either, as cron does.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** A crontab schedule read into the longest gap between its runs; `undefined` when it is not one this can read (@reboot). */
export function longestGapMs(schedule: string): number | undefined {
  const expression = MACROS[schedule.trim().toLowerCase()] ?? schedule;
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const minutes = parseField(fields[0]!, 0, 59);
  const hours = parseField(fields[1]!, 0, 23);
  const days = parseField(fields[2]!, 1, 31);
  const months = parseField(fields[3]!, 1, 12, MONTHS, 1);
  const weekdays = parseField(fields[4]!, 0, 7, WEEKDAYS, 0);
  if (!minutes || !hours || !days || !months || !weekdays) return undefined;
  if (weekdays.has(7)) weekdays.add(0);
  const domRestricted = fields[2] !== '*' && !fields[2]!.startsWith('*/');
  const dowRestricted = fields[4] !== '*' && !fields[4]!.startsWith('*/');

  // Every run over four years from a fixed day (UTC: no daylight saving), leap day included.
  const runs: number[] = [];
  const start = Date.UTC(2024, 0, 1);
  const times = [...hours].sort((a, b) => a - b).flatMap((h) => [...minutes].sort((a, b) => a - b).map((m) => (h * 60 + m) * MINUTE_MS));
  for (let day = 0; day < 4 * 366; day++) {
    const at = start + day * DAY_MS;
    const date = new Date(at);
    if (!months.has(date.getUTCMonth() + 1)) continue;
    const domMatch = days.has(date.getUTCDate());
    const dowMatch = weekdays.has(date.getUTCDay());
    const dayMatch = domRestricted && dowRestricted ? domMatch || dowMatch : domMatch && dowMatch;
    if (!dayMatch) continue;
    for (const time of times) runs.push(at + time);
  }
  if (runs.length < 2) return undefined;
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i]! - runs[i - 1]!);
  return longest;
}

function parseField(field: string, min: number, max: number, names: string[] = [], nameBase = 0): Set<number> | undefined {
  const values = new Set<number>();
  const value = (text: string): number | undefined => {
    const named = names.indexOf(text.toLowerCase());
    if (named >= 0) return named + nameBase;
    if (!/^\d+$/.test(text)) return undefined;
    const n = Number(text);
    return n >= min && n <= max ? n : undefined;
  };
  for (const part of field.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1 || range === undefined || range === '') return undefined;
    let from: number | undefined;
    let to: number | undefined;
    if (range === '*') [from, to] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [from, to] = [value(a ?? ''), value(b ?? '')];
    } else {
      from = value(range);
      to = stepText === undefined ? from : max;
    }
    if (from === undefined || to === undefined || from > to) return undefined;
    for (let n = from; n <= to; n += step) values.add(n);
  }
  return values;
}

/** A gap as one duration the config reads: "5m", "1h", "1d", "90m". */
export function compactDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', DAY_MS],
    ['h', 3_600_000],
    ['m', MINUTE_MS],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.max(1, Math.round(ms))}ms`;
}
