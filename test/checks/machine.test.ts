import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { test } from 'node:test';
import { createProbe } from '../../src/checks/index.js';
import type { CheckEnvironment } from '../../src/checks/types.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';

function env(dataDir: string, self: Partial<CheckEnvironment['self']> = {}): CheckEnvironment {
  const base = testCheckEnv({ dataDir }).env;
  return { ...base, self: { ...base.self, ...self } };
}
const ctx = { signal: new AbortController().signal, now: Date.now };

test('disk: measures the real filesystem and fails below the threshold', async (t) => {
  const dir = tempDir(t);
  const fs = statfsSync(dir);
  const freePercent = (fs.bavail / fs.blocks) * 100;
  const passing = await createProbe('disk', { path: dir, minFreePercent: Math.max(0, Math.floor(freePercent) - 1) }, env(dir)).run(ctx);
  assert.equal(passing.ok, true, passing.message);
  // Other tests write to the same disk meanwhile: the figure must match statfs closely, not exactly.
  assert.ok(Math.abs((passing.details!.freeBytes as number) - fs.bavail * fs.bsize) < 256 * 1024 * 1024);
  const failing = await createProbe('disk', { path: dir, minFreeBytes: fs.bavail * fs.bsize * 2 }, env(dir)).run(ctx);
  assert.equal(failing.ok, false);
  assert.match(failing.message, /free of .* below /);
  await assert.rejects(createProbe('disk', { path: `${dir}/missing/deeper` }, env(dir)).run(ctx), /ENOENT/);
});

test('memory: reads available memory and fails when asked for more than exists', async (t) => {
  const dir = tempDir(t);
  const ok = await createProbe('memory', { minAvailablePercent: 0 }, env(dir)).run(ctx);
  assert.equal(ok.ok, true);
  assert.ok((ok.details!.availableBytes as number) > 0);
  const bad = await createProbe('memory', { minAvailablePercent: 100 }, env(dir)).run(ctx);
  assert.equal(bad.ok, false);
});

test('self: fails on a slow event loop, on runaway memory, and when the store cannot be written', async (t) => {
  const dir = tempDir(t);
  assert.equal((await createProbe('self', {}, env(dir)).run(ctx)).ok, true);
  const slow = await createProbe('self', { maxEventLoopDelayMs: 100 }, env(dir, { eventLoopDelayP99Ms: () => 2500 })).run(ctx);
  assert.equal(slow.message, 'event loop p99 delay 2500ms > 100ms');
  const fat = await createProbe('self', { maxRssMiB: 10 }, env(dir)).run(ctx);
  assert.match(fat.message, /rss 50\.0 MiB > 10 MiB/);
  const broken = createProbe(
    'self',
    {},
    env(dir, {
      storeRoundTrip: () => {
        throw new Error('SQLITE_FULL: database or disk is full');
      },
    }),
  );
  await assert.rejects(broken.run(ctx), /SQLITE_FULL/);
});
