import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pm2Check } from '../../src/checks/pm2.js';
import { parseJlist } from '../../src/checks/pm2-list.js';
import type { Probe } from '../../src/checks/types.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { PM2_BIN, pm2Sandbox, type Pm2Sandbox } from '../helpers/pm2.js';
import { closedPort, squatPort } from '../helpers/net.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const LONG_RUNNING = 'setInterval(() => {}, 60_000);\n';
const CRASHES_AT_ONCE = "console.error('worker: cannot connect to queue'); process.exit(3);\n";

/** An app that binds `port` `ms` after it starts, as a server does once its config is read; it dies at once when the port is taken. */
function bindsAfter(port: number, ms: number): string {
  return `setTimeout(() => require('node:net').createServer().listen(${port}, '127.0.0.1'), ${ms});\n`;
}

/** A pm2 that logs the verb of every call (jlist, restart) to a file, then runs the real one. */
function countingPm2(t: Parameters<typeof tempDir>[0]): { bin: string; verbs: () => string[] } {
  const dir = tempDir(t);
  const log = join(dir, 'verbs');
  const bin = join(dir, 'pm2');
  writeFileSync(bin, `#!/bin/sh\necho "$1" >> '${log}'\nexec '${PM2_BIN}' "$@"\n`);
  chmodSync(bin, 0o755);
  return { bin, verbs: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

function pm2Probe(t: Parameters<typeof tempDir>[0], sandbox: Pm2Sandbox, params: Record<string, unknown>, state?: Map<string, unknown>): Probe {
  const { env } = testCheckEnv({ dataDir: tempDir(t), state, checkName: 'worker' });
  return pm2Check.create(pm2Check.params.parse({ pm2Bin: PM2_BIN, pm2Home: sandbox.home, ...params }), env);
}

test('pm2: an online app is ok with its pid and restart count; a stopped one fails and restart() brings it back', async (t) => {
  const sandbox = pm2Sandbox(t);
  await sandbox.startApp('worker', LONG_RUNNING);
  const pm2 = countingPm2(t);
  const probe = pm2Probe(t, sandbox, { app: 'worker', pm2Bin: pm2.bin });

  const online = await probe.run(runContext());
  const before = await sandbox.app('worker');
  assert.equal(online.ok, true, online.message);
  assert.equal(online.details!.status, 'online');
  assert.equal(online.details!.pid, before!.pid);
  assert.ok(before!.pid > 0);
  assert.equal(online.details!.restarts, 0);
  assert.equal(online.details!.restartLoop, undefined);
  assert.ok((online.details!.memoryBytes as number) > 0, 'pm2 reports the memory of a live node process');
  assert.match(online.message, new RegExp(`^pm2 app worker online, pid ${before!.pid}, up `));

  await sandbox.pm2('stop', 'worker');
  const stopped = await probe.run(runContext());
  assert.equal(stopped.ok, false);
  assert.equal(stopped.details!.status, 'stopped');
  assert.match(stopped.message, /^pm2 app worker is stopped/);

  const listedBefore = pm2.verbs().length;
  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, true, healed.message);
  assert.equal(healed.details!.exitCode, 0);
  assert.equal(pm2.verbs()[listedBefore], 'restart', 'the run just before named the error logs: no jlist ahead of the restart');
  const back = await probe.run(runContext());
  assert.equal(back.ok, true, back.message);
  assert.notEqual(back.details!.pid, before!.pid, 'a new process runs');
  assert.equal(back.details!.pid, (await sandbox.app('worker'))!.pid);
  assert.equal(back.details!.restartLoop, undefined);

  // Restarting an online app is harmless: it stays online under a new pid.
  assert.equal((await probe.restart!(runContext())).ok, true);
  const again = await probe.run(runContext());
  assert.equal(again.ok, true, again.message);
  assert.notEqual(again.details!.pid, back.details!.pid);
  assert.equal(again.details!.restarts, (back.details!.restarts as number) + 1, 'pm2 counts a restart of a running app');
});

test('pm2: an app that crashes on every start is reported as a restart loop while pm2 keeps restarting it', async (t) => {
  const sandbox = pm2Sandbox(t);
  // pm2 would give up after 16 quick crashes ("errored"); a high limit keeps it restarting, as a worker that lives a few seconds would.
  await sandbox.startApp('crashy', CRASHES_AT_ONCE, ['--restart-delay', '100', '--max-restarts', '1000']);
  const state = new Map<string, unknown>();
  const probe = pm2Probe(t, sandbox, { app: 'crashy', restartLoop: { maxRestarts: 3, window: '10m' } }, state);

  const first = await probe.run(runContext());
  assert.notEqual(first.details!.restartLoop, true, `the first look has no history yet: ${first.message}`);

  const loop = await waitFor(
    async () => {
      const result = await probe.run(runContext());
      return result.details!.restartLoop === true ? result : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 200, what: 'the restart loop to be detected' },
  );
  assert.equal(loop.ok, false);
  const inWindow = loop.details!.restartsInWindow as number;
  assert.ok(inWindow > 3, `${inWindow} restarts counted`);
  assert.match(loop.message, new RegExp(`^restart loop: ${inWindow} restarts in 10m \\(pm2 app crashy, now [a-z ]+\\)$`));
  assert.equal(loop.details!.lastExitCode, 3);

  // The history is persisted: Nightshift restarted (a new probe, the same state) still sees the loop.
  const afterRestart = pm2Probe(t, sandbox, { app: 'crashy', restartLoop: { maxRestarts: 3, window: '10m' } }, state);
  const seenAgain = await afterRestart.run(runContext());
  assert.equal(seenAgain.details!.restartLoop, true, seenAgain.message);
});

test('pm2: an unknown app, a missing pm2 binary and a daemon that was not running each say so', async (t) => {
  const sandbox = pm2Sandbox(t);
  await sandbox.startApp('worker', LONG_RUNNING);
  const unknown = await pm2Probe(t, sandbox, { app: 'ghost' }).run(runContext());
  assert.equal(unknown.ok, false);
  assert.equal(unknown.message, 'pm2 has no app named ghost');
  assert.equal(unknown.details!.apps, 1);

  const noPm2 = await pm2Probe(t, sandbox, { app: 'worker', pm2Bin: '/nonexistent/pm2' }).run(runContext());
  assert.equal(noPm2.ok, false);
  assert.match(noPm2.message, /^pm2 jlist failed: could not start: \/nonexistent\/pm2: spawn \/nonexistent\/pm2 ENOENT/);

  const failedHeal = await pm2Probe(t, sandbox, { app: 'ghost' }).restart!(runContext());
  assert.equal(failedHeal.ok, false);
  assert.match(failedHeal.message, /^pm2 restart ghost failed: exit 1: \[PM2\]\[ERROR\] Process or Namespace ghost not found$/);

  // A PM2_HOME with no daemon: pm2 jlist starts an empty one, and the message tells why the app is missing.
  const other = pm2Sandbox(t);
  const fresh = await pm2Probe(t, other, { app: 'worker' }).run(runContext());
  assert.equal(fresh.ok, false);
  assert.equal(fresh.message, 'pm2 has no app named worker (its daemon was not running; pm2 jlist started a new, empty one)');
  assert.equal(fresh.details!.daemonSpawned, true);
});

test('pm2: the process list is found behind pm2 notices and colour codes', () => {
  const list = JSON.stringify([
    { pid: 42, name: 'a [b] "c"', pm2_env: { status: 'online', restart_time: 2, unstable_restarts: 0, env: { X: '[{]' } }, monit: { memory: 1, cpu: 0 } },
  ]);
  const stdout = `\u001b[32m[PM2] \u001b[39mSpawning PM2 daemon with pm2_home=/x\n[PM2] PM2 Successfully daemonized\n${list}`;
  assert.deepEqual(
    parseJlist(stdout)?.map((p) => [p.name, p.pid, p.pm2_env.restart_time]),
    [['a [b] "c"', 42, 2]],
  );
  assert.deepEqual(parseJlist('[PM2] Spawning PM2 daemon\n[]'), []);
  assert.equal(parseJlist('[PM2][ERROR] Daemon not launched'), undefined);
  assert.equal(parseJlist(list.slice(0, -10)), undefined, 'a truncated list is no list');
});

test('pm2: an app that dies ~100ms after every start fails its restart with the exit and its error line; a run right after is not ok', async (t) => {
  const port = await squatPort(t);
  const sandbox = pm2Sandbox(t);
  // No autorestart: pm2 refuses a `pm2 restart` that lands while its own restart of the app is under way
  // ("Process 0 not found"), which would make this test about pm2's race instead of the grace.
  await sandbox.startApp('crashy', bindsAfter(port, 100), ['--no-autorestart']);
  const probe = pm2Probe(t, sandbox, { app: 'crashy', restartLoop: { maxRestarts: 1000, window: '10m' } });

  const heal = await probe.restart!(runContext());
  assert.equal(heal.ok, false, heal.message);
  assert.match(
    heal.message,
    new RegExp(
      // pm2 jlist takes a few hundred ms: the app is seen dead right after the restart, or exiting while it is watched.
      `^pm2 restart crashy: (the app exited with code 1 right after the restart|pid \\d+ exited with code 1 within \\d+(ms|s)), inside its 1s start grace: ` +
        `Error: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port} \\((pm2 restarted it as pid \\d+|now [a-z ]+)\\)$`,
    ),
  );
  assert.equal(heal.details!.duringStartup, true);
  assert.equal(heal.details!.startGraceMs, 1000);

  const run = await probe.run(runContext());
  assert.equal(run.ok, false, `a run right after reported ${run.message}`);
  assert.equal(run.details!.startGraceMs, 1000);
});

test('pm2: an app that stays up counts as restarted once it stayed online, same pid, for its grace; ready: {port} ends the wait early', async (t) => {
  const sandbox = pm2Sandbox(t);
  await sandbox.startApp('worker', LONG_RUNNING);
  const probe = pm2Probe(t, sandbox, { app: 'worker' });
  let started = performance.now();
  const heal = await probe.restart!(runContext());
  const tookMs = performance.now() - started;
  assert.equal(heal.ok, true, heal.message);
  const pid = (await sandbox.app('worker'))!.pid;
  assert.equal(heal.message, `pm2 restart worker: pid ${pid} up 1s`);
  assert.ok(tookMs >= 950, `counted as started after ${Math.round(tookMs)} ms, inside its grace`);
  assert.equal(heal.details!.startedVia, 'grace');

  const port = await closedPort();
  await sandbox.startApp('api', bindsAfter(port, 200));
  const api = pm2Probe(t, sandbox, { app: 'api', startGrace: '5s', ready: { port } });
  started = performance.now();
  const ready = await api.restart!(runContext());
  assert.equal(ready.ok, true, ready.message);
  assert.match(ready.message, new RegExp(`^pm2 restart api: pid \\d+ ready on :${port}$`));
  assert.ok(performance.now() - started < 4000, `waited ${Math.round(performance.now() - started)} ms: the grace, not readiness`);
  assert.equal(ready.details!.ready, 'port');
});
