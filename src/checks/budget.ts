import { stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { z } from 'zod';
import type { CheckKind, CheckResult } from './types.js';
import { fieldAt, fieldPath, maxReadBytesParam, monthBounds, parseJsonObject, parseTime, readRecentLines, timeZoneParam, type TimeZone } from './records.js';

const jsonlSource = z.strictObject({
  /** The cost log: one JSON object per line, appended as the API calls are made. */
  path: z.string().min(1),
  /** The field holding when the cost arose: unix seconds, unix ms or ISO-8601 text. Dotted paths reach into objects. */
  timeField: fieldPath.default('ts'),
  /** The field holding the amount (a number, or digits as text), in the unit of `currency`. */
  amountField: fieldPath.default('cost'),
});

const sqliteSource = z.strictObject({
  /** The SQLite database holding the costs; opened read-only. */
  path: z.string().min(1),
  /**
   * One SELECT returning a row per cost with the columns `at` (unix s, ms or ISO-8601 text) and `amount`.
   * It may use :sinceMs, :sinceSeconds or :sinceIso, the oldest time the check needs (the 1st of the month or 24h ago).
   */
  query: z
    .string()
    .min(1)
    .superRefine((query, ctx) => {
      const problem = selectProblem(query);
      if (problem) ctx.addIssue({ code: 'custom', message: `expected a single SELECT statement: ${problem}` });
    }),
});

const amount = z.number().positive();

const params = z
  .strictObject({
    /** Costs in a JSONL file: `{ path }` and the field names when they differ from `ts` and `cost`. */
    jsonl: jsonlSource.optional(),
    /** Costs in a SQLite database: `{ path, query }`. */
    sqlite: sqliteSource.optional(),
    /** Spending more than this within the last hour fails. */
    maxPerHour: amount.optional(),
    /** Spending more than this within the last 24 hours fails. */
    maxPerDay: amount.optional(),
    /** The projected month above this fails: month-to-date plus the last 24h's hourly average for every hour left in the month. */
    maxMonth: amount.optional(),
    /** How amounts are labelled: a symbol ("$", "€") goes before the number, a code ("EUR", "credits") after it. */
    currency: z.string().min(1).max(12).default('$'),
    /** The zone months begin in (`utc`, as API providers bill, or `local`: this process's TZ), and how times without a zone are read. */
    timeZone: timeZoneParam,
    /** JSONL: read at most this many bytes from the end of the file per run; what lies before is left out (details say `partial`). */
    maxReadBytes: maxReadBytesParam,
  })
  .superRefine((p, ctx) => {
    if (p.jsonl !== undefined && p.sqlite !== undefined) ctx.addIssue({ code: 'custom', message: 'expected either jsonl or sqlite, not both' });
    if (p.jsonl === undefined && p.sqlite === undefined)
      ctx.addIssue({ code: 'custom', message: 'expected a cost source: jsonl: { path } or sqlite: { path, query }' });
    if (p.maxPerHour === undefined && p.maxPerDay === undefined && p.maxMonth === undefined)
      ctx.addIssue({ code: 'custom', message: 'expected at least one limit (maxPerHour, maxPerDay or maxMonth): without one the check can never fail' });
  });

export type BudgetParams = z.output<typeof params>;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** A query may return at most this many rows per run (it reads synchronously); more is marked partial. Aggregate by hour for big tables. */
const MAX_ROWS = 200_000;
const BUSY_TIMEOUT_MS = 200;

/** One cost: when, and how much. */
interface Cost {
  at: number;
  amount: number;
}

interface CostsRead {
  costs: Cost[];
  /** Lines that are not a JSON object. */
  badLines: number;
  /** Records without a readable time or amount. */
  skippedRecords: number;
  partial: boolean;
  evidence: Record<string, unknown>;
}

/**
 * API spending from a cost log: the burn over the last hour and day, and the
 * month projected from month-to-date and the last 24 hours' pace. Stateless:
 * each run reads the costs again (the tail of a JSONL file, or a query).
 * Throttling is the operator's own `command` heal step.
 */
export const budgetCheck: CheckKind<BudgetParams> = {
  kind: 'budget',
  description: 'API spending: burn per hour and day, projected month',
  params,
  create(p) {
    return {
      async run(ctx) {
        const now = ctx.now();
        const month = monthBounds(now, p.timeZone);
        const since = Math.min(month.start, now - DAY_MS);
        const read = p.jsonl ? await readJsonlCosts(p.jsonl, p, since, ctx.signal) : await readSqliteCosts(p.sqlite!, p.timeZone, since);
        if ('problem' in read) return { ok: false, message: read.problem, details: read.details };
        return judge(p, now, month, read);
      },
    };
  },
};

async function readJsonlCosts(
  source: z.output<typeof jsonlSource>,
  p: BudgetParams,
  since: number,
  signal: AbortSignal,
): Promise<CostsRead | { problem: string; details: Record<string, unknown> }> {
  const timeOf = (record: Record<string, unknown> | undefined) => (record ? parseTime(fieldAt(record, source.timeField), p.timeZone) : undefined);
  const read = await readRecentLines(source.path, {
    maxReadBytes: p.maxReadBytes,
    signal,
    since,
    timeOfLine: (line) => timeOf(parseJsonObject(line)),
  });
  if ('problem' in read) return read;
  const costs: Cost[] = [];
  let badLines = 0;
  let skippedRecords = 0;
  const take = (record: Record<string, unknown>) => {
    const at = timeOf(record);
    const value = readAmount(fieldAt(record, source.amountField));
    if (at === undefined || value === undefined) skippedRecords++;
    else costs.push({ at, amount: value });
  };
  for (const line of read.lines) {
    if (line.trim() === '') continue;
    const record = parseJsonObject(line);
    if (record) take(record);
    else badLines++;
  }
  // A last line without its newline counts once it is a whole object; until then the writer is still writing it.
  const last = read.unfinishedLine === undefined ? undefined : parseJsonObject(read.unfinishedLine);
  if (last) take(last);
  return {
    costs,
    badLines,
    skippedRecords,
    partial: read.partial,
    evidence: { path: source.path, files: read.files, bytesRead: read.bytesRead, fileBytes: read.fileBytes },
  };
}

async function readSqliteCosts(
  source: z.output<typeof sqliteSource>,
  timeZone: TimeZone,
  since: number,
): Promise<CostsRead | { problem: string; details: Record<string, unknown> }> {
  const evidence = { path: source.path };
  try {
    await stat(source.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `missing: ${source.path}`, details: { ...evidence, missing: true } };
    return { problem: `cannot read ${source.path}: ${code ?? String(err)}`, details: { ...evidence, errorCode: code ?? null } };
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(source.path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    const statement = db.prepare(source.query);
    // The database is open read-only anyway; this refuses a statement that would write before it is tried.
    if (!statement.reader || !statement.readonly) return { problem: 'the budget query must be a SELECT that returns rows', details: evidence };
    const columns = statement.columns().map((c) => c.name);
    if (!columns.includes('at') || !columns.includes('amount'))
      return {
        problem: `the budget query must return columns at and amount, found ${columns.join(', ') || 'none'}`,
        details: { ...evidence, columns },
      };
    const costs: Cost[] = [];
    let skippedRecords = 0;
    let rows = 0;
    let partial = false;
    for (const row of statement.iterate({ sinceMs: since, sinceSeconds: Math.floor(since / 1000), sinceIso: new Date(since).toISOString() }) as Iterable<{
      at: unknown;
      amount: unknown;
    }>) {
      if (++rows > MAX_ROWS) {
        partial = true;
        break;
      }
      const at = parseTime(row.at, timeZone);
      const value = readAmount(row.amount);
      if (at === undefined || value === undefined) skippedRecords++;
      else costs.push({ at, amount: value });
    }
    return { costs, badLines: 0, skippedRecords, partial, evidence: { ...evidence, rows: Math.min(rows, MAX_ROWS) } };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    return { problem: `budget query on ${source.path} failed: ${message}`, details: { ...evidence, errorCode: code ?? null } };
  } finally {
    db?.close();
  }
}

/** An amount: a finite number or its digits as text; anything else is no amount. */
function readAmount(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'string' && /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/.test(raw)) return Number(raw);
  return undefined;
}

function judge(p: BudgetParams, now: number, month: { start: number; next: number }, read: CostsRead): CheckResult {
  let perHour = 0;
  let perDay = 0;
  let monthToDate = 0;
  let records = 0;
  for (const cost of read.costs) {
    // No upper bound: a cost stamped a little ahead of this clock (another machine's) is spending of the last hour too.
    if (cost.at <= now - DAY_MS && cost.at < month.start) continue;
    records++;
    if (cost.at > now - HOUR_MS) perHour += cost.amount;
    if (cost.at > now - DAY_MS) perDay += cost.amount;
    if (cost.at >= month.start && cost.at < month.next) monthToDate += cost.amount;
  }
  const hoursLeft = Math.max(0, month.next - now) / HOUR_MS;
  const projectedMonth = monthToDate + (perDay / 24) * hoursLeft;
  const money = (value: number) => formatMoney(value, p.currency);
  const limit = (value: number) => formatMoney(value, p.currency, 'limit');
  const details: Record<string, unknown> = {
    perHour: cents(perHour),
    perDay: cents(perDay),
    monthToDate: cents(monthToDate),
    projectedMonth: cents(projectedMonth),
    records,
    currency: p.currency,
    timeZone: p.timeZone,
    monthStart: new Date(month.start).toISOString(),
    hoursLeftInMonth: Math.round(hoursLeft * 10) / 10,
    badLines: read.badLines,
    skippedRecords: read.skippedRecords,
    partial: read.partial,
    ...read.evidence,
  };
  if (p.maxPerHour !== undefined) details.maxPerHour = p.maxPerHour;
  if (p.maxPerDay !== undefined) details.maxPerDay = p.maxPerDay;
  if (p.maxMonth !== undefined) details.maxMonth = p.maxMonth;
  // What was not read can only have added to the month: a partial read gives a floor, and the message says so.
  const projected = `${read.partial ? 'at least ' : ''}${money(projectedMonth)}`;
  const problems: string[] = [];
  if (p.maxPerHour !== undefined && perHour > p.maxPerHour) problems.push(`burning ${money(perHour)}/h (max ${limit(p.maxPerHour)}/h)`);
  if (p.maxPerDay !== undefined && perDay > p.maxPerDay) problems.push(`${money(perDay)} spent in the last 24h (max ${limit(p.maxPerDay)})`);
  if (p.maxMonth !== undefined && projectedMonth > p.maxMonth) problems.push(`projected month ${projected} (max ${limit(p.maxMonth)})`);
  if (problems.length > 0) {
    if (p.maxPerHour === undefined || perHour <= p.maxPerHour) problems.push(`now ${money(perHour)}/h`);
    return { ok: false, message: problems.join('; '), details };
  }
  const parts = [`${money(perHour)}/h`];
  if (p.maxPerDay !== undefined) parts.push(`${money(perDay)} in the last 24h`);
  parts.push(`${projected} projected this month`);
  return { ok: true, message: parts.join(', '), details };
}

/** Amounts in details: rounded far below a cent, so float noise (0.30000000000000004) does not show. */
function cents(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

const GROUPED = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * "$4.20", "$1,630", "$0.0031", "12.50 EUR": whole units from 100 on, cents
 * below, two significant digits under a cent. A configured limit is shown as
 * written ("max $2/h"), a measured amount always with its cents.
 */
export function formatMoney(value: number, currency: string, as: 'amount' | 'limit' = 'amount'): string {
  const size = Math.abs(value);
  let number: string;
  if (size >= 100) number = GROUPED.format(value);
  else if (as === 'limit' && Number.isInteger(value)) number = String(value);
  else if (size >= 0.01 || size === 0) number = value.toFixed(2);
  else number = String(Number(value.toPrecision(2)));
  return /^\p{L}+$/u.test(currency) ? `${number} ${currency}` : `${currency}${number}`;
}

/**
 * Why `query` is not one SELECT, or undefined when it is. Strings, quoted
 * names and comments are skipped, so a ';' or a keyword inside them does not
 * count. A WITH ... SELECT passes; WITH ... DELETE (or INSERT, UPDATE) does not.
 */
export function selectProblem(query: string): string | undefined {
  const words: string[] = [];
  let depth = 0;
  let i = 0;
  const n = query.length;
  while (i < n) {
    const ch = query[i]!;
    if (ch === '-' && query[i + 1] === '-') {
      const end = query.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (ch === '/' && query[i + 1] === '*') {
      const end = query.indexOf('*/', i + 2);
      if (end === -1) return 'a /* comment is not closed';
      i = end + 2;
    } else if (ch === "'" || ch === '"' || ch === '`' || ch === '[') {
      const close = ch === '[' ? ']' : ch;
      let j = i + 1;
      for (;;) {
        const end = query.indexOf(close, j);
        if (end === -1) return `a ${ch} quote is not closed`;
        // A doubled quote inside a string is an escaped quote.
        if (close !== ']' && query[end + 1] === close) {
          j = end + 2;
          continue;
        }
        i = end + 1;
        break;
      }
      words.push('?');
    } else if (ch === '(') {
      depth++;
      i++;
    } else if (ch === ')') {
      depth--;
      i++;
    } else if (ch === ';') {
      if (query.slice(i + 1).replace(/--[^\n]*|\/\*[\s\S]*?\*\/|[\s;]/g, '') !== '') return 'found more than one statement';
      break;
    } else if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$]/.test(query[j]!)) j++;
      if (depth === 0) words.push(query.slice(i, j).toUpperCase());
      i = j;
    } else i++;
  }
  const first = words[0];
  if (first === undefined) return 'the query is empty';
  if (first === 'SELECT') return undefined;
  if (first !== 'WITH') return `it starts with ${first}`;
  const verb = words.find((w) => ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'VALUES'].includes(w));
  return verb === 'SELECT' ? undefined : `the WITH clause leads to ${verb ?? 'no SELECT'}`;
}
