import { randomBytes } from 'node:crypto';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { sleep } from '../util/abort.js';
import { ageDuration, formatDuration } from '../util/duration.js';
import { clipAtWord } from '../util/text.js';
import { readTime, timeZoneParam, type ReadTime, type TimeShape, type TimeZone } from './records.js';

/**
 * Where an agent pipeline keeps its tasks, read by the `queue` check and
 * changed by the `requeue-stuck` heal: a SQLite table (columns mapped in
 * config) or a folder of JSON files, one task each. Both see the same
 * params, so the heal judges "stuck" exactly as the check does.
 */

/** Quoted as "name" in SQL; the regex keeps a quote (or anything else) from ever reaching the statement text. */
const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function sqlIdentifier(defaultName?: string) {
  const schema = z.string().regex(PLAIN_IDENTIFIER, 'expected a plain SQL name: letters, digits and "_", not starting with a digit');
  return defaultName === undefined ? schema : schema.default(defaultName);
}

const sqliteSourceParams = z.strictObject({
  /** The SQLite database file the agents write. The check opens it read-only; only the heal writes. */
  path: z.string().min(1),
  /** The table (or view, for the check) holding one row per task. */
  table: sqlIdentifier(),
  /** The column that names a task in messages and events. */
  idColumn: sqlIdentifier('id'),
  /** The column holding the task's state (compared with `states`). */
  stateColumn: sqlIdentifier('status'),
  /** When the task last changed: unix seconds, unix ms or ISO-8601 text, told apart per value. */
  updatedAtColumn: sqlIdentifier('updated_at'),
  /** How often the heal has requeued the task; only `requeue-stuck` needs it, and it never adds the column. */
  retriesColumn: sqlIdentifier('retries'),
});

const fieldName = (name: string) => z.string().min(1).default(name);

const folderSourceParams = z.strictObject({
  /** The folder holding one `*.json` file per task (hidden files and other names are ignored). */
  path: z.string().min(1),
  /** The field that names a task; a file without it is named by its file name (without .json). */
  idField: fieldName('id'),
  /** The field holding the task's state. A file without it counts as unreadable. */
  stateField: fieldName('status'),
  /** When the task last changed (seconds, ms or ISO-8601 text); absent or null: the file's mtime. */
  updatedAtField: fieldName('updated_at'),
  /** How often the heal has requeued the task; added to the file on its first requeue. */
  retriesField: fieldName('retries'),
});

const stateName = (name: string) => z.string().min(1).default(name);

const stateNames = z
  .strictObject({
    /** Waiting to be picked up: what `maxDepth` counts and where a requeued task goes. */
    ready: stateName('todo'),
    /** Being worked on: what `maxDoing` counts and `stuckAfter` judges. */
    doing: stateName('doing'),
    /** Given up: where the heal puts a task that stayed stuck through its retries. */
    failed: stateName('failed'),
  })
  .refine((s) => new Set([s.ready, s.doing, s.failed]).size === 3, { message: 'states ready, doing and failed must be three different names' });

export const queueParams = z
  .strictObject({
    /** Tasks in a SQLite table: `{ path, table }` and the column names when they differ from the defaults. */
    sqlite: sqliteSourceParams.optional(),
    /** Tasks as JSON files in one folder: `{ path }` and the field names when they differ from the defaults. */
    folder: folderSourceParams.optional(),
    /** The state values the pipeline writes for ready, doing and failed (every other value, such as "done", only counts in the total). */
    states: stateNames.prefault({}),
    /** More ready tasks than this fails (a backlog the workers do not keep up with). */
    maxDepth: z.number().int().min(0).optional(),
    /** A task in doing whose updated-at is older than this is stuck; any stuck task fails the check. */
    stuckAfter: ageDuration.optional(),
    /** More tasks in doing than this fails (runaway parallelism, or a pipeline blocked at its cap). */
    maxDoing: z.number().int().min(0).optional(),
    /**
     * How an updated-at text without a zone is read ("2024-05-01 12:00:00" as SQLite's datetime('now') writes it,
     * or Python's naive isoformat()): `utc` or `local` (this machine's zone). Text with Z or an offset is exact.
     */
    timeZone: timeZoneParam,
  })
  .superRefine((p, ctx) => {
    if (p.sqlite !== undefined && p.folder !== undefined) ctx.addIssue({ code: 'custom', message: 'set either sqlite or folder, not both' });
    if (p.sqlite === undefined && p.folder === undefined)
      ctx.addIssue({ code: 'custom', message: 'say where the tasks are: sqlite: { path, table } or folder: { path }' });
    if (p.maxDepth === undefined && p.stuckAfter === undefined && p.maxDoing === undefined)
      ctx.addIssue({ code: 'custom', message: 'set at least one limit (maxDepth, stuckAfter or maxDoing): without one the check can never fail' });
  });

