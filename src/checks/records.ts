import { open, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';

/**
 * Recent records a pipeline appends to a file, read by the `budget` and
 * `rate` kinds: the tail of a JSONL file or a plain log, and the times in it.
 *
 * Every run reads the last `maxReadBytes` afresh and keeps no offset, so a
 * rotation, truncation or rewrite of the file can never put a reader out of
 * step. When the live file was read whole and still does not reach back far
 * enough, the rename-rotated `<path>.1` is read too, within the same budget.
 */

/** Every run reads at most this much; 8 MiB is some 40,000 JSON lines of 200 bytes. */
export const DEFAULT_MAX_READ_BYTES = 8 * 1024 * 1024;

/** The `maxReadBytes` key both kinds share. */
export const maxReadBytesParam = z.number().int().min(4096).default(DEFAULT_MAX_READ_BYTES);

/** How a time written without a zone ("2026-01-05 03:12:00", Python's default log format) is read. */
export const timeZoneParam = z.enum(['utc', 'local']).default('utc');
export type TimeZone = z.output<typeof timeZoneParam>;

const CHUNK_BYTES = 1024 * 1024;

export interface RecentLines {
  /** Complete lines, oldest first; those of `<path>.1` come before those of the live file. */
  lines: string[];
  /** A last line without its newline: the writer is still writing it, or the file simply does not end in one. */
  unfinishedLine: string | undefined;
  /**
   * The window reaches further back than what was read: the oldest line read is newer than `since`
   * (or no line has a time) and there were older bytes that were not read.
   */
  partial: boolean;
  /** Files read, oldest first (the live file last). */
  files: string[];
  bytesRead: number;
  /** Size of the live file. */
  fileBytes: number;
  /** Time of the oldest timed line read (ms), when a line had one. */
  oldestAt: number | undefined;
}

/** A failure the caller reports as its run's result: a missing or unreadable file. */
export interface ReadProblem {
  problem: string;
  details: Record<string, unknown>;
}

export interface ReadOptions {
  maxReadBytes: number;
  signal: AbortSignal;
  /** The oldest time the caller needs (ms): decides whether `<path>.1` is read and whether the read is partial. */
  since: number;
  /** The time of a line, undefined when it has none. Called on the oldest lines only, until one has a time. */
  timeOfLine: (line: string) => number | undefined;
}

/** The last lines of `path` (and of `<path>.1` when the live file does not reach back to `since`). */
export async function readRecentLines(path: string, options: ReadOptions): Promise<RecentLines | ReadProblem> {
  const live = await openForReading(path);
  if ('problem' in live) return live;
  try {
    if (options.signal.aborted) return aborted(path);
    const tail = await readTail(live.handle, live.size, options.maxReadBytes, options.signal);
    if (!tail) return aborted(path);
    const lines = tail.lines;
    const files = [path];
    let bytesRead = tail.bytesRead;
    let cut = tail.cut;
    let oldestAt = oldestTime(lines, options.timeOfLine);
    const left = options.maxReadBytes - bytesRead;
    if (!cut && (oldestAt === undefined || oldestAt > options.since) && left > 0) {
      const older = await readRotated(`${path}.1`, left, options.signal);
      if (older === 'aborted') return aborted(path);
      if (older) {
        // The rotated file's last line ended where the live file began, newline or not.
        const olderLines = older.unfinishedLine === undefined ? older.lines : [...older.lines, older.unfinishedLine];
        lines.unshift(...olderLines);
        files.unshift(`${path}.1`);
        bytesRead += older.bytesRead;
        cut = older.cut;
        oldestAt = oldestTime(lines, options.timeOfLine);
      }
    }
    const partial = cut && (oldestAt === undefined || oldestAt > options.since);
    return { lines, unfinishedLine: tail.unfinishedLine, partial, files, bytesRead, fileBytes: live.size, oldestAt };
  } finally {
    await live.handle.close();
  }
}

function aborted(path: string): ReadProblem {
  return { problem: `aborted while reading ${path}`, details: { path, errorCode: 'ABORTED' } };
}

async function openForReading(path: string): Promise<{ handle: FileHandle; size: number } | ReadProblem> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `missing: ${path}`, details: { path, missing: true } };
    return { problem: `cannot read ${path}: ${code ?? String(err)}`, details: { path, errorCode: code ?? null } };
  }
  try {
    // fstat of the open descriptor: the size read is the size of the file being read, even if a rotation renames the path meanwhile.
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      return { problem: `not a regular file: ${path}`, details: { path } };
    }
    return { handle, size: stats.size };
  } catch (err) {
    await handle.close();
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: `cannot read ${path}: ${code ?? String(err)}`, details: { path, errorCode: code ?? null } };
  }
}

