import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { HealResult } from '../../src/checks/types.js';
import { removeLockAction } from '../../src/heal/remove-lock.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { checkConfig } from '../helpers/check-config.js';
import { tempDir } from '../helpers/temp.js';
import { childEnvironment } from '../../src/config/child-env.js';

function removeLockStep(dir: string, params: Record<string, unknown>) {
  const { logger } = createCapturedLogger(new Redactor());
  const step = removeLockAction.create(removeLockAction.params.parse(params), {
    log: logger,
    dataDir: dir,
    now: Date.now,
    childEnv: childEnvironment,
    record: () => {},
  });
  const target = { check: checkConfig('pipeline'), probe: { run: async () => ({ ok: true, message: 'not used by this action' }) } };
  return (now: () => number = Date.now): Promise<HealResult> => step.run(target, { signal: new AbortController().signal, now });
}

/** A real process that stays alive for the test. */
async function liveProcess(t: TestContext): Promise<number> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await once(child, 'spawn');
  return child.pid!;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true', [], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

test('remove-lock: a lock whose owner is dead is removed; a second run finds no lock', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'pipeline.lock');
  const pid = await deadPid();
  writeFileSync(path, `${pid}\nstarted by cron\n`);
  const run = removeLockStep(dir, { path });
  const removed = await run();
  assert.equal(removed.ok, true, removed.message);
  assert.equal(removed.message, `removed stale lock: owner pid ${pid} is not running`);
  assert.deepEqual([removed.details!.pid, removed.details!.ownerAlive, removed.details!.removed], [pid, false, true]);
  assert.equal(existsSync(path), false);
  const again = await run();
  assert.deepEqual([again.ok, again.message], [true, 'no lock']);
});

test('remove-lock: a lock held by a live process is never removed, in either format', async (t) => {
  const dir = tempDir(t);
  const pid = await liveProcess(t);
  for (const [name, content] of [
    ['plain.lock', `${pid}\n`],
    ['json.lock', JSON.stringify({ pid, host: 'box' })],
  ] as const) {
    const path = join(dir, name);
    writeFileSync(path, content);
    const run = removeLockStep(dir, { path, maxAge: '1h' });
    for (let attempt = 0; attempt < 2; attempt++) {
      const kept = await run();
      assert.equal(kept.ok, false);
      assert.equal(kept.message, `lock held by live pid ${pid}; not removed`);
      assert.deepEqual([kept.details!.ownerAlive, kept.details!.removed], [true, false]);
      assert.ok(existsSync(path));
    }
  }
});

test('remove-lock: a live owner past maxAge is removed; without maxAge it is kept', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'hung.lock');
  const pid = await liveProcess(t);
  writeFileSync(path, String(pid));
  const twoHoursLater = () => Date.now() + 2 * 3_600_000;
  const kept = await removeLockStep(dir, { path })(twoHoursLater);
  assert.equal(kept.ok, false);
  assert.ok(existsSync(path), 'a live owner without maxAge keeps its lock however old');
  const removed = await removeLockStep(dir, { path, maxAge: '1h' })(twoHoursLater);
  assert.equal(removed.ok, true, removed.message);
  assert.match(removed.message, /^removed stale lock: older than 1h \(2h( \d+s)?\)$/);
  assert.equal(removed.details!.ownerAlive, true);
  assert.equal(existsSync(path), false);
});

test('remove-lock: a live owner keeps its lock even when the lock looks older than the process (a clock that jumped at boot)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'skewed.lock');
  const pid = await liveProcess(t);
  writeFileSync(path, JSON.stringify({ pid }));
  const anHourAgo = (Date.now() - 3_600_000) / 1000;
  utimesSync(path, anHourAgo, anHourAgo);
  const result = await removeLockStep(dir, { path })();
  assert.deepEqual([result.ok, result.message], [false, `lock held by live pid ${pid}; not removed`]);
  assert.equal(existsSync(path), true);
});

test('remove-lock: a lock naming no pid is kept unless it is older than maxAge', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'odd.lock');
  writeFileSync(path, 'locked\n');
  const kept = await removeLockStep(dir, { path })();
  assert.deepEqual([kept.ok, kept.message, existsSync(path)], [false, 'lock names no pid; not removed', true]);
  const young = await removeLockStep(dir, { path, maxAge: '10m' })();
  assert.deepEqual([young.ok, young.message], [false, 'lock names no pid and is younger than 10m; not removed']);
  const old = await removeLockStep(dir, { path, maxAge: '10m' })(() => Date.now() + 3_600_000);
  assert.equal(old.ok, true);
  assert.equal(existsSync(path), false);
});