export type QueueParams = z.output<typeof queueParams>;
type SqliteSourceParams = z.output<typeof sqliteSourceParams>;
type FolderSourceParams = z.output<typeof folderSourceParams>;
type StateNames = QueueParams['states'];

/** At most this many task files are read per run, and at most this many doing rows judged: a run stays bounded whatever piles up. */
export const MAX_TASKS_PER_RUN = 10_000;
/** A task file larger than this is not a task (a log or a dump written into the folder) and counts as unreadable. */
const MAX_TASK_FILE_BYTES = 1024 * 1024;
/** Task files read at once. */
const READ_CONCURRENCY = 32;
/** SQLite's own busy wait blocks the event loop; it is kept short and the wait continues asynchronously between tries. */
const BUSY_TIMEOUT_MS = 50;
const BUSY_RETRY_MS = 50;
/** A database locked this long by another writer is reported, not waited on further (the heal has no deadline of its own). */
const BUSY_GIVE_UP_MS = 10_000;
/** Unreadable files named in details; the count covers them all. */
const UNREADABLE_NAMED = 5;

/** A task in doing, as the check and the heal judge it. */
export interface DoingTask {
  id: string;
  /** ms since epoch; null when its updated-at could not be read (it can then never be judged stuck). */
  updatedAtMs: number | null;
}

/** What one read of the source found. */
export interface QueueSnapshot {
  ready: number;
  doing: number;
  failed: number;
  /** Tasks in any other state ("done", "assigned"...). */
  other: number;
  /** The doing tasks read (at most MAX_TASKS_PER_RUN; `doingCut` when there were more). */
  doingTasks: DoingTask[];
  doingCut: boolean;
  /** Task files that are not JSON objects with a state (folder only), and the first few of them with the reason. */
  unreadable: number;
  unreadableFiles: string[];
  /** Folder only: how many *.json files there are and how many were read (fewer when over MAX_TASKS_PER_RUN). */
  files?: { total: number; read: number };
}

/** A failure the source can describe: the run reports it instead of throwing. */
export interface SourceProblem {
  problem: string;
  details?: Record<string, unknown>;
}

/** What the heal does with stuck tasks. */
export interface MovePlan {
  stuckAfterMs: number;
  maxRetries: number;
  now: number;
  signal: AbortSignal;
}

export interface MovedTask {
  id: string;
  to: 'ready' | 'failed';
  /** The retry count now written (unchanged for a task given up on). */
  retries: number;
  stuckForMs: number;
}

export interface MoveOutcome {
  moved: MovedTask[];
  /** Stuck when read, but changed by a worker before the write: left alone. */
  changedMeanwhile: string[];
  /** Could not be written (permissions, a constraint), with why. */
  notMoved: Array<{ id: string; reason: string }>;
  unreadable: number;
  /** The run was stopped (bot stopping) before every task was looked at. */
  aborted: boolean;
  files?: { total: number; read: number };
}

export interface TaskSource {
  /** "sqlite:/srv/agents/tasks.db#tasks" or "folder:/srv/agents/queue": the `source` of task events. */
  readonly name: string;
  /** Structured evidence naming the source, for details. */
  readonly evidence: Record<string, unknown>;
  snapshot(signal: AbortSignal): Promise<QueueSnapshot | SourceProblem>;
  moveStuck(plan: MovePlan): Promise<MoveOutcome | SourceProblem>;
}

export function isProblem(value: object): value is SourceProblem {
  return 'problem' in value;
}