async function readRotated(path: string, budget: number, signal: AbortSignal): Promise<Tail | undefined | 'aborted'> {
  const rotated = await openForReading(path);
  // No rotated file (or an unreadable one) only means there is nothing older to read.
  if ('problem' in rotated) return undefined;
  try {
    return (await readTail(rotated.handle, rotated.size, budget, signal)) ?? 'aborted';
  } finally {
    await rotated.handle.close();
  }
}

interface Tail {
  lines: string[];
  unfinishedLine: string | undefined;
  /** Bytes before the first line read were not read. */
  cut: boolean;
  bytesRead: number;
}

/** The complete lines in the last `budget` bytes of a file of `size` bytes; undefined when the signal fired. */
async function readTail(handle: FileHandle, size: number, budget: number, signal: AbortSignal): Promise<Tail | undefined> {
  // One byte more than the budget: whether it is a newline tells if the first line read is whole.
  const start = Math.max(0, size - budget - 1);
  const buffer = Buffer.alloc(size - start);
  let filled = 0;
  while (filled < buffer.length) {
    if (signal.aborted) return undefined;
    const { bytesRead } = await handle.read(buffer, filled, Math.min(CHUNK_BYTES, buffer.length - filled), start + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  let bytes = buffer.subarray(0, filled);
  let cut = false;
  if (start > 0 || bytes.length > budget) {
    // The first line began before the bytes read (unless the extra byte is a newline): it is only a fragment.
    const newline = bytes.indexOf(0x0a);
    bytes = newline === -1 ? Buffer.alloc(0) : bytes.subarray(newline + 1);
    cut = true;
  }
  let text = bytes.toString('utf8');
  if (start === 0 && text.startsWith('\uFEFF')) text = text.slice(1);
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  return {
    lines: lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)),
    unfinishedLine: last === '' ? undefined : last.replace(/\r$/, ''),
    cut,
    bytesRead: Math.min(filled, budget),
  };
}

