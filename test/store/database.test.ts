import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { checkDatabase, openDatabase, readMigrations } from '../../src/store/database.js';
import { DatabaseError, UserError, type DatabaseProblem } from '../../src/errors.js';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from '../helpers/temp.js';

const mode = (path: string) => statSync(path).mode & 0o777;

/** Asserts `fn` throws the DatabaseError of `problem`, naming the file and saying what to do. */
function assertUnusable(fn: () => unknown, file: string, problem: DatabaseProblem, detail: RegExp): DatabaseError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof DatabaseError, `expected a DatabaseError, got ${String(thrown)}`);
  assert.ok(thrown instanceof UserError);
  assert.equal(thrown.code, 'database_unusable');
  assert.equal(thrown.problem, problem);
  assert.equal(thrown.file, file);
  assert.ok(thrown.message.includes(file), thrown.message);
  assert.match(thrown.message, /Restarting will not help/);
  assert.match(thrown.message, /nightshift db check/);
  assert.match(thrown.message, detail);
  return thrown;
}

/** A database at the newest schema, closed (no -wal left). */
function goodDatabase(file: string): void {
  openDatabase(file).close();
}

/** Runs `chattr` on a path; false when the file system or the user cannot (then the test is skipped). */
function chattr(flag: '+i' | '-i', path: string): boolean {
  return spawnSync('chattr', [flag, path], { stdio: 'ignore' }).status === 0;
}

test('random bytes: "not a database", the file named, and nothing written to it', (t) => {
  const file = join(tempDir(t), 'nightshift.db');
  const bytes = randomBytes(8192);
  writeFileSync(file, bytes);
  const err = assertUnusable(() => openDatabase(file), file, 'corrupt', /file is not a database[\s\S]*restore it from a backup[\s\S]*move it aside/i);
  assert.equal((err.cause as { code?: string }).code, 'SQLITE_NOTADB');
  assert.deepEqual(readFileSync(file), bytes);
  assert.equal(existsSync(`${file}-wal`), false);
});

test('a damaged schema page: "malformed" is a DatabaseError, not a crash', (t) => {
  const file = join(tempDir(t), 'nightshift.db');
  goodDatabase(file);
  const bytes = readFileSync(file);
  // Page 1 after the 100-byte header holds sqlite_master: garbage there is SQLITE_CORRUPT on the first statement.
  bytes.fill(0xff, 100, 4096);
  writeFileSync(file, bytes);
  const err = assertUnusable(() => openDatabase(file), file, 'corrupt', /malformed/);
  assert.match(String((err.cause as { code?: string }).code), /^SQLITE_CORRUPT/);
});

test('a directory where the database file should be', (t) => {
  const file = join(tempDir(t), 'nightshift.db');
  mkdirSync(file);
  assertUnusable(() => openDatabase(file), file, 'unreadable', /is a directory/);
});

test('a database from a newer Nightshift is refused and left as it was', (t) => {
  const file = join(tempDir(t), 'nightshift.db');
  const raw = new Database(file);
  raw.exec('CREATE TABLE future (x INTEGER)');
  raw.pragma('user_version = 999');
  raw.close();
  const before = readFileSync(file);
  const known = readMigrations().length;
  assertUnusable(() => openDatabase(file), file, 'newer', new RegExp(`written by a newer Nightshift \\(schema version 999; this one knows up to ${known}\\)`));
  assert.deepEqual(readFileSync(file), before, 'not migrated, not switched to WAL');
});

test('read-only for real: an immutable database file (chattr +i) is refused before anything else', (t) => {
  const file = join(tempDir(t), 'nightshift.db');
  goodDatabase(file);
  if (!chattr('+i', file)) return t.skip('chattr +i is not available here');
  try {
    // SQLite opens the file read-only without a word; only the first write says SQLITE_READONLY.
    const err = assertUnusable(() => openDatabase(file), file, 'read-only', /the file is not writable \(EPERM\)[\s\S]*lsattr/);
    assert.match(String((err.cause as { code?: string }).code), /^SQLITE_READONLY/);
  } finally {
    chattr('-i', file);
  }
});

test('read-only for real: the folder is immutable, so the -wal file cannot be created', (t) => {
  const folder = join(tempDir(t), 'data');
  mkdirSync(folder);
  const file = join(folder, 'nightshift.db');
  goodDatabase(file);
  if (!chattr('+i', folder)) return t.skip('chattr +i is not available here');
  try {
    assertUnusable(() => openDatabase(file), file, 'read-only', new RegExp(`its folder ${folder} is not writable`));
    const fresh = join(folder, 'other.db');
    assertUnusable(() => openDatabase(fresh), fresh, 'read-only', /cannot be created/);
  } finally {
    chattr('-i', folder);
  }
});

/**
 * Opens `files` with openDatabase as a user who does not own them (nobody
 * when the tests run as root, this user otherwise) and gives back what each
 * threw: { problem, message, causeCode } or 'ok'.
 */
