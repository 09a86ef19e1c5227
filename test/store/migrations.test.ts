import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase, readMigrations, schemaVersion } from '../../src/store/database.js';
import { migrationsDir } from '../../src/paths.js';
import { MigrationError } from '../../src/errors.js';
import { EventLog } from '../../src/store/events.js';
import { tempDir } from '../helpers/temp.js';

test('a fresh database goes through every migration, in WAL mode, at the newest version', (t) => {
  const dir = tempDir(t);
  const migrations = readMigrations();
  assert.ok(migrations.length >= 2);
  const db = openDatabase(join(dir, 'n.db'));
  t.after(() => db.close());
  assert.equal(schemaVersion(db), migrations.length);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  for (const table of ['events', 'check_state', 'kv']) assert.ok(tables.includes(table), `missing table ${table}`);
});

test('opening an up-to-date database again applies nothing and keeps the data', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'n.db');
  const first = openDatabase(file);
  new EventLog(first).append(1, 'instance.started', 'nightshift', 'info', { pid: 1, version: 'x', config: 'y', http: 'z' });
  first.close();
  const second = openDatabase(file);
  t.after(() => second.close());
  assert.equal(new EventLog(second).recent().length, 1);
});

test('a failing migration leaves the database at the version before it and names the migration', (t) => {
  const dir = tempDir(t);
  const migrations = join(dir, 'migrations');
  mkdirSync(migrations);
  for (const f of readdirSync(migrationsDir)) copyFileSync(join(migrationsDir, f), join(migrations, f));
  const good = readMigrations().length;
  const broken = `${String(good + 1).padStart(4, '0')}_broken_change.sql`;
  // The first statement succeeds, the second fails: the transaction must undo both.
  writeFileSync(join(migrations, broken), 'CREATE TABLE half_done (x INTEGER);\nALTER TABLE no_such_table ADD COLUMN y TEXT;\n');
  const file = join(dir, 'n.db');
  assert.throws(
    () => openDatabase(file, { migrationsDir: migrations }),
    (err: unknown) => err instanceof MigrationError && err.migration === broken && /no such table/.test(err.message),
  );
  const db = new Database(file, { readonly: true });
  t.after(() => db.close());
  assert.equal(schemaVersion(db), good);
  assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").all(), []);
});

test('events are append-only: an update is refused by the database', (t) => {
  const dir = tempDir(t);
  const db = openDatabase(join(dir, 'n.db'));
  t.after(() => db.close());
  const log = new EventLog(db);
  const id = log.append(1000, 'check.failed', 'worker', 'critical', { kind: 'process', message: 'exit 1', durationMs: 3, consecutiveFailures: 1, exitCode: 1 });
  assert.throws(() => db.prepare('UPDATE events SET subject = ? WHERE id = ?').run('other', id), /append-only/);
  const [row] = log.recent();
  assert.equal(row!.subject, 'worker');
  assert.deepEqual(row!.context, { kind: 'process', message: 'exit 1', durationMs: 3, consecutiveFailures: 1, exitCode: 1 });
});
