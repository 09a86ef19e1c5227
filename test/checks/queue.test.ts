import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { queueCheck } from '../../src/checks/queue.js';
import type { CheckResult } from '../../src/checks/types.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';
import { startSqliteWorker } from '../fakes/queue/worker.js';

const NOW = Date.parse('2025-03-14T03:00:00.000Z');
const MIN = 60_000;

function runQueue(t: TestContext, params: Record<string, unknown>, now = NOW, signal = new AbortController().signal): Promise<CheckResult> {
  const probe = queueCheck.create(queueCheck.params.parse(params), testCheckEnv({ dataDir: tempDir(t), checkName: 'pipeline' }).env);
  return probe.run({ signal, now: () => now });
}

/** A task table as agent pipelines keep one, written with better-sqlite3 like theirs. */
function taskDb(dir: string, rows: Array<[id: string, status: string, updatedAt: unknown, retries?: number]>, name = 'tasks.db'): string {
  const path = join(dir, name);
  const db = new Database(path);
  db.exec('CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at, retries INTEGER NOT NULL DEFAULT 0, payload TEXT)');
  const insert = db.prepare('INSERT INTO tasks (id, status, updated_at, retries, payload) VALUES (?, ?, ?, ?, ?)');
  for (const [id, status, updatedAt, retries] of rows) insert.run(id, status, updatedAt, retries ?? 0, `{"prompt":"task ${id}"}`);
  db.close();
  return path;
}

const readyRows = (n: number, prefix = 'r') => Array.from({ length: n }, (_, i): [string, string, unknown] => [`${prefix}-${i}`, 'todo', NOW / 1000 - 60]);

test('queue: a healthy queue reports its counts and the oldest doing task', async (t) => {
  const path = taskDb(tempDir(t), [...readyRows(12), ['t-1', 'doing', (NOW - 3 * MIN) / 1000], ['t-2', 'doing', NOW - MIN], ['t-3', 'done', NOW - 90 * MIN]]);
  const result = await runQueue(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m', maxDepth: 100, maxDoing: 6 });
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, '12 ready, 2 doing, oldest doing 3m');
  assert.deepEqual([result.details!.ready, result.details!.doing, result.details!.failed, result.details!.other, result.details!.total], [12, 2, 0, 1, 15]);
  assert.equal(result.details!.oldestDoingMs, 3 * MIN);
  assert.deepEqual(result.details!.stuckIds, []);
});

test('queue: more ready tasks than maxDepth fails', async (t) => {
  const path = taskDb(tempDir(t), readyRows(120));
  const failing = await runQueue(t, { sqlite: { path, table: 'tasks' }, maxDepth: 100 });
  assert.equal(failing.ok, false);
  assert.equal(failing.message, '120 ready (max 100)');
  const atTheLimit = await runQueue(t, { sqlite: { path, table: 'tasks' }, maxDepth: 120 });
  assert.equal(atTheLimit.ok, true, atTheLimit.message);
  assert.equal(atTheLimit.message, '120 ready, 0 doing');
});