function openAsOtherUser(t: TestContext, dir: string, files: string[]): Array<Record<string, string> | 'ok'> {
  const script = join(dir, 'open.mjs');
  writeFileSync(
    script,
    `const { openDatabase } = await import(${JSON.stringify(join(packageRoot, 'src/store/database.ts'))});
const results = [];
for (const file of ${JSON.stringify(files)}) {
  try { openDatabase(file).close(); results.push('ok'); }
  catch (err) { results.push({ name: err.name, problem: err.problem, message: err.message, causeCode: String(err.cause?.code) }); }
}
process.stdout.write(JSON.stringify(results));
`,
  );
  const root = process.getuid?.() === 0;
  if (root) chmodSync(dir, 0o755);
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], {
    cwd: packageRoot,
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
    ...(root ? { uid: 65534, gid: 65534 } : {}),
  });
  if (child.status !== 0) t.diagnostic(child.stderr);
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as Array<Record<string, string> | 'ok'>;
}

test('as a user without write access: a read-only database file and one it cannot read at all', (t) => {
  const dir = tempDir(t);
  const readOnlyFile = join(dir, 'read-only.db');
  const unreadableFile = join(dir, 'unreadable.db');
  goodDatabase(readOnlyFile);
  goodDatabase(unreadableFile);
  // Root: the files stay root's and the child runs as nobody. Another user: the child runs as the owner, who lacks the bits.
  chmodSync(readOnlyFile, process.getuid?.() === 0 ? 0o644 : 0o400);
  chmodSync(unreadableFile, process.getuid?.() === 0 ? 0o600 : 0o000);
  const [readOnly, unreadable] = openAsOtherUser(t, dir, [readOnlyFile, unreadableFile]);
  assert.notEqual(readOnly, 'ok');
  assert.notEqual(unreadable, 'ok');
  const ro = readOnly as Record<string, string>;
  assert.equal(ro.name, 'DatabaseError');
  assert.equal(ro.problem, 'read-only');
  assert.match(ro.causeCode!, /^SQLITE_READONLY/);
  assert.ok(ro.message!.includes(readOnlyFile));
  assert.match(ro.message!, /the file is not writable \(EACCES\)/);
  const ur = unreadable as Record<string, string>;
  assert.equal(ur.name, 'DatabaseError');
  assert.equal(ur.problem, 'unreadable');
  assert.match(ur.causeCode!, /^SQLITE_CANTOPEN/);
  assert.ok(ur.message!.includes(unreadableFile));
  assert.match(ur.message!, /the file cannot be read \(EACCES\)/);
});

test('a fresh database and its -wal and -shm files are mode 0600', (t) => {
  // The usual umask: without Nightshift's own create, SQLite would make the file 0644.
  const previous = process.umask(0o022);
  t.after(() => process.umask(previous));
  const file = join(tempDir(t), 'nightshift.db');
  const db = openDatabase(file);
  t.after(() => db.close());
  db.prepare("INSERT INTO kv (key, value) VALUES ('k', 'v')").run();
  assert.ok(existsSync(`${file}-wal`));
  assert.equal(mode(file), 0o600);
  assert.equal(mode(`${file}-wal`), 0o600);
  assert.equal(mode(`${file}-shm`), 0o600);
});

test('an existing 0644 database, with its -wal and -shm, is tightened to 0600 when opened', (t) => {
  const file = join(tempDir(t), 'nightshift.db');
  goodDatabase(file);
  // A second connection keeps the -wal and -shm files in place while openDatabase runs.
  const other = new Database(file);
  t.after(() => other.close());
  other.prepare("INSERT INTO kv (key, value) VALUES ('k', 'v')").run();
  for (const path of [file, `${file}-wal`, `${file}-shm`]) chmodSync(path, 0o644);
  const db = openDatabase(file);
  t.after(() => db.close());
  assert.equal(mode(file), 0o600);
  assert.equal(mode(`${file}-wal`), 0o600);
  assert.equal(mode(`${file}-shm`), 0o600);
});

test('checkDatabase: a good file, a damaged data page found by integrity_check, and no file', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'nightshift.db');
  goodDatabase(file);
  const good = checkDatabase(file);
  assert.notEqual(good, 'missing');
  if (good === 'missing') return;
  assert.equal(good.problem, undefined);
  assert.deepEqual(good.integrity, ['ok']);
  assert.equal(good.schemaVersion, readMigrations().length);
  assert.equal(good.knownVersion, readMigrations().length);
  assert.equal(good.mode, 0o600);

  // Fill a table over many pages, then scribble on one of its pages: the schema still loads, integrity_check finds it.
  const damagedFile = join(dir, 'damaged.db');
  const raw = new Database(damagedFile);
  raw.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT)');
  const insert = raw.prepare('INSERT INTO filler (text) VALUES (?)');
  raw.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${'x'.repeat(100)}`);
  })();
  raw.close();
  const bytes = readFileSync(damagedFile);
  const pageSize = bytes.readUInt16BE(16);
  bytes.fill(0x55, pageSize * 20 + 8, pageSize * 21);
  writeFileSync(damagedFile, bytes);
  const damaged = checkDatabase(damagedFile);
  assert.notEqual(damaged, 'missing');
  if (damaged === 'missing') return;
  assert.ok(damaged.problem instanceof DatabaseError);
  assert.equal(damaged.problem.problem, 'corrupt');
  assert.ok(damaged.problem.message.includes(damagedFile));

  assert.equal(checkDatabase(join(dir, 'none.db')), 'missing');
});