function oldestTime(lines: readonly string[], timeOfLine: (line: string) => number | undefined): number | undefined {
  for (const line of lines) {
    const at = timeOfLine(line);
    if (at !== undefined) return at;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON lines and fields

/** The object on a JSON line; undefined for a line that is not one (a bad line). */
export function parseJsonObject(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The value at a dotted path ("usage.cost", "items.0.id"). A key that itself
 * holds a dot ("cost.usd") is found as written before the path is split.
 */
export function fieldAt(record: unknown, path: string): unknown {
  if (record === null || typeof record !== 'object') return undefined;
  const direct = record as Record<string, unknown>;
  if (Object.hasOwn(direct, path)) return direct[path];
  let value: unknown = record;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A dotted field path as a config key: non-empty, no empty segment. */
export const fieldPath = z
  .string()
  .min(1)
  .refine((path) => !path.split('.').includes(''), { message: 'expected a field name or dotted path such as "usage.cost"' });

// ---------------------------------------------------------------------------------------------------------------
// Times

/** A number below this is unix seconds (1e11 s is the year 5138); from it on, ms (1e11 ms is 1973). */
const SECONDS_BELOW = 1e11;
const NUMERIC_TEXT = /^\d+(?:\.\d+)?$/;
const ISO_TEXT = /^(\d{4})-(\d{2})-(\d{2})(?:([Tt ])(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

/** How a time was written. */
export type TimeShape =
  | { kind: 'number'; unit: 's' | 'ms'; whole: boolean; text: boolean }
  | { kind: 'iso'; separator: string; seconds: boolean; fractionDigits: number; zone: 'naive' | 'Z' | { text: string; offsetMinutes: number } };

export interface ReadTime {
  ms: number;
  shape: TimeShape;
}

/**
 * A time and how it was written: unix seconds or ms (numbers, digits, SQLite
 * integers), or ISO-8601 text ("2026-01-05T03:12:00Z", "2026-01-05 03:12:00,123",
 * "2026-01-05"). Text without a zone is read in `timeZone`. Undefined for
 * anything else, and for 0 or less (a default, not a time in 1970). The shape
 * lets a writer put "now" back the way the program writes its own times.
 */
export function readTime(raw: unknown, timeZone: TimeZone): ReadTime | undefined {
  if (typeof raw === 'bigint') return readTime(Number(raw), timeZone);
  if (typeof raw === 'number') return numericTime(raw, false);
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (NUMERIC_TEXT.test(text)) return numericTime(Number(text), true);
  const match = ISO_TEXT.exec(text);
  if (!match) return undefined;
  const [, year, month, day, separator, hour, minute, second, fraction, zone] = match;
  const fields = [Number(year), Number(month) - 1, Number(day), Number(hour ?? 0), Number(minute ?? 0), Number(second ?? 0)] as const;
  const fractionMs = fraction === undefined ? 0 : Number(fraction.padEnd(3, '0').slice(0, 3));
  const asUtc = Date.UTC(...fields, fractionMs);
  const check = new Date(asUtc);
  // Date.UTC rolls 2024-02-30 over into March; a calendar date that does not exist is not a time.
  if (check.getUTCMonth() !== fields[1] || check.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) return undefined;
  const shapeBase = { kind: 'iso' as const, separator: separator ?? 'T', seconds: second !== undefined, fractionDigits: fraction?.length ?? 0 };
  if (zone === undefined) {
    const ms = timeZone === 'utc' ? asUtc : new Date(...fields, fractionMs).getTime();
    return { ms, shape: { ...shapeBase, zone: 'naive' } };
  }
  if (zone === 'Z' || zone === 'z') return { ms: asUtc, shape: { ...shapeBase, zone: 'Z' } };
  const digits = zone.replace(':', '');
  const offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || 0));
  return { ms: asUtc - offsetMinutes * 60_000, shape: { ...shapeBase, zone: { text: zone, offsetMinutes } } };
}

function numericTime(value: number, text: boolean): ReadTime | undefined {
  // 0 or less is a column default ("never set"), not a task that started in 1970.
  if (!Number.isFinite(value) || value <= 0) return undefined;
  const unit = value < SECONDS_BELOW ? 's' : 'ms';
  return { ms: unit === 's' ? value * 1000 : value, shape: { kind: 'number', unit, whole: Number.isInteger(value), text } };
}

/** A time in ms since the epoch (see readTime), or undefined. */
export function parseTime(raw: unknown, timeZone: TimeZone): number | undefined {
  return readTime(raw, timeZone)?.ms;
}

/** An ISO date and time at the very start of a log line, optionally in brackets: "[2026-01-05 03:12:00,123] WARNING ...". */
const LEADING_TIMESTAMP = /^\s*\[?(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)(?![\d:.,])/;

/** The time a log line starts with, and the line without it; `at` is undefined for a line with no leading timestamp. */
export function leadingTimestamp(line: string, timeZone: TimeZone): { at: number | undefined; rest: string } {
  const match = LEADING_TIMESTAMP.exec(line);
  if (!match) return { at: undefined, rest: line };
  const at = parseTime(match[1]!, timeZone);
  if (at === undefined) return { at: undefined, rest: line };
  return { at, rest: line.slice(match[0].length).replace(/^\]?\s*/, '') };
}

/** Start of the month holding `at` and start of the next one, in UTC or in the zone of this process. */
export function monthBounds(at: number, timeZone: TimeZone): { start: number; next: number } {
  const date = new Date(at);
  if (timeZone === 'utc') {
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth();
    return { start: Date.UTC(year, month, 1), next: Date.UTC(year, month + 1, 1) };
  }
  const year = date.getFullYear();
  const month = date.getMonth();
  return { start: new Date(year, month, 1).getTime(), next: new Date(year, month + 1, 1).getTime() };
}
