import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processCheck } from '../../src/checks/process.js';
import type { Probe } from '../../src/checks/types.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { closedPort, squatPort } from '../helpers/net.js';
import { waitFor } from '../helpers/temp.js';

const services = fileURLToPath(new URL('../fakes/services/', import.meta.url));
const node = process.execPath;
const HTTP_HEALTH = join(services, 'http-health.mjs');
const EXIT_AT_ONCE = join(services, 'exit-at-once.mjs');
const NOISY = join(services, 'noisy.mjs');
const IGNORE_SIGTERM = join(services, 'ignore-sigterm.mjs');

/**
 * A data directory and a factory of probes, all disposed (children stopped)
 * before the directory is removed, even when the test fails half-way.
 */
function harness(t: TestContext) {
  const dataDir = mkdtempSync(join(tmpdir(), 'nightshift-process-'));
  const probes: Probe[] = [];
  t.after(async () => {
    await Promise.all(probes.map(async (p) => p.dispose?.()));
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    logFile: join(dataDir, 'logs', 'test-check.log'),
    probe(params: Record<string, unknown>, options: { state?: Map<string, unknown> } = {}) {
      const testEnv = testCheckEnv({ dataDir, state: options.state });
      const probe = processCheck.create(processCheck.params.parse(params), testEnv.env);
      probes.push(probe);
      return { probe, ...testEnv };
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
}

/** The port the http-health child with this pid announced in the log file. */
function announcedPort(logFile: string, pid: number): Promise<number> {
  return waitFor(
    () => {
      const match = new RegExp(`pid ${pid} port (\\d+)`).exec(readFileSync(logFile, 'utf8'));
      return match ? Number(match[1]) : undefined;
    },
    { what: `pid ${pid} to announce its port` },
  );
}

/** Live (non-zombie) processes whose parent is this test process and whose command is `comm`. */
function liveChildrenNamed(comm: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      // The process ended while we listed /proc.
      continue;
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (name === comm && state !== 'Z' && Number(ppid) === process.pid) found.push(Number(entry));
  }
  return found;
}

test('process: a killed child is noticed from its exit event, reported, and respawned by restart', async (t) => {
  const h = harness(t);
  const { probe, runRequests } = h.probe({ command: [node, HTTP_HEALTH] });
  await probe.start!();

  const up = await probe.run(runContext());
  assert.equal(up.ok, true, up.message);
  const pid = up.details!.pid as number;
  assert.match(up.message, new RegExp(`^pid ${pid} up \\d+`));
  assert.equal(up.details!.spawns, 1);
  const port = await announcedPort(h.logFile, pid);
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);

  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  await waitFor(() => runRequests.length === 1, { what: 'the exit to request a run' });
  assert.ok(runRequests[0]! - killedAt < 500, `exit noticed ${runRequests[0]! - killedAt} ms after kill -9`);

  const down = await probe.run(runContext());
  assert.equal(down.ok, false);
  assert.match(down.message, /^killed by SIGKILL after \d+/);
  assert.equal(down.details!.signal, 'SIGKILL');
  assert.equal(down.details!.exitCode, null);

  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, true, healed.message);
  const newPid = healed.details!.pid as number;
  assert.equal(healed.message, `respawned as pid ${newPid}; up 1s`, 'a respawn counts once the child stayed up its start grace');
  assert.equal(healed.details!.startGraceMs, 1000);
  assert.notEqual(newPid, pid);
  assert.equal(healed.details!.previousPid, pid);
  assert.equal(healed.details!.previousSignal, 'SIGKILL');
  const newPort = await announcedPort(h.logFile, newPid);
  const health = await fetch(`http://127.0.0.1:${newPort}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { pid: number }).pid, newPid);
  const upAgain = await probe.run(runContext());
  assert.equal(upAgain.ok, true);
  assert.equal(upAgain.details!.pid, newPid);
  assert.equal(upAgain.details!.spawns, 2);

  // Restarting a live child stops it first: never two copies, and a stop Nightshift asked for is no news.
  const respawned = await probe.restart!(runContext());
  assert.equal(respawned.ok, true, respawned.message);
  assert.equal(respawned.details!.previousPid, newPid);
  assert.equal(respawned.details!.previousWasRunning, true);
  assert.equal(isAlive(newPid), false);
  assert.equal(isAlive(respawned.details!.pid as number), true);
  assert.equal(runRequests.length, 1);
});

test('process: restart also stops what a killed child left behind in its process group', async (t) => {
  const h = harness(t);
  // A shell that starts a worker in the background: killing only the shell would leave the worker running.
  const { probe, runRequests } = h.probe({ command: ['sh', '-c', 'sleep 30 & echo "worker $!"; wait'] });
  await probe.start!();
  const shellPid = (await probe.run(runContext())).details!.pid as number;
  const workerPid = await waitFor(() => Number(/worker (\d+)/.exec(readFileSync(h.logFile, 'utf8'))?.[1]), { what: 'the worker pid' });
  process.kill(shellPid, 'SIGKILL');
  await waitFor(() => runRequests.length === 1, { what: 'the exit to request a run' });
  assert.equal(isAlive(workerPid), true, 'the worker outlived its shell');

  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, true, healed.message);
  assert.equal(isAlive(workerPid), false, 'the leftover worker was stopped before the respawn');
});

test('process: a child that dies at start-up reports its exit code and the tail of its stderr', async (t) => {
  const h = harness(t);
  const { probe, runRequests } = h.probe({ command: [node, EXIT_AT_ONCE] });
  await probe.start!();
  await waitFor(() => runRequests.length > 0, { what: 'the exit to request a run' });

  const result = await probe.run(runContext());
  assert.equal(result.ok, false);
  assert.match(result.message, /^exited with code 3 after \d+/);
  assert.equal(result.details!.exitCode, 3);
  assert.equal(result.details!.signal, null);
  assert.match(result.details!.stderrTail as string, /boom/);
  assert.equal(result.details!.stdoutTail, 'starting');
  assert.doesNotThrow(() => JSON.stringify(result.details));
  assert.match(readFileSync(h.logFile, 'utf8'), /config error: boom\n[^]*exited with code 3/);
});

test('process: output goes to a log file rotated at maxLogBytes, keeping the newest lines and losing none between the two files', async (t) => {
  const h = harness(t);
  const maxLogBytes = 64 * 1024;
  const lines = 3000; // 64 bytes each: about three times the cap
  const { probe, runRequests } = h.probe({ command: [node, NOISY, String(lines)], maxLogBytes });
  await probe.start!();
  await waitFor(() => runRequests.length > 0, { what: 'the noisy child to finish' });
  const result = await probe.run(runContext()); // waits for the last output to drain
  assert.equal(result.details!.exitCode, 0);

  const current = statSync(h.logFile).size;
  const previous = statSync(`${h.logFile}.1`).size;
  assert.ok(current <= maxLogBytes, `.log is ${current} bytes`);
  assert.ok(previous <= maxLogBytes, `.log.1 is ${previous} bytes`);
  assert.equal(existsSync(`${h.logFile}.2`), false);

  const kept = (readFileSync(`${h.logFile}.1`, 'utf8') + readFileSync(h.logFile, 'utf8')).split('\n');
  kept.shift(); // the oldest line may have been cut by an earlier rotation
  const childLines = kept.filter((line) => line !== '' && !line.startsWith('[nightshift'));
  const numbers = childLines.map((line) => {
    const match = /^line (\d{6}) x+$/.exec(line);
    assert.ok(match && line.length === 63, `a whole line, not a torn one: ${JSON.stringify(line)}`);
    return Number(match[1]);
  });
  assert.equal(numbers.at(-1), lines, 'the newest line is kept');
  assert.ok(numbers[0]! > 1, 'the oldest lines were dropped');
  numbers.forEach((n, i) => assert.equal(n, numbers[0]! + i, 'no line lost where the file was rotated'));
});

test('process: a child orphaned by a Nightshift killed with -9 is stopped before a new one starts; a reused pid is left alone', async (t) => {
  const h = harness(t);
  const state = new Map<string, unknown>();
  const first = h.probe({ command: ['sleep', '30'] }, { state });
  await first.probe.start!();
  const orphanPid = (await first.probe.run(runContext())).details!.pid as number;
  assert.equal((state.get('test-check') as { pid: number }).pid, orphanPid);

  // The first probe is never disposed, as when Nightshift dies; the next one finds its child in the state.
  const second = h.probe({ command: ['sleep', '30'] }, { state });
  await second.probe.start!();
  await waitFor(() => !isAlive(orphanPid), { what: 'the orphan to be stopped' });
  const run = await second.probe.run(runContext());
  assert.equal(run.ok, true, run.message);
  assert.notEqual(run.details!.pid, orphanPid);
  assert.deepEqual(liveChildrenNamed('sleep'), [run.details!.pid]);
  assert.equal((state.get('test-check') as { pid: number }).pid, run.details!.pid);
  const warning = second.logLines().find((l) => l.msg === 'stopped an orphaned child from a previous run');
  assert.equal(warning?.pid, orphanPid);
  assert.equal(warning?.level, 40);

  // A saved pid whose start time differs now belongs to someone else: it must survive.
  const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => stranger.kill('SIGKILL'));
  await once(stranger, 'spawn');
  const otherState = new Map<string, unknown>([['test-check', { pid: stranger.pid, procStart: '1', spawnedAt: 0 }]]);
  const third = h.probe({ command: ['sleep', '30'] }, { state: otherState });
  await third.probe.start!();
  assert.equal(isAlive(stranger.pid!), true);
  assert.equal(stranger.exitCode, null);
  assert.equal(stranger.signalCode, null);
  assert.ok(third.logLines().some((l) => l.pid === stranger.pid && String(l.msg).includes('left it alone')));
  assert.equal((await third.probe.run(runContext())).ok, true);
});

test('process: dispose stops a child that ignores SIGTERM within 1.5 s, without requesting a run', async (t) => {
  const h = harness(t);
  const { probe, runRequests, logLines, state } = h.probe({ command: [node, IGNORE_SIGTERM] });
  await probe.start!();
  const pid = (await probe.run(runContext())).details!.pid as number;
  await waitFor(() => readFileSync(h.logFile, 'utf8').includes('ready'), { what: 'the child to trap SIGTERM' });

  const started = performance.now();
  await probe.dispose!();
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1500, `dispose took ${elapsed.toFixed(0)} ms`);
  assert.ok(elapsed >= 900, `SIGTERM was given its grace (${elapsed.toFixed(0)} ms)`);
  assert.equal(isAlive(pid), false);
  assert.equal(runRequests.length, 0);
  assert.equal(state.get('test-check'), null);
  assert.ok(logLines().some((l) => l.msg === 'the supervised child or its process group ignored SIGTERM; sent SIGKILL to the group'));
  assert.match(readFileSync(h.logFile, 'utf8'), /ignoring SIGTERM/);
});

test('process: a command that cannot start is a failed run with a clear message, never a crash', async (t) => {
  const h = harness(t);
  const missing = h.probe({ command: ['nosuchbinary', '--flag'] });
  await missing.probe.start!();
  const result = await missing.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.message, 'could not start: spawn nosuchbinary ENOENT');
  const heal = await missing.probe.restart!(runContext());
  assert.equal(heal.ok, false);
  assert.equal(heal.message, 'could not start: spawn nosuchbinary ENOENT');

  const badCwd = h.probe({ command: [node, '-e', ''], cwd: '/nonexistent/folder' });
  await badCwd.probe.start!();
  assert.match((await badCwd.probe.run(runContext())).message, /^could not start: working directory \/nonexistent\/folder does not exist/);
});

test('process: params take an argv array, with defaults for the log cap and stop grace', () => {
  const parsed = processCheck.params.parse({ command: ['node', 'worker.js'] });
  assert.deepEqual(parsed, { command: ['node', 'worker.js'], maxLogBytes: 5 * 1024 * 1024, stopGrace: 1000, startGrace: 1000 });
  assert.equal(processCheck.params.parse({ command: ['x'], startGrace: '10s' }).startGrace, 10_000);
  assert.deepEqual(processCheck.params.parse({ command: ['x'], ready: { port: 8080 } }).ready, { port: 8080, host: '127.0.0.1' });
  assert.equal(processCheck.params.parse({ command: ['x'], stopGrace: '250ms', env: { A: '1' } }).stopGrace, 250);
  assert.equal(processCheck.params.safeParse({ command: [] }).success, false);
  assert.equal(processCheck.params.safeParse({ command: 'node worker.js' }).success, false);
  assert.equal(processCheck.params.safeParse({ command: ['node'], shell: true }).success, false);
});

/** A child that binds `port` 100 ms after it starts, as a server does once its config is read; it dies at once when the port is taken. */
function bindsAfter100ms(port: number): string[] {
  return [node, '-e', `setTimeout(() => require('node:net').createServer().listen(${port}, '127.0.0.1'), 100)`];
}

test('process: a child that dies ~100ms after every spawn never counts as up: restart fails with its exit and its error line', async (t) => {
  const h = harness(t);
  const port = await squatPort(t);
  const { probe } = h.probe({ command: bindsAfter100ms(port) });
  await probe.start!();
  const busy = `Error: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}`;

  // The first run comes while the child is inside its grace (as right after Nightshift spawns it): it waits, then reports the death.
  const first = await probe.run(runContext());
  assert.equal(first.ok, false, first.message);
  assert.match(first.message, new RegExp(`^exited with code 1 after \\d+ms, inside its 1s start grace: ${busy}$`));
  assert.equal(first.details!.duringStartup, true);
  assert.equal(first.details!.startGraceMs, 1000);
  assert.match(first.details!.stderrTail as string, /EADDRINUSE/);

  for (let attempt = 1; attempt <= 3; attempt++) {
    const healing = probe.restart!(runContext());
    let healed = false;
    void healing.finally(() => (healed = true));
    // Runs racing the restart see the old child or the new one inside its grace: never ok.
    const raced = [];
    while (!healed) {
      raced.push(await probe.run(runContext()));
      // A run of an exited child answers at once; the pause lets the restart's I/O go on.
      await sleep(10);
    }
    assert.ok(raced.length > 0);
    assert.deepEqual(
      raced.filter((r) => r.ok),
      [],
      `attempt ${attempt}: a run reported ok for a child that did not start`,
    );

    const heal = await healing;
    assert.equal(heal.ok, false, heal.message);
    const match = new RegExp(`^pid (\\d+) exited with code 1 after (\\d+)ms, inside its 1s start grace: ${busy}$`).exec(heal.message);
    assert.ok(match, heal.message);
    assert.equal(Number(match[1]), heal.details!.pid);
    const livedMs = Number(match[2]);
    assert.ok(livedMs >= 100 && livedMs < 1000, `lived ${livedMs} ms`);
    assert.equal(heal.details!.exitCode, 1);
    assert.equal(heal.details!.duringStartup, true);
    assert.equal(heal.details!.startGraceMs, 1000);

    const after = await probe.run(runContext());
    assert.equal(after.ok, false, after.message);
    assert.equal(after.details!.pid, heal.details!.pid);
  }
});

test('process: a ready port that answers before the spawn is someone else: the child dying on EADDRINUSE still fails its restart', async (t) => {
  const h = harness(t);
  const port = await squatPort(t);
  const { probe, logLines } = h.probe({ command: bindsAfter100ms(port), ready: { port } });
  await probe.start!();
  const heal = await probe.restart!(runContext());
  assert.equal(heal.ok, false, heal.message);
  assert.match(heal.message, /^pid \d+ exited with code 1 after \d+ms, inside its 1s start grace: Error: listen EADDRINUSE/);
  assert.equal(heal.details!.ready, 'port');
  assert.ok(logLines().some((l) => String(l.msg).startsWith('the ready probe answers before the child is started')));
  assert.equal((await probe.run(runContext())).ok, false);
});

test('process: a healthy child counts as started once it stayed up its grace: the first run and a restart each wait for it', async (t) => {
  const h = harness(t);
  const { probe } = h.probe({ command: [node, HTTP_HEALTH] });
  await probe.start!();
  let started = performance.now();
  const first = await probe.run(runContext());
  assert.equal(first.ok, true, first.message);
  assert.ok(performance.now() - started >= 950, `the first run returned after ${Math.round(performance.now() - started)} ms, inside the grace`);
  assert.equal(first.details!.startedVia, 'grace');
  assert.equal(first.details!.startGraceMs, 1000);
  assert.equal(first.details!.ready, undefined);

  started = performance.now();
  const heal = await probe.restart!(runContext());
  const tookMs = performance.now() - started;
  assert.equal(heal.ok, true, heal.message);
  assert.equal(heal.message, `respawned as pid ${String(heal.details!.pid)}; up 1s`);
  assert.ok(tookMs >= 950 && tookMs < 4000, `restart took ${Math.round(tookMs)} ms`);
  const next = await probe.run(runContext());
  assert.equal(next.ok, true, next.message);
  assert.equal(next.details!.pid, heal.details!.pid);
});

test('process: ready: {port} counts a child as started as soon as it listens, well before a 5s grace', async (t) => {
  const h = harness(t);
  const port = await closedPort();
  const listensAfter200ms = `setTimeout(() => require('node:net').createServer().listen(${port}, '127.0.0.1'), 200)`;
  const { probe } = h.probe({ command: [node, '-e', listensAfter200ms], startGrace: '5s', ready: { port } });
  await probe.start!();
  let started = performance.now();
  const first = await probe.run(runContext());
  assert.equal(first.ok, true, first.message);
  assert.ok(performance.now() - started < 4000, `the run waited ${Math.round(performance.now() - started)} ms`);
  assert.equal(first.details!.startedVia, 'ready');
  assert.equal(first.details!.ready, 'port');
  assert.equal(first.details!.startGraceMs, 5000);

  started = performance.now();
  const heal = await probe.restart!(runContext());
  const tookMs = performance.now() - started;
  assert.equal(heal.ok, true, heal.message);
  assert.equal(heal.message, `respawned as pid ${String(heal.details!.pid)}; ready on :${port}`);
  assert.ok(tookMs >= 150, `ready before the child listened (${Math.round(tookMs)} ms)`);
  assert.ok(tookMs < 4000, `restart took ${Math.round(tookMs)} ms: it waited for the grace, not for readiness`);
});

test('process: ready: {http} needs a 2xx answer: a child answering 503 while it warms up counts as started once it answers 200', async (t) => {
  const h = harness(t);
  const port = await closedPort();
  const warmsUp = [
    `const bootedAt = Date.now();`,
    `require('node:http').createServer((req, res) => { res.writeHead(Date.now() - bootedAt < 400 ? 503 : 200); res.end(); }).listen(${port}, '127.0.0.1');`,
  ].join('\n');
  const url = `http://127.0.0.1:${port}/health`;
  const { probe } = h.probe({ command: [node, '-e', warmsUp], startGrace: '5s', ready: { http: url } });
  await probe.start!();
  const started = performance.now();
  const heal = await probe.restart!(runContext());
  const tookMs = performance.now() - started;
  assert.equal(heal.ok, true, heal.message);
  assert.equal(heal.message, `respawned as pid ${String(heal.details!.pid)}; ready at ${url}`);
  assert.equal(heal.details!.ready, 'http');
  assert.ok(tookMs >= 400, `a 503 was taken for ready (${Math.round(tookMs)} ms)`);
  assert.ok(tookMs < 4000, `restart took ${Math.round(tookMs)} ms`);
  assert.equal((await fetch(url)).status, 200);
});

test('process: when the check times out inside the grace, the run says the child is still starting, and an aborted restart fails', async (t) => {
  const h = harness(t);
  const { probe } = h.probe({ command: ['sleep', '30'], startGrace: '10s' });
  await probe.start!();
  const run = await probe.run({ signal: AbortSignal.timeout(300), now: Date.now });
  assert.equal(run.ok, false, run.message);
  assert.match(run.message, /^still starting \(up \d+ms of a 10s start grace\)$/);
  assert.equal(run.details!.starting, true);
  assert.equal(run.details!.startGraceMs, 10_000);

  const heal = await probe.restart!({ signal: AbortSignal.timeout(300), now: Date.now });
  assert.equal(heal.ok, false, heal.message);
  assert.match(heal.message, /^aborted while pid \d+ was still starting \(up \d+ms of a 10s start grace\)$/);
});
