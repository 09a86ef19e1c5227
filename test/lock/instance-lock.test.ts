import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { acquireInstanceLock, readLock } from '../../src/lock/instance-lock.js';
import { InstanceLockedError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp.js';

/** A real process that stays alive until the test ends. */
async function liveProcess(t: TestContext): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await once(child, 'spawn');
  t.after(() => child.kill('SIGKILL'));
  return child.pid!;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

function procStart(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

test('the first process takes the lock, records itself, and releases it', (t) => {
  const file = join(tempDir(t), 'nightshift.lock');
  const lock = acquireInstanceLock(file, '1.0.0');
  assert.equal(lock.takenOver, null);
  lock.update({ http: '127.0.0.1:9999' });
  const info = readLock(file);
  assert.ok(typeof info === 'object');
  assert.equal(info.pid, process.pid);
  assert.equal(info.http, '127.0.0.1:9999');
  lock.release();
  assert.equal(existsSync(file), false);
});

test('a lock held by a live process is refused, naming its pid, and left untouched', async (t) => {
  const file = join(tempDir(t), 'nightshift.lock');
  const pid = await liveProcess(t);
  const content = JSON.stringify({ pid, procStart: procStart(pid), startedAt: new Date().toISOString(), version: '1', http: null });
  writeFileSync(file, content);
  assert.throws(
    () => acquireInstanceLock(file, '1'),
    (err: unknown) => err instanceof InstanceLockedError && err.ownerPid === pid && err.message.includes(`pid ${pid}`),
  );
  assert.equal(readFileSync(file, 'utf8'), content);
});

test('a lock whose owner died (kill -9) is stale: taken over and reported', async (t) => {
  const file = join(tempDir(t), 'nightshift.lock');
  const pid = await deadPid();
  writeFileSync(file, JSON.stringify({ pid, procStart: '1', startedAt: '2026-01-01T00:00:00.000Z', version: '1', http: null }));
  const lock = acquireInstanceLock(file, '1');
  assert.equal(lock.takenOver?.previous?.pid, pid);
  assert.match(lock.takenOver.reason, new RegExp(`pid ${pid}\\) is no longer running`));
  assert.equal((readLock(file) as { pid: number }).pid, process.pid);
});

test('a lock whose pid was reused by another program is stale', async (t) => {
  const file = join(tempDir(t), 'nightshift.lock');
  const pid = await liveProcess(t);
  writeFileSync(file, JSON.stringify({ pid, procStart: '1', startedAt: '2026-01-01T00:00:00.000Z', version: '1', http: null }));
  const lock = acquireInstanceLock(file, '1');
  assert.match(lock.takenOver!.reason, /now belongs to another process/);
});

test('an empty or corrupt lock file is stale, never a silent exit', (t) => {
  const file = join(tempDir(t), 'nightshift.lock');
  writeFileSync(file, '');
  const lock = acquireInstanceLock(file, '1');
  assert.match(lock.takenOver!.reason, /empty or corrupt/);
});
