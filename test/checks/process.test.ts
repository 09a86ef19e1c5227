import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processCheck } from '../../src/checks/process.js';
import type { Probe } from '../../src/checks/types.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
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
  assert.equal(healed.message, `respawned as pid ${newPid}`);
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
  assert.deepEqual(parsed, { command: ['node', 'worker.js'], maxLogBytes: 5 * 1024 * 1024, stopGrace: 1000 });
  assert.equal(processCheck.params.parse({ command: ['x'], stopGrace: '250ms', env: { A: '1' } }).stopGrace, 250);
  assert.equal(processCheck.params.safeParse({ command: [] }).success, false);
  assert.equal(processCheck.params.safeParse({ command: 'node worker.js' }).success, false);
  assert.equal(processCheck.params.safeParse({ command: ['node'], shell: true }).success, false);
});
