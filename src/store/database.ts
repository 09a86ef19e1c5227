import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MigrationError } from '../errors.js';
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
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, readMigrations(options.migrationsDir));
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
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
