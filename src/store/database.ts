import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError, MigrationError, errorMessage } from '../errors.js';
import { migrationsDir as defaultMigrationsDir } from '../paths.js';

export type Db = Database.Database;

export interface Migration {
  version: number;
  /** File name, e.g. 0001_events.sql. */
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;

/** Reads NNNN_name.sql files in version order; a gap or duplicate number is a packaging bug and throws. */
export function readMigrations(dir = defaultMigrationsDir): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => MIGRATION_FILE.test(f))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 4)), name, sql: readFileSync(join(dir, name), 'utf8') }));
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 0001, 0002, ... without gaps; found ${m.name} at position ${i + 1}`);
  });
  return migrations;
}

export interface OpenOptions {
  /** Folder of NNNN_name.sql files; the package's migrations/ by default. */
  migrationsDir?: string;
}

/**
 * Opens (creating if needed) the SQLite database in WAL mode and brings it
 * to the newest schema. Each migration runs in its own transaction together
 * with the bump of PRAGMA user_version, so a failing one leaves the database
 * at the version before it and throws a MigrationError naming it.
 *
 * A file Nightshift cannot use (damaged, unreadable, read-only, or from a
 * newer Nightshift) throws a DatabaseError that names the file and says what
 * to do; it is found before anything is written to the file. The file is
 * created mode 0600 (SQLite gives its -wal and -shm files the same mode), and
 * an existing one readable by group or others is tightened.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const migrations = readMigrations(options.migrationsDir);
  prepareFile(file);
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw classifyDatabaseError(file, err);
  }
  try {
    // Reads first: a damaged file, or one from a newer Nightshift, is refused before anything is written to it.
    const version = schemaVersion(db);
    db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
    if (version > migrations.length) throw newerDatabase(file, version, migrations.length);
    db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    probeWrite(db, version);
    migrate(db, migrations);
    return db;
  } catch (err) {
    db.close();
    throw classifyDatabaseError(file, err);
  }
}

/** What `nightshift db check` found; `problem` is undefined when the database is usable. */
export interface DatabaseReport {
  file: string;
  /** Permission bits (0o600 expected). */
  mode: number;
  schemaVersion: number | undefined;
  /** The highest schema version this Nightshift knows (its number of migrations). */
  knownVersion: number;
  /** integrity_check's lines: ['ok'], or the problems it found; empty when it could not run. */
  integrity: string[];
  problem: DatabaseError | undefined;
}

/**
 * Opens the database read-only and runs `PRAGMA integrity_check`: safe while
 * the bot runs (a WAL reader blocks no writer). 'missing' when there is no
 * file. Errors SQLite gives for an unusable file become `problem`.
 */
export function checkDatabase(file: string, options: OpenOptions = {}): DatabaseReport | 'missing' {
  const knownVersion = readMigrations(options.migrationsDir).length;
  let mode: number;
  try {
    const stats = statSync(file);
    mode = stats.mode & 0o777;
    if (stats.isDirectory()) return { file, mode, schemaVersion: undefined, knownVersion, integrity: [], problem: notAFile(file, 'is a directory') };
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return 'missing';
    throw classifyDatabaseError(file, err);
  }
  const report: DatabaseReport = { file, mode, schemaVersion: undefined, knownVersion, integrity: [], problem: undefined };
  let db: Db | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    report.schemaVersion = schemaVersion(db);
    report.integrity = (db.pragma('integrity_check(100)') as Array<Record<string, unknown>>).map((row) => String(Object.values(row)[0]));
    if (report.integrity.length !== 1 || report.integrity[0] !== 'ok') {
      const count = report.integrity.length;
      report.problem = damaged(
        file,
        `integrity_check found ${count}${count === 100 ? ' or more' : ''} problem${count === 1 ? '' : 's'} (first: ${report.integrity[0]})`,
      );
    } else if (report.schemaVersion > knownVersion) {
      report.problem = newerDatabase(file, report.schemaVersion, knownVersion);
    } else {
      // The same question start asks: can this user write the file, its -wal/-shm and its folder?
      report.problem = fileSystemProblem(file);
    }
  } catch (err) {
    const classified = classifyDatabaseError(file, err);
    if (!(classified instanceof DatabaseError)) throw classified;
    report.problem = classified;
  } finally {
    db?.close();
  }
  return report;
}

/**
 * Turns what SQLite or the file system threw about the database file into a
 * DatabaseError; anything else (and a MigrationError) is given back as is.
 */
export function classifyDatabaseError(file: string, err: unknown): unknown {
  if (err instanceof DatabaseError || err instanceof MigrationError) return err;
  const code = codeOf(err) ?? '';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return damaged(file, errorMessage(err), err);
  const fsCodes = ['EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENOTDIR'];
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || fsCodes.includes(code)) {
    // SQLite says only "unable to open" or "readonly": find out whether the file, its side files or its folder is the cause.
    const found = fileSystemProblem(file, err);
    if (found) return found;
    if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return readOnly(file, errorMessage(err), err);
    return unreadable(file, errorMessage(err), err);
  }
  return err;
}

/** Creates the file mode 0600, or tightens an existing one; refuses a path that is not a file. */
function prepareFile(file: string): void {
  // In-memory and temporary databases have no file.
  if (file === ':memory:' || file === '') return;
  let stats;
  try {
    stats = statSync(file);
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw classifyDatabaseError(file, err);
    try {
      // Created here rather than by SQLite, whose files get mode 0644: the store holds the audit trail and chat state.
      closeSync(openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600));
    } catch (createErr) {
      if (codeOf(createErr) !== 'EEXIST') throw fileSystemProblem(file, createErr) ?? classifyDatabaseError(file, createErr);
    }
    return;
  }
  if (stats.isDirectory()) throw notAFile(file, 'is a directory');
  if (!stats.isFile()) throw notAFile(file, 'is not a regular file');
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const mode = statSync(path).mode & 0o777;
      // Only group and other bits go: a file made read-only on purpose stays read-only (and is reported as such).
      if (mode & 0o077) chmodSync(path, mode & 0o700);
    } catch {
      // Missing side file, or not ours to chmod (another owner, immutable): the write probe tells what matters.
    }
  }
}

/** A write that is rolled back: SQLite opens a file it may not write read-only and says so only on the first write. */
function probeWrite(db: Db, version: number): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.pragma(`user_version = ${version}`);
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}

/** Why this process cannot use the file, as the file system sees it; undefined when it sees nothing wrong. */
function fileSystemProblem(file: string, cause?: unknown): DatabaseError | undefined {
  const folder = dirname(file);
  let stats;
  try {
    stats = statSync(file);
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') return unreadable(file, `cannot look at it: ${errorMessage(err)}`, cause ?? err);
    const folderDenied = denied(folder, constants.W_OK);
    if (folderDenied === 'ENOENT') return unreadable(file, `its folder ${folder} does not exist`, cause);
    return folderDenied ? readOnly(file, `its folder ${folder} is not writable (${folderDenied}), so the file cannot be created`, cause) : undefined;
  }
  if (stats.isDirectory()) return notAFile(file, 'is a directory', cause);
  const unreadableBy = denied(file, constants.R_OK);
  if (unreadableBy) return unreadable(file, `the file cannot be read (${unreadableBy})`, cause);
  const notWritable = denied(file, constants.W_OK);
  if (notWritable) return readOnly(file, `the file is not writable (${notWritable})`, cause);
  for (const side of [`${file}-wal`, `${file}-shm`]) {
    const sideDenied = denied(side, constants.R_OK | constants.W_OK);
    if (sideDenied && sideDenied !== 'ENOENT') return readOnly(file, `${side} is not writable (${sideDenied})`, cause);
  }
  const folderDenied = denied(folder, constants.W_OK);
  if (folderDenied) return readOnly(file, `its folder ${folder} is not writable (${folderDenied}); SQLite creates the -wal and -shm files there`, cause);
  return undefined;
}

/** The error code access() gives, or undefined when access is granted. */
function denied(path: string, mode: number): string | undefined {
  try {
    accessSync(path, mode);
    return undefined;
  } catch (err) {
    return codeOf(err) ?? errorMessage(err);
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const CHECK = 'run `nightshift db check` to see what is wrong';

function moveAside(file: string): string {
  return `move it aside (mv ${file} ${file}.broken, and its -wal and -shm files if any): Nightshift then starts with a new, empty database`;
}

function user(): string {
  return process.getuid ? `uid ${process.getuid()}` : 'this user';
}

function damaged(file: string, detail: string, cause?: unknown): DatabaseError {
  return new DatabaseError(
    file,
    'corrupt',
    `the database ${file} is damaged or not a database (${detail})`,
    `Restarting will not help. Restore it from a backup, or ${CHECK}, or ${moveAside(file)}.`,
    cause,
  );
}

function unreadable(file: string, detail: string, cause?: unknown): DatabaseError {
  return new DatabaseError(
    file,
    'unreadable',
    `cannot open the database ${file}: ${detail}`,
    `Restarting will not help. Give the user Nightshift runs as (${user()}) read and write access to the file and its folder, or restore it from a backup, or ${moveAside(file)}; ${CHECK}.`,
    cause,
  );
}

function notAFile(file: string, what: string, cause?: unknown): DatabaseError {
  return new DatabaseError(
    file,
    'unreadable',
    `cannot open the database ${file}: it ${what}, not a database file`,
    `Restarting will not help. Move it away (or restore the database file from a backup), or point NIGHTSHIFT_DATA_DIR elsewhere: Nightshift then starts with a new, empty database; ${CHECK}.`,
    cause,
  );
}

function readOnly(file: string, detail: string, cause?: unknown): DatabaseError {
  return new DatabaseError(
    file,
    'read-only',
    `the database ${file} is read-only for Nightshift (${user()}): ${detail}`,
    `Restarting will not help. Make the file, its -wal and -shm files and its folder writable for that user: check the owner and mode (ls -l), the immutable flag (lsattr; chattr -i) and a read-only mount; ${CHECK}. Or restore a backup, or ${moveAside(file)}.`,
    cause,
  );
}

function newerDatabase(file: string, version: number, known: number): DatabaseError {
  return new DatabaseError(
    file,
    'newer',
    `the database ${file} was written by a newer Nightshift (schema version ${version}; this one knows up to ${known})`,
    `Restarting will not help. Run the newer Nightshift again (downgrading is not supported), or restore a backup made by this version, or ${moveAside(file)}; ${CHECK}.`,
  );
}

/** Applies every migration newer than the database's user_version, in order. */
export function migrate(db: Db, migrations: Migration[]): void {
  const current = schemaVersion(db);
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    try {
      db.transaction(() => {
        db.exec(migration.sql);
        db.pragma(`user_version = ${migration.version}`);
      })();
    } catch (err) {
      throw new MigrationError(migration.name, err);
    }
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Creates the data directory (mode 0700: it holds tokens' effects and the audit trail). */
export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export const DATABASE_FILE = 'nightshift.db';
