import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { lockfileCheck } from '../../src/checks/lockfile.js';
import type { Probe } from '../../src/checks/types.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { parsePid } from '../../src/util/proc.js';

function probe(t: TestContext, params: Record<string, unknown>): Probe {
  return lockfileCheck.create(lockfileCheck.params.parse(params), testCheckEnv({ dataDir: tempDir(t) }).env);
}
const ctx = () => ({ signal: new AbortController().signal, now: Date.now });

/** A real process that stays alive until the test ends. */
function liveProcess(t: TestContext): number {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  assert.ok(child.pid);
  return child.pid;
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn('true', [], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

test('lockfile: no lock file means no lock held', async (t) => {
  const path = join(tempDir(t), 'job.lock');
  const result = await probe(t, { path, maxAge: '1h' }).run(ctx());
  assert.equal(result.ok, true);
  assert.equal(result.message, 'no lock held');
  assert.equal(result.details!.exists, false);
});

test('lockfile: a lock whose owner lives is healthy, in plain and JSON form', async (t) => {
  const dir = tempDir(t);
  const pid = liveProcess(t);
  const plain = join(dir, 'plain.lock');
  writeFileSync(plain, `${pid}\n`);
  const result = await probe(t, { path: plain, maxAge: '10m' }).run(ctx());
  assert.equal(result.ok, true, result.message);
  assert.match(result.message, new RegExp(`^held by pid ${pid} for \\d+m?s$`));
  assert.equal(result.details!.pid, pid);
  assert.equal(result.details!.ownerAlive, true);
  assert.equal(typeof result.details!.ageMs, 'number');

  const json = join(dir, 'json.lock');
  writeFileSync(json, JSON.stringify({ pid, host: 'box', startedAt: new Date().toISOString() }));
  const fromJson = await probe(t, { path: json }).run(ctx());
  assert.equal(fromJson.ok, true, fromJson.message);
  assert.equal(fromJson.details!.pid, pid);
});

test('lockfile: a lock left by a dead process is stale and names the pid', async (t) => {
  const path = join(tempDir(t), 'pipeline.lock');
  const pid = await deadPid();
  writeFileSync(path, `${pid}\n`);
  const result = await probe(t, { path }).run(ctx());
  assert.equal(result.ok, false);
  assert.match(result.message, new RegExp(`^stale: owner pid ${pid} is gone \\(lock \\d+m?s old\\)$`));
  assert.equal(result.details!.pid, pid);
  assert.equal(result.details!.ownerAlive, false);
  assert.equal(result.details!.stale, 'owner-dead');
  assert.equal(result.details!.path, path);
});

test('lockfile: an exited but unreaped owner (zombie) counts as dead', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'zombie.pid');
  // The child exits only once its parent has become `sleep` (exec), which never reaps it: a zombie.
  // Waiting for the exec first keeps the shell from reaping the child itself.
  const child = String.raw`sh -c "until grep -qx sleep /proc/\$PPID/comm; do sleep 0.01; done"`;
  const parent = spawn('/bin/sh', ['-c', `${child} & echo $! > ${pidFile}; exec sleep 30`], { stdio: 'ignore' });
  t.after(() => parent.kill('SIGKILL'));
  const pid = await waitFor(() => Number(readFileSync(pidFile, 'utf8').trim()), { what: 'the zombie pid' });
  await waitFor(() => readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '), { what: 'the child to become a zombie' });
  const path = join(dir, 'job.lock');
  writeFileSync(path, String(pid));
  const result = await probe(t, { path }).run(ctx());
  assert.equal(result.ok, false, result.message);
  assert.equal(result.details!.ownerAlive, false);
});

test('lockfile: a lock held longer than maxAge is stale even with a live owner', async (t) => {
  const path = join(tempDir(t), 'backup.lock');
  const pid = liveProcess(t);
  writeFileSync(path, String(pid));
  const old = new Date(Date.now() - 10 * 60_000);
  utimesSync(path, old, old);
  const result = await probe(t, { path, maxAge: '5m' }).run(ctx());
  assert.equal(result.ok, false);
  assert.equal(result.message, `stale: held by pid ${pid} for 10m (max 5m)`);
  assert.equal(result.details!.ownerAlive, true);
  assert.equal(result.details!.stale, 'too-old');
  assert.equal((await probe(t, { path, maxAge: '1h' }).run(ctx())).ok, true);
});

test('lockfile: junk or empty content is a lock without a pid', async (t) => {
  const dir = tempDir(t);
  for (const [name, content] of [
    ['junk', 'locked by cron\n'],
    ['empty', ''],
    ['group', '0\n'],
    ['json', '{"owner":"me"}'],
  ] as const) {
    const path = join(dir, `${name}.lock`);
    writeFileSync(path, content);
    const result = await probe(t, { path }).run(ctx());
    assert.equal(result.ok, false, name);
    assert.equal(result.message, `lock without a pid: ${path}`);
    assert.equal(result.details!.pid, null);
    assert.equal(result.details!.stale, 'no-pid');
  }
});

test('lockfile: pid parsing accepts a first-line number or a JSON pid, nothing else', () => {
  assert.equal(parsePid('4242\nstarted 03:00\n'), 4242);
  assert.equal(parsePid('  17  '), 17);
  assert.equal(parsePid('{"pid": 99, "cmd": "backup"}'), 99);
  assert.equal(parsePid('{"pid": "123"}'), 123);
  assert.equal(parsePid('-1'), undefined);
  assert.equal(parsePid('{"pid": 1.5}'), undefined);
  assert.equal(parsePid('[1]'), undefined);
  assert.equal(parsePid('99999999999'), undefined);
});
