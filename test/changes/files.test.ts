import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/temp.js';
import { changeStore, pastClock, watchConfig } from './harness.js';

const checks = 'checks:\n  - { name: api, kind: file, path: /tmp/api.ok }\n  - { name: db, kind: file, path: /tmp/db.ok }\n';
const watchingFolder = (dir: string, extra = '') => `watch:\n  repos:\n    - { name: api, path: ${JSON.stringify(dir)}, checks: [api] }\n${extra}${checks}`;

const LOCK_V1 = JSON.stringify({ name: 'api', lockfileVersion: 3, packages: { 'node_modules/pg': { version: '8.11.0' } } }, null, 2);
const LOCK_V2 = LOCK_V1.replace('8.11.0', '8.12.0');

test('lockfile: a changed package-lock.json is one event with short content fingerprints and its mtime; touching it is no change', async (t) => {
  const dir = realpathSync(tempDir(t));
  writeFileSync(join(dir, 'package-lock.json'), LOCK_V1);
  const clock = pastClock();
  const store = changeStore(t, { clock });
  const watcher = store.run(watchConfig(watchingFolder(dir), dir));
  const start = clock.now();
  assert.deepEqual(await watcher.scan(), []);

  writeFileSync(join(dir, 'package-lock.json'), LOCK_V2);
  const mtime = start + 42_000;
  utimesSync(join(dir, 'package-lock.json'), new Date(mtime), new Date(mtime));
  clock.advance(300_000);
  const [event, ...more] = await watcher.scan();

  assert.equal(more.length, 0);
  assert.ok(event);
  assert.equal(event.subject, 'api');
  assert.equal(event.at, mtime, 'at is the file mtime');
  assert.equal(event.context.summary, 'package-lock.json of api changed');
  assert.equal(event.context.path, join(dir, 'package-lock.json'));
  assert.deepEqual(event.context.checks, ['api']);
  assert.match(event.context.before!, /^[0-9a-f]{12}$/);
  assert.match(event.context.after!, /^[0-9a-f]{12}$/);
  assert.notEqual(event.context.before, event.context.after);

  utimesSync(join(dir, 'package-lock.json'), new Date(), new Date());
  assert.deepEqual(await watcher.scan(), [], 'same content, new mtime: no change');
});

test('lockfile: added and removed lockfiles are named; a rewrite of the same size right after a look is still seen', async (t) => {
  const dir = realpathSync(tempDir(t));
  writeFileSync(join(dir, 'yarn.lock'), 'pg@8.11.0\n');
  const store = changeStore(t);
  const watcher = store.run(watchConfig(watchingFolder(dir), dir));
  await watcher.scan();

  // Same size, same second as the read that hashed it: only the hash can tell (git's "racy" case).
  writeFileSync(join(dir, 'yarn.lock'), 'pg@8.12.0\n');
  writeFileSync(join(dir, 'go.sum'), 'example.com/m v1.0.0 h1:abc=\n');
  assert.deepEqual(
    (await watcher.scan()).map((e) => e.context.summary),
    ['yarn.lock of api changed', 'go.sum of api added'],
  );
  rmSync(join(dir, 'go.sum'));
  const [removed] = await watcher.scan();
  assert.equal(removed?.context.summary, 'go.sum of api removed');
  assert.equal(removed?.context.after, undefined);
});

test('env: keys added, removed and changed are named, never a value (not in the events table, the snapshot keeps only hashes)', async (t) => {
  const dir = realpathSync(tempDir(t));
  const password = 'hunter2-Zq81vLwP';
  writeFileSync(
    join(dir, '.env'),
    `# database\nDATABASE_URL=postgres://api:${password}@db.internal:5432/api\nPOOL_SIZE=10\nexport LOG_LEVEL="info" # quoted\n`,
  );
  const clock = pastClock();
  const store = changeStore(t, { clock });
  const watcher = store.run(watchConfig(watchingFolder(dir), dir));
  const start = clock.now();
  await watcher.scan();

  writeFileSync(join(dir, '.env'), `# database, moved to vault\nPOOL_SIZE=25\nLOG_LEVEL='info'\nFEATURE_FLAGS=beta-7731\n`);
  clock.advance(120_000);
  const [event, ...more] = await watcher.scan();

  assert.equal(more.length, 0);
  assert.ok(event);
  assert.equal(event.context.source, 'env');
  assert.equal(event.context.summary, '.env of api changed: DATABASE_URL removed, FEATURE_FLAGS added, POOL_SIZE changed');
  assert.equal(event.context.path, join(dir, '.env'));
  assert.ok(event.at >= start && event.at <= start + 120_000);
  const stored = store.eventsText();
  for (const value of [password, 'postgres://', 'db.internal', 'beta-7731']) {
    assert.ok(!stored.includes(value), `${value} is in the events table`);
  }
  const snapshot = JSON.stringify(store.db.prepare("SELECT * FROM kv WHERE key LIKE 'change:%'").all());
  for (const value of [password, 'db.internal', 'beta-7731']) assert.ok(!snapshot.includes(value), `${value} is in the snapshot`);

  writeFileSync(join(dir, '.env'), `# only a comment moved\nPOOL_SIZE=25\n\nLOG_LEVEL=info\nFEATURE_FLAGS="beta-7731"\n`);
  assert.deepEqual(await watcher.scan(), [], 'comments and quoting are no change');
});

test('env: .env.* files at the root come and go; a watch.files entry that is not KEY=VALUE is hashed whole', async (t) => {
  const dir = realpathSync(tempDir(t));
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  writeFileSync(join(shared, 'app.yml'), 'pool: 10\n');
  const yaml = watchingFolder(dir, `  files:\n    - { path: shared/app.yml, checks: [db] }\n`);
  const store = changeStore(t);
  const watcher = store.run(watchConfig(yaml, dir));
  await watcher.scan();

  writeFileSync(join(dir, '.env.local'), 'POOL_SIZE=5\n');
  writeFileSync(join(shared, 'app.yml'), 'pool: 20\n');
  const events = await watcher.scan();
  assert.deepEqual(
    events.map((e) => [e.subject, e.context.summary, e.context.checks]),
    [
      ['api', '.env.local of api added', ['api']],
      [join(shared, 'app.yml'), `${join(shared, 'app.yml')} changed`, ['db']],
    ],
  );
  assert.ok(!store.eventsText().includes('pool: 20'));
  rmSync(join(dir, '.env.local'));
  assert.deepEqual(
    (await watcher.scan()).map((e) => e.context.summary),
    ['.env.local of api removed'],
  );
});

test('files: a watched folder that disappears is a logged failure, not every file "removed"', async (t) => {
  const parent = realpathSync(tempDir(t));
  const dir = join(parent, 'api');
  mkdirSync(dir);
  writeFileSync(join(dir, '.env'), 'A=1\n');
  writeFileSync(join(dir, 'Cargo.lock'), '# lock\n');
  const store = changeStore(t);
  const watcher = store.run(watchConfig(watchingFolder(dir), dir));
  await watcher.scan();
  rmSync(dir, { recursive: true });

  assert.deepEqual(await watcher.scan(), []);
  assert.deepEqual(
    store
      .warnings()
      .map((l) => l.source)
      .sort(),
    ['env', 'lockfile'],
  );
});