export function taskSource(p: QueueParams): TaskSource {
  if (p.sqlite) return new SqliteTasks(p.sqlite, p.states, p.timeZone);
  if (p.folder) return new FolderTasks(p.folder, p.states, p.timeZone);
  throw new Error('queue params name no source (the schema refuses this)');
}

/** How long a task has been sitting since its updated-at; a time in the future (another clock) counts as 0. */
export function ageOf(task: DoingTask, now: number): number | null {
  return task.updatedAtMs === null ? null : Math.max(0, now - task.updatedAtMs);
}

/** Stuck means in doing for longer than stuckAfter; a task without a readable updated-at is never stuck. */
export function isStuck(task: DoingTask, now: number, stuckAfterMs: number): boolean {
  const age = ageOf(task, now);
  return age !== null && age > stuckAfterMs;
}

/** What becomes of a stuck task with `retries` requeues behind it. */
function nextMove(retries: number, maxRetries: number): { to: 'ready' | 'failed'; retries: number } {
  return retries < maxRetries ? { to: 'ready', retries: retries + 1 } : { to: 'failed', retries };
}

class SourceError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Timestamps

/** `ms` written the way `shape` was: seconds stay seconds, text stays text of the same form and zone. */
export function writeTimeLike(shape: TimeShape, ms: number, timeZone: TimeZone): number | string {
  if (shape.kind === 'number') {
    const value = shape.unit === 's' ? (shape.whole ? Math.floor(ms / 1000) : ms / 1000) : Math.round(ms);
    return shape.text ? String(value) : value;
  }
  let shifted: Date;
  let suffix: string;
  if (shape.zone === 'Z') {
    shifted = new Date(ms);
    suffix = 'Z';
  } else if (shape.zone === 'naive') {
    // Local fields, laid out as if they were UTC, so one formatter serves both.
    shifted = timeZone === 'utc' ? new Date(ms) : new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
    suffix = '';
  } else {
    shifted = new Date(ms + shape.zone.offsetMinutes * 60_000);
    suffix = shape.zone.text;
  }
  const two = (n: number) => String(n).padStart(2, '0');
  let text = `${shifted.getUTCFullYear()}-${two(shifted.getUTCMonth() + 1)}-${two(shifted.getUTCDate())}${shape.separator}`;
  text += `${two(shifted.getUTCHours())}:${two(shifted.getUTCMinutes())}`;
  if (shape.seconds || shape.fractionDigits > 0) text += `:${two(shifted.getUTCSeconds())}`;
  if (shape.fractionDigits > 0)
    text += `.${String(shifted.getUTCMilliseconds()).padStart(3, '0').padEnd(shape.fractionDigits, '0').slice(0, shape.fractionDigits)}`;
  return text + suffix;
}

/** A retry count as stored: missing, null or not a count is 0 (a task never requeued). */
function readRetries(raw: unknown): number {
  const value = typeof raw === 'string' ? Number(raw.trim()) : typeof raw === 'bigint' ? Number(raw) : raw;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

function idText(raw: unknown): string {
  if (Buffer.isBuffer(raw)) return raw.toString('hex');
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'boolean') return String(raw);
  return JSON.stringify(raw) ?? 'null';
}

// ---------------------------------------------------------------------------------------------------------------
// SQLite

