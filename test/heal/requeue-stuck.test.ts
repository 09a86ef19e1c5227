import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { queueCheck } from '../../src/checks/queue.js';
import type { CheckConfig, HealResult, Probe } from '../../src/checks/types.js';
import { requeueStuckAction } from '../../src/heal/requeue-stuck.js';
import { testCheckEnv, testHealEnv, type RecordedEvent } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';
import { startSqliteWorker } from '../fakes/queue/worker.js';

const NOW = Date.parse('2025-03-14T03:00:00.000Z');
const MIN = 60_000;

function queueCheckConfig(params: Record<string, unknown>, kind = 'queue'): CheckConfig {
  return {
    name: 'pipeline',
    kind,
    severity: 'critical',
    intervalMs: 60_000,
    timeoutMs: 5_000,
    dependsOn: [],
    failAfter: 1,
    heal: [{ action: 'requeue-stuck', params: {} }],
    cooldownMs: 300_000,
    maxHeals: { count: 3, windowMs: 900_000 },
    retryAfterEscalationMs: 900_000,
    params,
  };
}

/** The heal step bound to a check, and the check itself, as the engine pairs them. */
function healFor(t: TestContext, checkParams: Record<string, unknown>, stepParams: Record<string, unknown> = {}, kind = 'queue') {
  const dataDir = tempDir(t);
  const { env, events } = testHealEnv({ dataDir });
  const step = requeueStuckAction.create(requeueStuckAction.params.parse(stepParams), env);
  const probe = kind === 'queue' ? queueCheck.create(queueCheck.params.parse(checkParams), testCheckEnv({ dataDir, checkName: 'pipeline' }).env) : undefined;
  const target: { check: CheckConfig; probe: Probe } = {
    check: queueCheckConfig(checkParams, kind),
    probe: probe ?? { run: async () => ({ ok: true, message: 'not used' }) },
  };
  const ctx = (now: number) => ({ signal: new AbortController().signal, now: () => now });
  return {
    events,
    heal: (now = NOW): Promise<HealResult> => step.run(target, ctx(now)),
    check: (now = NOW) => target.probe.run(ctx(now)),
  };
}

function taskDb(dir: string, rows: Array<[id: string, status: string, updatedAt: unknown, retries?: number]>): string {
  const path = join(dir, 'tasks.db');
  const db = new Database(path);
  db.exec('CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at, retries INTEGER NOT NULL DEFAULT 0, payload TEXT)');
  const insert = db.prepare('INSERT INTO tasks (id, status, updated_at, retries, payload) VALUES (?, ?, ?, ?, ?)');
  for (const [id, status, updatedAt, retries] of rows) insert.run(id, status, updatedAt, retries ?? 0, `payload of ${id}`);
  db.close();
  return path;
}

