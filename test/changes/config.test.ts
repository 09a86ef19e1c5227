import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../helpers/temp.js';
import { changeStore, pastClock } from './harness.js';

const CONFIG_V1 = `# what runs here
patrol: { interval: 10s }
checks:
  - { name: db, kind: tcp, host: 127.0.0.1, port: 5432 }
  - { name: web, kind: http, url: "http://127.0.0.1:8080/healthz" }
`;

/** db moved to another port, cache added; web only reformatted and commented. */
const CONFIG_V2 = `# what runs here, after the migration
patrol: { interval: 10s }
checks:
  - { name: db, kind: tcp, host: 127.0.0.1, port: 6432 }
  # unchanged, only written out
  - name: web
    kind: http
    url: "http://127.0.0.1:8080/healthz"
  - { name: cache, kind: tcp, host: 127.0.0.1, port: 6379 }
`;

function load(file: string, cwd: string) {
  return loadConfig({ env: { NIGHTSHIFT_CONFIG: file, TZ: 'UTC', NIGHTSHIFT_HTTP: '127.0.0.1:0' }, cwd });
}

test('config: a config file changed between two starts is recorded at the next start, whileDown, naming the checks that changed', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'nightshift.yml');
  writeFileSync(file, CONFIG_V1);
  const clock = pastClock();
  const store = changeStore(t, { clock });
  const start = clock.now();
  const firstRun = store.run(load(file, dir));
  assert.deepEqual(await firstRun.scan(), []);
  await firstRun.stop();

  writeFileSync(file, CONFIG_V2);
  utimesSync(file, new Date(start + 60_000), new Date(start + 60_000));
  clock.set(start + 3_600_000);
  const [event, ...more] = await store.run(load(file, dir)).scan();

  assert.equal(more.length, 0);
  assert.ok(event);
  assert.equal(event.subject, 'config');
  assert.equal(event.at, start + 60_000, 'when the file was written');
  assert.deepEqual(
    { ...event.context, before: typeof event.context.before, after: typeof event.context.after },
    {
      source: 'config',
      summary: 'nightshift.yml changed: check cache added, check db changed',
      checks: ['cache', 'db'],
      path: file,
      before: 'string',
      after: 'string',
      detectedAt: start + 3_600_000,
      whileDown: true,
    },
  );
});

test('config: an edit on disk while running is recorded as waiting for a restart; a comment-only edit is none', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'nightshift.yml');
  writeFileSync(file, CONFIG_V1);
  const store = changeStore(t);
  const watcher = store.run(load(file, dir));
  await watcher.scan();

  writeFileSync(file, `${CONFIG_V1}# a note\n`);
  assert.deepEqual(await watcher.scan(), []);
  writeFileSync(file, CONFIG_V1.replace('interval: 10s', 'interval: 30s'));
  const [event] = await watcher.scan();
  assert.ok(event);
  assert.equal(event.context.summary, 'nightshift.yml changed on disk: patrol changed; restart Nightshift to apply it');
  assert.deepEqual(event.context.checks, [], 'patrol concerns every check');
  assert.equal(event.context.whileDown, undefined);

  writeFileSync(file, 'checks: [unclosed\n');
  const [broken] = await watcher.scan();
  assert.equal(broken?.context.summary, 'nightshift.yml changed on disk; it does not read as a YAML mapping now (Nightshift would refuse it)');

  writeFileSync(file, CONFIG_V1);
  const [repaired] = await watcher.scan();
  assert.equal(repaired?.context.summary, 'nightshift.yml changed on disk; restart Nightshift to apply it');
  assert.deepEqual(repaired?.context.checks, ['db', 'web'], 'from a file that did not read, every check it has now is new');
});