const quote = (name: string) => `"${name}"`;

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function sqliteProblem(err: unknown, path: string): SourceProblem {
  if (err instanceof SourceError) return { problem: err.message, details: err.details };
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_NOTADB') return { problem: `${path} is not a SQLite database`, details: { errorCode: code } };
  if (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'))
    return { problem: `database ${path} is corrupt: ${message}`, details: { errorCode: code } };
  if (typeof code === 'string' && code.startsWith('SQLITE_CANTOPEN'))
    return { problem: `cannot open database ${path}: ${message}`, details: { errorCode: code } };
  if (typeof code === 'string' && code.startsWith('SQLITE_READONLY'))
    return { problem: `database ${path} cannot be written by Nightshift: ${message}`, details: { errorCode: code } };
  return { problem: `database ${path}: ${clipAtWord(message, 300)}`, details: { errorCode: typeof code === 'string' ? code : null } };
}

class SqliteTasks implements TaskSource {
  readonly name: string;
  readonly evidence: Record<string, unknown>;

  constructor(
    private readonly p: SqliteSourceParams,
    private readonly states: StateNames,
    private readonly timeZone: TimeZone,
  ) {
    this.name = `sqlite:${p.path}#${p.table}`;
    this.evidence = { source: 'sqlite', path: p.path, table: p.table };
  }

  async snapshot(signal: AbortSignal): Promise<QueueSnapshot | SourceProblem> {
    try {
      const db = await this.open(true);
      try {
        return await this.whileBusy(signal, () => this.read(db));
      } finally {
        db.close();
      }
    } catch (err) {
      return sqliteProblem(err, this.p.path);
    }
  }

  async moveStuck(plan: MovePlan): Promise<MoveOutcome | SourceProblem> {
    try {
      const db = await this.open(false);
      try {
        this.requireColumns(db, true);
        const move = db.transaction(() => this.moveInTransaction(db, plan));
        // IMMEDIATE takes the write lock before reading, so no worker commits between the read and the updates.
        return await this.whileBusy(plan.signal, () => move.immediate());
      } finally {
        db.close();
      }
    } catch (err) {
      return sqliteProblem(err, this.p.path);
    }
  }

  private async open(readonly: boolean): Promise<Database.Database> {
    try {
      await stat(this.p.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new SourceError(`database ${this.p.path} does not exist`, { errorCode: code });
      throw new SourceError(`cannot read database ${this.p.path}: ${code ?? String(err)}`, { errorCode: code ?? null });
    }
    return new Database(this.p.path, { readonly, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  }

  /** Runs `work`, trying again while another connection holds a lock, until the signal fires or BUSY_GIVE_UP_MS passed. */
  private async whileBusy<T>(signal: AbortSignal, work: () => T): Promise<T> {
    const started = Date.now();
    for (;;) {
      try {
        return work();
      } catch (err) {
        if (!isBusy(err)) throw err;
        const waited = Date.now() - started;
        if (waited >= BUSY_GIVE_UP_MS || !(await sleep(BUSY_RETRY_MS, signal)))
          throw new SourceError(`database ${this.p.path} stayed locked by another connection for ${formatDuration(Math.max(waited, 1))}`, {
            errorCode: (err as { code?: string }).code ?? 'SQLITE_BUSY',
            busyForMs: waited,
          });
      }
    }
  }

  /** Fails with the name of what is missing: the table (with the tables there are) or a column (with the columns there are). */
  private requireColumns(db: Database.Database, withRetries: boolean): void {
    const { table } = this.p;
    const columns = (db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as Array<{ name: string }>).map((c) => c.name);
    if (columns.length === 0) {
      const tables = (
        db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 21").all() as Array<{
          name: string;
        }>
      ).map((t) => t.name);
      const there = tables.length === 0 ? 'it has no tables' : `tables there: ${listNames(tables, 20)}`;
      throw new SourceError(`table ${table} not found in ${this.p.path} (${there})`, { missingTable: table, tables: tables.slice(0, 20) });
    }
    const known = new Set(columns.map((c) => c.toLowerCase()));
    const wanted: Array<[string, string]> = [
      ['idColumn', this.p.idColumn],
      ['stateColumn', this.p.stateColumn],
      ['updatedAtColumn', this.p.updatedAtColumn],
    ];
    if (withRetries) wanted.push(['retriesColumn', this.p.retriesColumn]);
    for (const [key, column] of wanted) {
      if (known.has(column.toLowerCase())) continue;
      const hint =
        key === 'retriesColumn'
          ? `requeue-stuck counts retries there and never alters your table: add it (INTEGER NOT NULL DEFAULT 0) or set sqlite.retriesColumn`
          : `set sqlite.${key}`;
      throw new SourceError(`column ${column} not found in table ${table} (columns: ${listNames(columns, 20)}); ${hint}`, {
        missingColumn: column,
        columns: columns.slice(0, 20),
      });
    }
  }

  private read(db: Database.Database): QueueSnapshot {
    this.requireColumns(db, false);
    const { table, idColumn, stateColumn, updatedAtColumn } = this.p;
    const counts = db.prepare(`SELECT ${quote(stateColumn)} AS state, count(*) AS n FROM ${quote(table)} GROUP BY ${quote(stateColumn)}`).all() as Array<{
      state: unknown;
      n: number;
    }>;
    const snapshot: QueueSnapshot = { ready: 0, doing: 0, failed: 0, other: 0, doingTasks: [], doingCut: false, unreadable: 0, unreadableFiles: [] };
    for (const { state, n } of counts) snapshot[this.roleOf(state)] += n;
    const rows = db
      .prepare(`SELECT ${quote(idColumn)} AS id, ${quote(updatedAtColumn)} AS updatedAt FROM ${quote(table)} WHERE ${quote(stateColumn)} = ? LIMIT ?`)
      .all(this.states.doing, MAX_TASKS_PER_RUN + 1) as Array<{ id: unknown; updatedAt: unknown }>;
    snapshot.doingCut = rows.length > MAX_TASKS_PER_RUN;
    snapshot.doingTasks = rows
      .slice(0, MAX_TASKS_PER_RUN)
      .map((row) => ({ id: idText(row.id), updatedAtMs: readTime(row.updatedAt, this.timeZone)?.ms ?? null }));
    return snapshot;
  }

  private roleOf(state: unknown): 'ready' | 'doing' | 'failed' | 'other' {
    if (state === this.states.ready) return 'ready';
    if (state === this.states.doing) return 'doing';
    if (state === this.states.failed) return 'failed';
    return 'other';
  }

  private moveInTransaction(db: Database.Database, plan: MovePlan): MoveOutcome {
    const { table, idColumn, stateColumn, updatedAtColumn, retriesColumn } = this.p;
    const doing = db
      .prepare(
        `SELECT ${quote(idColumn)} AS id, ${quote(updatedAtColumn)} AS updatedAt, ${quote(retriesColumn)} AS retries FROM ${quote(table)} WHERE ${quote(stateColumn)} = ? LIMIT ?`,
      )
      .all(this.states.doing, MAX_TASKS_PER_RUN) as Array<{ id: unknown; updatedAt: unknown; retries: unknown }>;
    // Only a row still in doing with the very updated-at that was judged is changed: a worker's write always wins.
    const update = db.prepare(
      `UPDATE ${quote(table)} SET ${quote(stateColumn)} = ?, ${quote(retriesColumn)} = ?, ${quote(updatedAtColumn)} = ? ` +
        `WHERE ${quote(idColumn)} IS ? AND ${quote(stateColumn)} = ? AND ${quote(updatedAtColumn)} IS ?`,
    );
    const outcome: MoveOutcome = { moved: [], changedMeanwhile: [], notMoved: [], unreadable: 0, aborted: false };
    for (const row of doing) {
      const time = readTime(row.updatedAt, this.timeZone);
      const task = { id: idText(row.id), updatedAtMs: time?.ms ?? null };
      if (!time || !isStuck(task, plan.now, plan.stuckAfterMs)) continue;
      const next = nextMove(readRetries(row.retries), plan.maxRetries);
      const state = next.to === 'ready' ? this.states.ready : this.states.failed;
      try {
        const changes = update.run(state, next.retries, writeTimeLike(time.shape, plan.now, this.timeZone), row.id, this.states.doing, row.updatedAt).changes;
        if (changes === 0) outcome.changedMeanwhile.push(task.id);
        else outcome.moved.push({ id: task.id, to: next.to, retries: next.retries, stuckForMs: ageOf(task, plan.now)! });
      } catch (err) {
        // A trigger or CHECK constraint of the pipeline refused this row; the others still move.
        if (isBusy(err)) throw err;
        outcome.notMoved.push({ id: task.id, reason: clipAtWord(err instanceof Error ? err.message : String(err), 200) });
      }
    }
    return outcome;
  }
}

function listNames(names: string[], max: number): string {
  return names.length > max ? `${names.slice(0, max).join(', ')}, …` : names.join(', ');
}

// ---------------------------------------------------------------------------------------------------------------
// Folder of JSON files

interface TaskFile {
  fileName: string;
  path: string;
  /** The file's text as read, compared again before it is replaced. */
  text: string;
  mtimeMs: number;
  mode: number;
  task: Record<string, unknown>;
  id: string;
  state: string;
  /** The updated-at field as read; undefined when the file's mtime stands in for it. */
  updatedAt: ReadTime | undefined;
  usesMtime: boolean;
}

type FileRead = TaskFile | { fileName: string; unreadable: string };

class FolderTasks implements TaskSource {
  readonly name: string;
  readonly evidence: Record<string, unknown>;

  constructor(
    private readonly p: FolderSourceParams,
    private readonly states: StateNames,
    private readonly timeZone: TimeZone,
  ) {
    this.name = `folder:${p.path}`;
    this.evidence = { source: 'folder', path: p.path };
  }

  async snapshot(signal: AbortSignal): Promise<QueueSnapshot | SourceProblem> {
    const listed = await this.list();
    if (isProblem(listed)) return listed;
    const snapshot: QueueSnapshot = {
      ready: 0,
      doing: 0,
      failed: 0,
      other: 0,
      doingTasks: [],
      doingCut: false,
      unreadable: 0,
      unreadableFiles: [],
      files: { total: listed.length, read: 0 },
    };
    const names = listed.slice(0, MAX_TASKS_PER_RUN);
    for (let start = 0; start < names.length; start += READ_CONCURRENCY) {
      if (signal.aborted)
        return { problem: `aborted after reading ${start} of ${names.length} task files in ${this.p.path}`, details: { ...this.evidence, filesRead: start } };
      const reads = await Promise.all(names.slice(start, start + READ_CONCURRENCY).map((name) => this.readTask(name)));
      for (const read of reads) {
        if (!('task' in read)) {
          // Gone between the listing and the read: a worker moved or finished it, which is no fault of the file.
          if (read.unreadable === 'gone') continue;
          snapshot.unreadable++;
          if (snapshot.unreadableFiles.length < UNREADABLE_NAMED) snapshot.unreadableFiles.push(`${read.fileName}: ${read.unreadable}`);
          continue;
        }
        snapshot.files!.read++;
        const role = this.roleOf(read.state);
        snapshot[role]++;
        if (role === 'doing') snapshot.doingTasks.push({ id: read.id, updatedAtMs: this.updatedAtMs(read) });
      }
    }
    snapshot.files!.read += snapshot.unreadable;
    return snapshot;
  }

  async moveStuck(plan: MovePlan): Promise<MoveOutcome | SourceProblem> {
    const listed = await this.list();
    if (isProblem(listed)) return listed;
    const names = listed.slice(0, MAX_TASKS_PER_RUN);
    const outcome: MoveOutcome = {
      moved: [],
      changedMeanwhile: [],
      notMoved: [],
      unreadable: 0,
      aborted: false,
      files: { total: listed.length, read: 0 },
    };
    for (let start = 0; start < names.length; start += READ_CONCURRENCY) {
      if (plan.signal.aborted) {
        outcome.aborted = true;
        break;
      }
      const reads = await Promise.all(names.slice(start, start + READ_CONCURRENCY).map((name) => this.readTask(name)));
      for (const read of reads) {
        if (!('task' in read)) {
          if (read.unreadable !== 'gone') outcome.unreadable++;
          continue;
        }
        outcome.files!.read++;
        if (read.state !== this.states.doing) continue;
        const task = { id: read.id, updatedAtMs: this.updatedAtMs(read) };
        if (!isStuck(task, plan.now, plan.stuckAfterMs)) continue;
        const next = nextMove(readRetries(read.task[this.p.retriesField]), plan.maxRetries);
        const result = await this.rewrite(read, next, plan.now);
        if (result === 'written') outcome.moved.push({ id: task.id, to: next.to, retries: next.retries, stuckForMs: ageOf(task, plan.now)! });
        else if (result === 'changed') outcome.changedMeanwhile.push(task.id);
        else outcome.notMoved.push({ id: task.id, reason: result.failed });
      }
    }
    outcome.files!.read += outcome.unreadable;
    return outcome;
  }

  /** The *.json names in the folder, sorted (hidden files, such as the heal's own temporary ones, are not tasks). */
  private async list(): Promise<string[] | SourceProblem> {
    try {
      const entries = await readdir(this.p.path, { withFileTypes: true });
      return entries
        .filter((e) => e.isFile() && e.name.endsWith('.json') && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { problem: `folder ${this.p.path} does not exist`, details: { ...this.evidence, errorCode: code } };
      if (code === 'ENOTDIR') return { problem: `${this.p.path} is not a folder`, details: { ...this.evidence, errorCode: code } };
      return { problem: `cannot list ${this.p.path}: ${code ?? String(err)}`, details: { ...this.evidence, errorCode: code ?? null } };
    }
  }

  private async readTask(fileName: string): Promise<FileRead> {
    const path = join(this.p.path, fileName);
    let text: string;
    let info: { mtimeMs: number; mode: number; size: number };
    try {
      const handle = await open(path, 'r');
      try {
        info = await handle.stat();
        if (info.size > MAX_TASK_FILE_BYTES) return { fileName, unreadable: `larger than ${MAX_TASK_FILE_BYTES / 1024 / 1024} MiB` };
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { fileName, unreadable: code === 'ENOENT' ? 'gone' : `cannot read (${code ?? String(err)})` };
    }
    let task: unknown;
    try {
      task = JSON.parse(text);
    } catch {
      return { fileName, unreadable: 'not JSON' };
    }
    if (task === null || typeof task !== 'object' || Array.isArray(task)) return { fileName, unreadable: 'not a JSON object' };
    const fields = task as Record<string, unknown>;
    const state = fields[this.p.stateField];
    if (typeof state !== 'string') return { fileName, unreadable: state === undefined ? `no ${this.p.stateField} field` : `${this.p.stateField} is not text` };
    const rawId = fields[this.p.idField];
    const id = rawId === undefined || rawId === null || rawId === '' ? fileName.slice(0, -'.json'.length) : idText(rawId);
    const rawUpdatedAt = fields[this.p.updatedAtField];
    const usesMtime = rawUpdatedAt === undefined || rawUpdatedAt === null;
    const updatedAt = usesMtime ? undefined : readTime(rawUpdatedAt, this.timeZone);
    return { fileName, path, text, mtimeMs: info.mtimeMs, mode: info.mode, task: fields, id, state, updatedAt, usesMtime };
  }

  private updatedAtMs(file: TaskFile): number | null {
    if (file.usesMtime) return file.mtimeMs;
    return file.updatedAt?.ms ?? null;
  }

  private roleOf(state: string): 'ready' | 'doing' | 'failed' | 'other' {
    if (state === this.states.ready) return 'ready';
    if (state === this.states.doing) return 'doing';
    if (state === this.states.failed) return 'failed';
    return 'other';
  }

  /**
   * Replaces the task file by a copy with the new state, retries and updated-at (every other field as it was),
   * written beside it and renamed over it, so a reader never sees half a file. Only when the file is still
   * exactly what was judged: a worker that wrote it meanwhile wins.
   */
  private async rewrite(file: TaskFile, next: { to: 'ready' | 'failed'; retries: number }, now: number): Promise<'written' | 'changed' | { failed: string }> {
    const updated: Record<string, unknown> = { ...file.task, [this.p.stateField]: next.to === 'ready' ? this.states.ready : this.states.failed };
    updated[this.p.retriesField] = next.retries;
    if (file.updatedAt) updated[this.p.updatedAtField] = writeTimeLike(file.updatedAt.shape, now, this.timeZone);
    const text = serializeLike(file.text, updated);
    const temp = join(this.p.path, `.${file.fileName}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'wx', file.mode & 0o777);
      try {
        await handle.writeFile(text, 'utf8');
        // open()'s mode passes through the umask; the task keeps exactly the permissions it had.
        await handle.chmod(file.mode & 0o7777);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const current = await this.readTask(file.fileName);
      if (!('task' in current) || current.text !== file.text || current.mtimeMs !== file.mtimeMs) {
        await unlink(temp);
        return 'changed';
      }
      await rename(temp, file.path);
      return 'written';
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      return { failed: `cannot write ${file.fileName} (${code ?? String(err)})` };
    }
  }
}

/** JSON laid out as the original was: its indentation (or none) and its final newline. */
function serializeLike(original: string, value: Record<string, unknown>): string {
  const indent = /^\{\s*\n([ \t]+)\S/.exec(original)?.[1];
  const text = indent === undefined ? JSON.stringify(value) : JSON.stringify(value, null, indent);
  return original.endsWith('\n') ? `${text}\n` : text;
}
