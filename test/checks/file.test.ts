import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileCheck } from '../../src/checks/file.js';
import type { Probe } from '../../src/checks/types.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';

function probe(t: TestContext, params: Record<string, unknown>): Probe {
  return fileCheck.create(fileCheck.params.parse(params), testCheckEnv({ dataDir: tempDir(t) }).env);
}
const ctx = () => ({ signal: new AbortController().signal, now: Date.now });
const HOUR = 3_600_000;

test('file: a missing file fails, unless it may be absent', async (t) => {
  const path = join(tempDir(t), 'backups', 'nightly.tar.gz');
  const missing = await probe(t, { path }).run(ctx());
  assert.equal(missing.ok, false);
  assert.equal(missing.message, `missing: ${path}`);
  assert.equal(missing.details!.exists, false);
  const optional = await probe(t, { path, mustExist: false, maxAge: '1h' }).run(ctx());
  assert.equal(optional.ok, true, optional.message);
});

test('file: a fresh file passes with its size, age and mtime as evidence', async (t) => {
  const path = join(tempDir(t), 'heartbeat');
  writeFileSync(path, 'alive\n');
  const result = await probe(t, { path, maxAge: '5m', minBytes: 1 }).run(ctx());
  assert.equal(result.ok, true, result.message);
  assert.match(result.message, /^6 B, modified \d+m?s ago$/);
  assert.equal(result.details!.exists, true);
  assert.equal(result.details!.bytes, 6);
  assert.ok((result.details!.ageMs as number) < 60_000);
  assert.ok(!Number.isNaN(Date.parse(result.details!.mtime as string)));
});

test('file: a file older than maxAge is stale', async (t) => {
  const path = join(tempDir(t), 'heartbeat');
  writeFileSync(path, 'alive\n');
  const modified = new Date(Date.now() - (2 * HOUR + 5 * 60_000 + 30_000));
  utimesSync(path, modified, modified);
  const result = await probe(t, { path, maxAge: '1h' }).run(ctx());
  assert.equal(result.ok, false);
  assert.equal(result.message, 'stale: modified 2h 5m ago (max 1h)');
  assert.equal(result.details!.mtime, modified.toISOString());
  assert.ok((result.details!.ageMs as number) >= 2 * HOUR);
  assert.equal((await probe(t, { path, maxAge: '3h' }).run(ctx())).ok, true);
  assert.throws(() => fileCheck.params.parse({ path, maxAge: 'soon' }), /duration/);
});

test('file: sizes outside minBytes/maxBytes fail', async (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'export.csv');
  writeFileSync(empty, '');
  const tooSmall = await probe(t, { path: empty, minBytes: 1 }).run(ctx());
  assert.equal(tooSmall.ok, false);
  assert.equal(tooSmall.message, 'too small: 0 B (min 1 B)');
  assert.equal(tooSmall.details!.bytes, 0);

  const big = join(dir, 'agent.log');
  writeFileSync(big, Buffer.alloc(2048));
  const tooLarge = await probe(t, { path: big, maxBytes: 1024 }).run(ctx());
  assert.equal(tooLarge.ok, false);
  assert.equal(tooLarge.message, 'too large: 2.0 KiB (max 1.0 KiB)');
  assert.equal((await probe(t, { path: big, minBytes: 1024, maxBytes: 4096 }).run(ctx())).ok, true);
});

test('file: every problem is reported at once', async (t) => {
  const path = join(tempDir(t), 'report.json');
  writeFileSync(path, '');
  const old = new Date(Date.now() - 2 * HOUR);
  utimesSync(path, old, old);
  const result = await probe(t, { path, maxAge: '1h', minBytes: 10 }).run(ctx());
  assert.equal(result.message, 'stale: modified 2h ago (max 1h); too small: 0 B (min 10 B)');
});