test('queue: stuck tasks are found whatever form their updated-at takes', async (t) => {
  const twoHours4m = NOW - (2 * 60 + 4) * MIN;
  const stale = NOW - 45 * MIN;
  const fresh = NOW - 10 * MIN;
  const path = taskDb(tempDir(t), [
    ['t-17', 'doing', Math.floor(twoHours4m / 1000)], // unix seconds
    ['t-secs-float', 'doing', stale / 1000 + 0.25], // Python's time.time()
    ['t-ms', 'doing', stale], // Date.now()
    ['t-secs-text', 'doing', String(Math.floor(stale / 1000))],
    ['t-iso-z', 'doing', new Date(stale).toISOString()],
    ['t-iso-offset', 'doing', '2025-03-14T04:15:00+02:00'], // 02:15Z: 45m old
    ['t-sqlite-text', 'doing', '2025-03-14 02:15:00'], // datetime('now'): UTC without a zone
    ['t-micro', 'doing', '2025-03-14T02:15:00.123456'], // Python's naive isoformat()
    ['t-fresh-secs', 'doing', fresh / 1000],
    ['t-fresh-iso', 'doing', new Date(fresh).toISOString()],
    ['t-fresh-text', 'doing', '2025-03-14 02:50:00'],
    ['t-undated', 'doing', null],
    ['t-garbage', 'doing', 'last tuesday'],
  ]);
  const result = await runQueue(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' });
  assert.equal(result.ok, false);
  assert.equal(result.message, '8 tasks stuck in doing for over 30m (oldest t-17: 2h 4m); 2 doing without a readable updated-at');
  const stuckIds = result.details!.stuckIds as string[];
  assert.equal(stuckIds[0], 't-17');
  assert.deepEqual([...stuckIds].sort(), ['t-17', 't-iso-offset', 't-iso-z', 't-micro', 't-ms', 't-secs-float', 't-secs-text', 't-sqlite-text'].sort());
  assert.equal(result.details!.oldestStuckMs, (2 * 60 + 4) * MIN);
  assert.equal(result.details!.undatedDoing, 2);
});

test('queue: timeZone local reads zoneless text in the machine zone', async (t) => {
  const previous = process.env.TZ;
  process.env.TZ = 'Asia/Kolkata'; // UTC+05:30, no daylight saving
  t.after(() => (previous === undefined ? delete process.env.TZ : (process.env.TZ = previous)));
  // 07:45 in Kolkata is 02:15Z, 45m before NOW; read as UTC it would lie in the future.
  const path = taskDb(tempDir(t), [['t-1', 'doing', '2025-03-14 07:45:00']]);
  const local = await runQueue(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m', timeZone: 'local' });
  assert.equal(local.message, '1 task stuck in doing for over 30m (oldest t-1: 45m)');
  const utc = await runQueue(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' });
  assert.equal(utc.message, '0 ready, 1 doing, oldest doing 0ms');
});

test('queue: more tasks in doing than maxDoing fails, and the worst finding comes first', async (t) => {
  const doing = Array.from({ length: 8 }, (_, i): [string, string, unknown] => [`d-${i}`, 'doing', NOW - MIN]);
  const dir = tempDir(t);
  const capOnly = taskDb(dir, doing, 'cap.db');
  const cap = await runQueue(t, { sqlite: { path: capOnly, table: 'tasks' }, maxDoing: 6 });
  assert.equal(cap.ok, false);
  assert.equal(cap.message, '8 doing (max 6)');

  const all = taskDb(dir, [...doing, ['t-9', 'doing', NOW - 6 * 60 * MIN], ...readyRows(120)], 'all.db');
  const worst = await runQueue(t, { sqlite: { path: all, table: 'tasks' }, maxDoing: 6, maxDepth: 100, stuckAfter: '30m' });
  assert.equal(worst.message, '1 task stuck in doing for over 30m (oldest t-9: 6h); 9 doing (max 6); 120 ready (max 100)');
});

test('queue: custom table, column and state names are used as mapped', async (t) => {
  const path = join(tempDir(t), 'pipeline.db');
  const db = new Database(path);
  db.exec('CREATE TABLE "Jobs" (job_id INTEGER PRIMARY KEY, "order" INTEGER, state TEXT, changed TEXT)');
  const insert = db.prepare('INSERT INTO "Jobs" (job_id, state, changed) VALUES (?, ?, ?)');
  insert.run(332, 'in_progress', new Date(NOW - 7 * 60 * MIN).toISOString());
  insert.run(333, 'assigned', null);
  insert.run(334, 'error', null);
  db.close();
  const result = await runQueue(t, {
    sqlite: { path, table: 'Jobs', idColumn: 'job_id', stateColumn: 'state', updatedAtColumn: 'changed' },
    states: { ready: 'assigned', doing: 'in_progress', failed: 'error' },
    stuckAfter: '30m',
  });
  assert.equal(result.message, '1 task stuck in doing for over 30m (oldest 332: 7h)');
  assert.deepEqual([result.details!.ready, result.details!.doing, result.details!.failed], [1, 1, 1]);
});

test('queue: a missing database, table or column fails with a message naming it', async (t) => {
  const dir = tempDir(t);
  const missing = await runQueue(t, { sqlite: { path: join(dir, 'nope.db'), table: 'tasks' }, maxDepth: 1 });
  assert.deepEqual([missing.ok, missing.message], [false, `database ${join(dir, 'nope.db')} does not exist`]);

  const path = join(dir, 'other.db');
  const db = new Database(path);
  db.exec('CREATE TABLE jobs (id TEXT, state TEXT, ts INTEGER); CREATE TABLE runs (id TEXT)');
  db.close();
  const noTable = await runQueue(t, { sqlite: { path, table: 'tasks' }, maxDepth: 1 });
  assert.equal(noTable.ok, false);
  assert.equal(noTable.message, `table tasks not found in ${path} (tables there: jobs, runs)`);
  assert.equal(noTable.details!.missingTable, 'tasks');

  const noColumn = await runQueue(t, { sqlite: { path, table: 'jobs', stateColumn: 'state' }, maxDepth: 1 });
  assert.equal(noColumn.ok, false);
  assert.equal(noColumn.message, 'column updated_at not found in table jobs (columns: id, state, ts); set sqlite.updatedAtColumn');
  assert.equal(noColumn.details!.missingColumn, 'updated_at');

  const text = join(dir, 'notes.db');
  writeFileSync(text, 'these are notes, not a database\n'.repeat(40));
  const notDb = await runQueue(t, { sqlite: { path: text, table: 'tasks' }, maxDepth: 1 });
  assert.deepEqual([notDb.ok, notDb.message], [false, `${text} is not a SQLite database`]);
});

test('queue: the check never writes to the database', async (t) => {
  const path = taskDb(tempDir(t), [['t-1', 'doing', NOW - 60 * MIN]]);
  const result = await runQueue(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' });
  assert.equal(result.ok, false);
  const db = new Database(path, { readonly: true });
  assert.deepEqual(db.prepare('SELECT status, updated_at AS updatedAt FROM tasks').all(), [{ status: 'doing', updatedAt: NOW - 60 * MIN }]);
  db.close();
});

test('queue: a worker holding the database open in WAL mode is read while it writes', async (t) => {
  const path = join(tempDir(t), 'live.db');
  const worker = await startSqliteWorker(t, path);
  assert.equal(worker.journalMode, 'wal');
  await worker.exec('CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT, updated_at INTEGER, retries INTEGER DEFAULT 0)');
  await worker.exec("INSERT INTO tasks (id, status, updated_at) VALUES ('t-1', 'doing', ?), ('t-2', 'todo', ?)", Date.now() - 40 * MIN, Date.now());
  const params = { sqlite: { path, table: 'tasks' }, stuckAfter: '30m', maxDepth: 10 };

  const stuck = await runQueue(t, params, Date.now());
  assert.equal(stuck.ok, false);
  assert.match(stuck.message, /^1 task stuck in doing for over 30m \(oldest t-1: 40m\)$/);

  // The worker finishes t-1 and keeps the write lock while the check runs: WAL readers are not held up.
  await worker.exec("UPDATE tasks SET status = 'done', updated_at = ? WHERE id = 't-1'", Date.now());
  const { released } = await worker.hold(1_500);
  const started = Date.now();
  const during = await runQueue(t, params, Date.now());
  assert.ok(Date.now() - started < 750, 'the read did not wait for the writer');
  assert.equal(during.ok, true, during.message);
  assert.equal(during.message, '1 ready, 0 doing');
  await released;
});

test('queue: a folder of JSON task files, with unreadable files counted, not fatal', async (t) => {
  const dir = join(tempDir(t), 'queue');
  mkdirSync(dir);
  const write = (name: string, task: unknown) => writeFileSync(join(dir, name), typeof task === 'string' ? task : JSON.stringify(task, null, 2));
  write('a.json', { id: 't-17', status: 'doing', updated_at: new Date(NOW - (2 * 60 + 4) * MIN).toISOString() });
  write('b.json', { id: 't-20', status: 'doing', updated_at: Math.floor((NOW - 50 * MIN) / 1000) });
  write('c.json', { status: 'doing' }); // no updated_at: the file's mtime, 3h ago; no id: the file name
  utimesSync(join(dir, 'c.json'), (NOW - 3 * 60 * MIN) / 1000, (NOW - 3 * 60 * MIN) / 1000);
  write('d.json', { id: 't-22', status: 'doing', updated_at: NOW - 5 * MIN });
  write('e.json', { id: 't-23', status: 'todo' });
  write('f.json', { id: 't-24', status: 'failed' });
  write('broken.json', '{"id": "t-25", "status": "doi');
  write('nostate.json', { id: 't-26', state: 'doing' });
  write('notes.txt', 'not a task');
  write('.hidden.json', { id: 'x', status: 'doing', updated_at: 1 });
  mkdirSync(join(dir, 'archive.json'));

  const result = await runQueue(t, { folder: { path: dir }, stuckAfter: '30m', maxDoing: 10 });
  assert.equal(result.ok, false);
  assert.equal(result.message, '3 tasks stuck in doing for over 30m (oldest c: 3h); 2 unreadable task files');
  assert.deepEqual(result.details!.stuckIds, ['c', 't-17', 't-20']);
  assert.deepEqual([result.details!.ready, result.details!.doing, result.details!.failed], [1, 4, 1]);
  assert.equal(result.details!.unreadable, 2);
  assert.deepEqual(result.details!.unreadableFiles, ['broken.json: not JSON', 'nostate.json: no status field']);
  assert.deepEqual(result.details!.files, { total: 8, read: 8 });
});

test('queue: a folder read stops at 10,000 files and says so', async (t) => {
  const dir = join(tempDir(t), 'flood');
  mkdirSync(dir);
  for (let i = 0; i < 10_001; i++) writeFileSync(join(dir, `${String(i).padStart(5, '0')}.json`), `{"id":"t-${i}","status":"todo"}`);
  const result = await runQueue(t, { folder: { path: dir }, maxDepth: 500 });
  assert.equal(result.ok, false);
  assert.equal(result.message, '10000 ready (max 500); read 10000 of 10001 task files');
});

test('queue: a missing folder fails with its name; an aborted read says where it stopped', async (t) => {
  const dir = tempDir(t);
  const missing = await runQueue(t, { folder: { path: join(dir, 'gone') }, maxDepth: 1 });
  assert.deepEqual([missing.ok, missing.message], [false, `folder ${join(dir, 'gone')} does not exist`]);
  writeFileSync(join(dir, 'a.json'), '{"status":"todo"}');
  const controller = new AbortController();
  controller.abort();
  const aborted = await runQueue(t, { folder: { path: dir }, maxDepth: 1 }, NOW, controller.signal);
  assert.deepEqual([aborted.ok, aborted.message], [false, `aborted after reading 0 of 1 task files in ${dir}`]);
});

test('queue: bad params are refused with a clear message', () => {
  const refusal = (input: Record<string, unknown>) => {
    const parsed = queueCheck.params.safeParse(input);
    assert.equal(parsed.success, false, `accepted ${JSON.stringify(input)}`);
    return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`.replace(/^: /, ''));
  };
  assert.deepEqual(refusal({ maxDepth: 10 }), ['say where the tasks are: sqlite: { path, table } or folder: { path }']);
  assert.deepEqual(refusal({ sqlite: { path: '/srv/tasks.db', table: 'tasks' }, folder: { path: '/srv/queue' }, maxDepth: 1 }), [
    'set either sqlite or folder, not both',
  ]);
  assert.deepEqual(refusal({ sqlite: { path: '/srv/tasks.db', table: 'tasks' } }), [
    'set at least one limit (maxDepth, stuckAfter or maxDoing): without one the check can never fail',
  ]);
  assert.deepEqual(refusal({ sqlite: { path: '/srv/tasks.db', table: 'tasks; DROP TABLE tasks' }, maxDepth: 1 }), [
    'sqlite.table: expected a plain SQL name: letters, digits and "_", not starting with a digit',
  ]);
  assert.deepEqual(refusal({ sqlite: { path: '/srv/tasks.db', table: 'tasks', stateColumn: 'status"--' }, maxDepth: 1 }), [
    'sqlite.stateColumn: expected a plain SQL name: letters, digits and "_", not starting with a digit',
  ]);
  assert.deepEqual(refusal({ folder: { path: '/srv/queue' }, states: { ready: 'doing' }, maxDepth: 1 }), [
    'states: states ready, doing and failed must be three different names',
  ]);
  assert.deepEqual(refusal({ folder: { path: '/srv/queue' }, stuckAfter: 'half an hour' }), [
    'stuckAfter: expected a duration such as "10s", "5m", "4h" or a number of seconds',
  ]);
  assert.equal(refusal({ folder: { path: '/srv/queue' }, maxDepth: 1, maxDeph: 2 }).length, 1, 'a misspelt key is refused');
  const defaults = queueCheck.params.parse({ sqlite: { path: '/srv/tasks.db', table: 'tasks' }, stuckAfter: '30m' });
  assert.deepEqual(defaults.sqlite, {
    path: '/srv/tasks.db',
    table: 'tasks',
    idColumn: 'id',
    stateColumn: 'status',
    updatedAtColumn: 'updated_at',
    retriesColumn: 'retries',
  });
  assert.deepEqual(defaults.states, { ready: 'todo', doing: 'doing', failed: 'failed' });
  assert.equal(defaults.stuckAfter, 30 * MIN);
});