function rows(path: string): Array<Record<string, unknown>> {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id, status, updated_at AS updatedAt, retries, payload FROM tasks ORDER BY id').all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

const summary = (events: RecordedEvent[]) => events.map((e) => [e.type, e.severity, e.context.task, e.context.from, e.context.to, e.context.retries]);

test('requeue-stuck: stuck tasks go back to ready with one more retry, one event each; the rest is untouched', async (t) => {
  const path = taskDb(tempDir(t), [
    ['t-17', 'doing', Math.floor((NOW - 2 * 60 * MIN) / 1000)],
    ['t-20', 'doing', new Date(NOW - 45 * MIN).toISOString(), 1],
    ['t-21', 'doing', NOW - 5 * MIN],
    ['t-22', 'todo', NOW - 90 * MIN],
    ['t-23', 'done', NOW - 90 * MIN],
  ]);
  const { heal, check, events } = healFor(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' });
  assert.equal((await check()).message, '2 tasks stuck in doing for over 30m (oldest t-17: 2h)');

  const result = await heal();
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, 'requeued 2 stuck tasks (t-17, t-20)');
  assert.deepEqual(rows(path), [
    // updated_at is written in the form the task had: seconds stay seconds, ISO text stays ISO text.
    { id: 't-17', status: 'todo', updatedAt: NOW / 1000, retries: 1, payload: 'payload of t-17' },
    { id: 't-20', status: 'todo', updatedAt: new Date(NOW).toISOString(), retries: 2, payload: 'payload of t-20' },
    { id: 't-21', status: 'doing', updatedAt: NOW - 5 * MIN, retries: 0, payload: 'payload of t-21' },
    { id: 't-22', status: 'todo', updatedAt: NOW - 90 * MIN, retries: 0, payload: 'payload of t-22' },
    { id: 't-23', status: 'done', updatedAt: NOW - 90 * MIN, retries: 0, payload: 'payload of t-23' },
  ]);
  assert.deepEqual(summary(events), [
    ['task.requeued', 'info', 't-17', 'doing', 'todo', 1],
    ['task.requeued', 'info', 't-20', 'doing', 'todo', 2],
  ]);
  assert.deepEqual(events[0]!.context, { source: `sqlite:${path}#tasks`, task: 't-17', from: 'doing', to: 'todo', retries: 1, stuckForMs: 2 * 60 * MIN });
  assert.equal(events[0]!.subject, 'pipeline');
  assert.equal((await check()).ok, true, 'the check passes after the heal');
});

test('requeue-stuck: a task stuck again after 3 retries is marked failed, freeing the pipeline', async (t) => {
  const path = taskDb(tempDir(t), [['t-9', 'doing', NOW - 60 * MIN]]);
  const { heal, events } = healFor(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' });
  const messages: string[] = [];
  let now = NOW;
  for (let round = 0; round < 4; round++) {
    messages.push((await heal(now)).message);
    // A worker picks the task up again and stalls on it once more.
    now += 2 * 60 * MIN;
    const db = new Database(path);
    db.prepare("UPDATE tasks SET status = 'doing', updated_at = ? WHERE id = 't-9' AND status = 'todo'").run(now - 60 * MIN);
    db.close();
  }
  assert.deepEqual(messages, [
    'requeued 1 stuck task (t-9)',
    'requeued 1 stuck task (t-9)',
    'requeued 1 stuck task (t-9)',
    'gave up on 1 after 3 retries (t-9)',
  ]);
  assert.deepEqual(rows(path)[0], { id: 't-9', status: 'failed', updatedAt: NOW + 3 * 2 * 60 * MIN, retries: 3, payload: 'payload of t-9' });
  assert.deepEqual(summary(events), [
    ['task.requeued', 'info', 't-9', 'doing', 'todo', 1],
    ['task.requeued', 'info', 't-9', 'doing', 'todo', 2],
    ['task.requeued', 'info', 't-9', 'doing', 'todo', 3],
    ['task.gave_up', 'warning', 't-9', 'doing', 'failed', 3],
  ]);
});

test('requeue-stuck: requeues and give-ups in one run; running it again changes nothing more', async (t) => {
  const path = taskDb(tempDir(t), [
    ['t-17', 'doing', NOW - 50 * MIN, 0],
    ['t-20', 'doing', NOW - 40 * MIN, 2],
    ['t-9', 'doing', NOW - 7 * 60 * MIN, 3],
  ]);
  const { heal, events } = healFor(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' });
  const first = await heal();
  assert.equal(first.message, 'requeued 2 stuck tasks (t-17, t-20), gave up on 1 after 3 retries (t-9)');
  const after = rows(path);
  assert.equal(events.length, 3);
  const again = await heal(NOW + 1_000);
  assert.deepEqual([again.ok, again.message], [true, 'no stuck tasks (none in doing for over 30m)']);
  assert.deepEqual(rows(path), after);
  assert.equal(events.length, 3, 'no event for a task not touched');
});

test('requeue-stuck: a task the worker updated between the check and the heal is left alone', async (t) => {
  const path = join(tempDir(t), 'live.db');
  const worker = await startSqliteWorker(t, path);
  await worker.exec('CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT, updated_at INTEGER, retries INTEGER NOT NULL DEFAULT 0, payload TEXT)');
  const start = Date.now();
  await worker.exec(
    "INSERT INTO tasks (id, status, updated_at) VALUES ('t-1', 'doing', ?), ('t-2', 'doing', ?), ('t-3', 'doing', ?)",
    start - 40 * MIN,
    start - 50 * MIN,
    start - 60 * MIN,
  );
  const { heal, check, events } = healFor(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' });
  assert.equal((await check(start)).details!.stuck, 3);

  // Between the check and the heal, the worker finishes t-1 and reports progress on t-2.
  await worker.exec("UPDATE tasks SET status = 'done', updated_at = ? WHERE id = 't-1'", start);
  await worker.exec("UPDATE tasks SET updated_at = ? WHERE id = 't-2'", start);
  // ...and is in the middle of a write when the heal starts: the heal waits for the lock instead of failing.
  const { released } = await worker.hold(300);
  const healStarted = Date.now();
  const result = await heal(start);
  assert.ok(Date.now() - healStarted >= 200, 'the heal committed only after the worker let go of the lock');
  await released;
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, 'requeued 1 stuck task (t-3)');
  assert.deepEqual(
    rows(path).map((r) => [r.id, r.status, r.retries]),
    [
      ['t-1', 'done', 0],
      ['t-2', 'doing', 0],
      ['t-3', 'todo', 1],
    ],
  );
  assert.deepEqual(summary(events), [['task.requeued', 'info', 't-3', 'doing', 'todo', 1]]);
  // The worker's own connection sees the heal's write and can go on.
  assert.equal(await worker.exec("UPDATE tasks SET status = 'doing' WHERE id = 't-3' AND status = 'todo'"), 1);
});

test('requeue-stuck: a database locked by a writer past the heal deadline fails saying so, and changes nothing', async (t) => {
  const path = join(tempDir(t), 'live.db');
  const worker = await startSqliteWorker(t, path);
  await worker.exec('CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT, updated_at INTEGER, retries INTEGER NOT NULL DEFAULT 0, payload TEXT)');
  await worker.exec("INSERT INTO tasks (id, status, updated_at) VALUES ('t-1', 'doing', ?)", NOW - 60 * MIN);
  const { released } = await worker.hold(1_500);
  const { env, events } = testHealEnv({ dataDir: tempDir(t) });
  const checkParams = { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' };
  const step = requeueStuckAction.create(requeueStuckAction.params.parse({}), env);
  const target = { check: queueCheckConfig(checkParams), probe: { run: async () => ({ ok: true, message: 'not used' }) } };
  const result = await step.run(target, { signal: AbortSignal.timeout(200), now: () => NOW });
  assert.equal(result.ok, false);
  assert.ok(result.message.startsWith(`database ${path} stayed locked by another connection for `), result.message);
  assert.match(result.message, / for \d+ms$/);
  assert.equal(result.details!.errorCode, 'SQLITE_BUSY');
  await released;
  assert.deepEqual(
    rows(path).map((r) => r.status),
    ['doing'],
  );
  assert.equal(events.length, 0);
});

test('requeue-stuck: a table without the retries column is refused, never altered', async (t) => {
  const path = join(tempDir(t), 'tasks.db');
  const db = new Database(path);
  db.exec("CREATE TABLE tasks (id TEXT, status TEXT, updated_at INTEGER); INSERT INTO tasks VALUES ('t-1', 'doing', 1000)");
  db.close();
  const { heal, events } = healFor(t, { sqlite: { path, table: 'tasks' }, stuckAfter: '30m' });
  const result = await heal();
  assert.equal(result.ok, false);
  assert.equal(
    result.message,
    'column retries not found in table tasks (columns: id, status, updated_at); requeue-stuck counts retries there and never alters your table: add it (INTEGER NOT NULL DEFAULT 0) or set sqlite.retriesColumn',
  );
  const after = new Database(path, { readonly: true });
  assert.deepEqual(
    (after.prepare('SELECT name FROM pragma_table_info(?)').all('tasks') as Array<{ name: string }>).map((c) => c.name),
    ['id', 'status', 'updated_at'],
  );
  assert.deepEqual(after.prepare('SELECT status FROM tasks').all(), [{ status: 'doing' }]);
  after.close();
  assert.equal(events.length, 0);
});

test('requeue-stuck: a target that is not a queue check, or a queue check without stuckAfter, is refused', async (t) => {
  const notQueue = await healFor(t, { url: 'http://127.0.0.1:1/' }, {}, 'http').heal();
  assert.deepEqual([notQueue.ok, notQueue.message], [false, 'requeue-stuck works on queue checks; pipeline is a http check']);
  const noStuckAfter = await healFor(t, { folder: { path: tempDir(t) }, maxDepth: 10 }).heal();
  assert.deepEqual(
    [noStuckAfter.ok, noStuckAfter.message],
    [false, 'the queue check pipeline sets no stuckAfter, so no task counts as stuck; add stuckAfter (e.g. 30m) to it'],
  );
  const refused = requeueStuckAction.params.safeParse({ maxRetries: -1 });
  assert.equal(refused.success, false);
  assert.deepEqual(
    refused.error?.issues.map((issue) => issue.path.join('.')),
    ['maxRetries'],
  );
  assert.equal(requeueStuckAction.params.safeParse({ maxTries: 3 }).success, false, 'a misspelt key is refused');
  assert.deepEqual(requeueStuckAction.params.parse({}), { maxRetries: 3 });
});

test('requeue-stuck: JSON task files are rewritten in place with every other field kept; unreadable files do not stop it', async (t) => {
  const dir = join(tempDir(t), 'queue');
  mkdirSync(dir);
  const file = (name: string) => join(dir, name);
  const t17 = { id: 't-17', status: 'doing', updated_at: new Date(NOW - 2 * 60 * MIN).toISOString(), prompt: 'summarise', meta: { worker: 'w2', tags: ['a'] } };
  writeFileSync(file('t-17.json'), `${JSON.stringify(t17, null, 2)}\n`);
  chmodSync(file('t-17.json'), 0o640);
  const t9 = { status: 'doing', retries: 3, owner: 'logic-executor' }; // no id: named by its file; no updated_at: its mtime
  writeFileSync(file('t-9.json'), JSON.stringify(t9));
  utimesSync(file('t-9.json'), (NOW - 6 * 60 * MIN) / 1000, (NOW - 6 * 60 * MIN) / 1000);
  const fresh = { id: 't-30', status: 'doing', updated_at: Math.floor((NOW - 5 * MIN) / 1000) };
  writeFileSync(file('t-30.json'), JSON.stringify(fresh));
  writeFileSync(file('broken.json'), '{"id": "t-31", "status": "doing", "updated_at": 1');
  writeFileSync(file('t-32.json'), '[1, 2, 3]');
  const { heal, check, events } = healFor(t, { folder: { path: dir }, stuckAfter: '30m' });
  assert.equal((await check()).message, '2 tasks stuck in doing for over 30m (oldest t-9: 6h); 2 unreadable task files');

  const result = await heal();
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, 'requeued 1 stuck task (t-17), gave up on 1 after 3 retries (t-9), 2 unreadable task files skipped');
  assert.equal(
    readFileSync(file('t-17.json'), 'utf8'),
    `${JSON.stringify({ ...t17, status: 'todo', updated_at: new Date(NOW).toISOString(), retries: 1 }, null, 2)}\n`,
  );
  assert.equal(statSync(file('t-17.json')).mode & 0o777, 0o640, 'the task file keeps its permissions');
  assert.deepEqual(JSON.parse(readFileSync(file('t-9.json'), 'utf8')), { status: 'failed', retries: 3, owner: 'logic-executor' });
  assert.ok(statSync(file('t-9.json')).mtimeMs > NOW - 60 * MIN, 'the rewrite itself dates the task when its mtime is its updated-at');
  assert.deepEqual(JSON.parse(readFileSync(file('t-30.json'), 'utf8')), fresh);
  assert.equal(readFileSync(file('broken.json'), 'utf8'), '{"id": "t-31", "status": "doing", "updated_at": 1');
  assert.deepEqual(readdirSync(dir).sort(), ['broken.json', 't-17.json', 't-30.json', 't-32.json', 't-9.json'], 'no temporary file is left behind');
  assert.deepEqual(summary(events), [
    ['task.requeued', 'info', 't-17', 'doing', 'todo', 1],
    ['task.gave_up', 'warning', 't-9', 'doing', 'failed', 3],
  ]);
  assert.equal(events[1]!.context.source, `folder:${dir}`);
  assert.equal(events[1]!.context.stuckForMs, 6 * 60 * MIN);

  const again = await heal(NOW + 1_000);
  assert.equal(again.message, 'no stuck tasks (none in doing for over 30m), 2 unreadable task files skipped');
  assert.equal(events.length, 2);
});

test('requeue-stuck: a JSON task a worker rewrote between the check and the heal is left alone', async (t) => {
  const dir = join(tempDir(t), 'queue');
  mkdirSync(dir);
  const path = join(dir, 't-1.json');
  writeFileSync(path, JSON.stringify({ id: 't-1', status: 'doing', updated_at: NOW - 60 * MIN }));
  writeFileSync(join(dir, 't-2.json'), JSON.stringify({ id: 't-2', status: 'doing', updated_at: NOW - 60 * MIN }));
  const { heal, check, events } = healFor(t, { folder: { path: dir }, stuckAfter: '30m' });
  assert.equal((await check()).details!.stuck, 2);
  const finished = JSON.stringify({ id: 't-1', status: 'done', updated_at: NOW, result: 'ok' });
  writeFileSync(path, finished);
  const result = await heal();
  assert.equal(result.message, 'requeued 1 stuck task (t-2)');
  assert.equal(readFileSync(path, 'utf8'), finished);
  assert.deepEqual(summary(events), [['task.requeued', 'info', 't-2', 'doing', 'todo', 1]]);
});

test('requeue-stuck: a JSON task a worker rewrites while the heal is under way is left alone', async (t) => {
  const dir = join(tempDir(t), 'queue');
  mkdirSync(dir);
  const stuck = (id: string) => JSON.stringify({ id, status: 'doing', updated_at: NOW - 60 * MIN });
  const names = Array.from({ length: 20 }, (_, i) => `t-${String(i).padStart(2, '0')}`);
  for (const id of names) writeFileSync(join(dir, `${id}.json`), stuck(id));
  const last = join(dir, 't-19.json');
  const finished = JSON.stringify({ id: 't-19', status: 'done', updated_at: NOW, result: 'ok' });
  // The worker finishes t-19 as soon as the heal has moved the first task: after the heal read t-19, before it reaches it.
  const watcher = watch(dir, (_event, name) => {
    if (name === 't-00.json' && readFileSync(join(dir, 't-00.json'), 'utf8').includes('"todo"')) {
      watcher.close();
      writeFileSync(last, finished);
    }
  });
  t.after(() => watcher.close());
  const { heal, events } = healFor(t, { folder: { path: dir }, stuckAfter: '30m' });
  const result = await heal();
  assert.equal(result.message, 'requeued 19 stuck tasks (t-00, t-01, t-02, t-03, t-04 and 14 more), left 1 alone that a worker changed meanwhile (t-19)');
  assert.equal(readFileSync(last, 'utf8'), finished);
  assert.equal(events.length, 19);
  assert.ok(!events.some((e) => e.context.task === 't-19'));
  assert.deepEqual(result.details!.changedMeanwhile, ['t-19']);
  assert.equal(readdirSync(dir).length, 20, 'the temporary copy of t-19 was removed');
});
