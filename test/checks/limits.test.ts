import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { LimitWatch, MIN_CPU_WINDOW_MS } from '../../src/checks/limits.js';
import { pm2Check } from '../../src/checks/pm2.js';
import { processCheck } from '../../src/checks/process.js';
import { systemdCheck } from '../../src/checks/systemd.js';
import type { CheckResult, Probe } from '../../src/checks/types.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { configProblems } from '../helpers/config-problems.js';
import { PM2_BIN, pm2Sandbox } from '../helpers/pm2.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { fakeSystemd } from '../fakes/systemctl/state.js';

const node = process.execPath;
const MIB = 1024 * 1024;
/** Spins one core until it is killed. */
const BUSY = 'for (;;) {}';
/** Touches 150 MiB (every page written) and holds it (a global: an unreferenced buffer would be collected), then says so on stdout. */
const HOG = "globalThis.held = Buffer.alloc(150 * 1024 * 1024, 1); console.log('holding', held.length); setInterval(() => {}, 60_000);";
const IDLE = 'setInterval(() => {}, 60_000);';
/** Two children and a grandchild, all asleep; "all 3 forked" once all three exist (the command line itself never says it). */
const FORKS = 'sleep 30 & sh -c "sleep 30 & echo all \\$((1 + 2)) forked; wait" & wait';
/** A loop of short-lived commands: no sample ever sees one of them, their time shows in the shell's reaped-children time. */
const FORK_LOOP = 'while :; do /bin/true; done';

/**
 * A spinning process gets a whole core on an idle machine, but the test machine's cores are shared with other
 * tests: a limit this low is still far above an idle child (~1%) and a fork loop's shell alone (~10% of the loop).
 */
const CPU_LIMIT = 25;

/** A CPU figure is a delta over wall time: the runs must be this far apart, so the test waits it out (no condition to await). */
const CPU_GAP_MS = MIN_CPU_WINDOW_MS + 100;

/** Process probes whose children are stopped before the data directory goes, even when a test fails half-way. */
function processHarness(t: TestContext) {
  const dataDir = mkdtempSync(join(tmpdir(), 'nightshift-limits-'));
  const probes: Probe[] = [];
  t.after(async () => {
    await Promise.all(probes.map(async (probe) => probe.dispose?.()));
    rmSync(dataDir, { recursive: true, force: true });
  });
  const logFile = join(dataDir, 'logs', 'test-check.log');
  return {
    /** Waits until the child log holds `text` (the child says it is ready); the log's first line is the command itself, so `text` must not be in it. */
    logged: (text: string) => waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes(text), { what: `"${text}" in the child log` }),
    probe(params: Record<string, unknown>): Probe {
      const probe = processCheck.create(processCheck.params.parse({ startGrace: '200ms', ...params }), testCheckEnv({ dataDir }).env);
      probes.push(probe);
      return probe;
    },
  };
}

/** A process the test starts itself (what a systemd unit's MainPID names), killed when the test ends. */
async function spawnProgram(t: TestContext, source: string): Promise<{ pid: number; ready: Promise<void> }> {
  const child = spawn(node, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill('SIGKILL'));
  await once(child, 'spawn');
  const ready = new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
  return { pid: child.pid!, ready };
}

function limitsOf(result: CheckResult): Record<string, unknown> {
  assert.ok(result.details?.limits, `limits evidence in the details of "${result.message}"`);
  return result.details.limits as Record<string, unknown>;
}

test('limits: a busy loop over cpuPercent fails after forCycles runs, passes while counting, and starts over after restart()', async (t) => {
  const h = processHarness(t);
  const probe = h.probe({ command: [node, '-e', BUSY], limits: { cpuPercent: CPU_LIMIT, forCycles: 2 } });

  const first = await probe.run(runContext());
  const pid = first.details!.pid as number;
  assert.equal(first.ok, true, first.message);
  assert.match(first.message, new RegExp(`^pid ${pid} up \\d+ms$`), 'one sample gives no CPU figure yet, so nothing is judged');
  assert.equal(limitsOf(first).cpuPercent, null);

  await sleep(CPU_GAP_MS);
  const counting = await probe.run(runContext());
  assert.equal(counting.ok, true, counting.message);
  assert.match(counting.message, new RegExp(`^pid ${pid} up .+; cpu \\d+% > ${CPU_LIMIT}% \\(1 of 2\\)$`));
  assert.ok((limitsOf(counting).cpuPercent as number) > CPU_LIMIT);
  assert.equal(limitsOf(counting).overLimitFor, 1);

  await sleep(CPU_GAP_MS);
  const failing = await probe.run(runContext());
  assert.equal(failing.ok, false);
  assert.match(failing.message, new RegExp(`^cpu \\d+% > ${CPU_LIMIT}% for 2 checks \\(pid ${pid}\\)$`));
  assert.equal(failing.details!.limitExceeded, true);
  assert.equal(failing.details!.pid, pid, 'the usual evidence stays');
  assert.deepEqual(limitsOf(failing).over, ['cpu']);

  // Asked for at once (too soon for a CPU figure): the count stands, and so does the failure.
  const soon = await probe.run(runContext());
  assert.equal(soon.ok, false);
  assert.match(soon.message, /for 2 checks/);

  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, true, healed.message);
  const newPid = healed.details!.pid as number;
  assert.notEqual(newPid, pid);
  const fresh = await probe.run(runContext());
  assert.equal(fresh.ok, true, fresh.message);
  assert.equal(limitsOf(fresh).cpuPercent, null, 'a new pid is a new baseline');
  await sleep(CPU_GAP_MS);
  const again = await probe.run(runContext());
  assert.equal(again.ok, true, again.message);
  assert.match(again.message, new RegExp(`; cpu \\d+% > ${CPU_LIMIT}% \\(1 of 2\\)$`), 'the count started over with the new child');
});

test('limits: an idle child within every limit is ok, its message unchanged, its figures in the details', async (t) => {
  const h = processHarness(t);
  const probe = h.probe({ command: [node, '-e', IDLE], limits: { cpuPercent: CPU_LIMIT, memoryMiB: 1000, children: 0, forCycles: 1 } });
  await probe.run(runContext());
  await sleep(CPU_GAP_MS);
  const result = await probe.run(runContext());
  assert.equal(result.ok, true, result.message);
  assert.match(result.message, /^pid \d+ up \d+ms$/);
  const limits = limitsOf(result);
  assert.ok((limits.cpuPercent as number) < CPU_LIMIT, `idle cpu ${String(limits.cpuPercent)}%`);
  const memory = limits.memoryBytes as number;
  assert.ok(memory > 10 * MIB && memory < 300 * MIB, `a node process holds tens of MiB, found ${memory}`);
  assert.equal(limits.children, 0);
  assert.deepEqual(limits.over, []);
  assert.deepEqual(limits.max, { cpuPercent: CPU_LIMIT, memoryMiB: 1000, children: 0 });
});

test('limits: a child holding 150 MiB exceeds memoryMiB: 100, counted each run', async (t) => {
  const h = processHarness(t);
  const probe = h.probe({ command: [node, '-e', HOG], limits: { memoryMiB: 100, forCycles: 2 } });
  await probe.start!();
  await h.logged(`holding ${150 * MIB}`);

  const counting = await probe.run(runContext());
  const pid = counting.details!.pid as number;
  assert.equal(counting.ok, true, counting.message);
  assert.match(counting.message, /; memory \d+\.\d MiB > 100 MiB \(1 of 2\)$/);
  const failing = await probe.run(runContext());
  assert.equal(failing.ok, false);
  assert.match(failing.message, new RegExp(`^memory \\d+\\.\\d MiB > 100 MiB for 2 checks \\(pid ${pid}\\)$`));
  assert.ok((limitsOf(failing).memoryBytes as number) > 150 * MIB, JSON.stringify(limitsOf(failing)));
  assert.equal(limitsOf(failing).overLimitFor, 2);
});

test('limits: children counts every process below the child: two children and a grandchild exceed children: 2', async (t) => {
  const h = processHarness(t);
  const probe = h.probe({ command: ['sh', '-c', FORKS], limits: { children: 2, forCycles: 1 } });
  await probe.start!();
  await h.logged('all 3 forked');

  const result = await probe.run(runContext());
  const pid = result.details!.pid as number;
  assert.equal(result.ok, false, result.message);
  assert.equal(result.message, `3 children > 2 for 1 check (pid ${pid})`);
  assert.equal(limitsOf(result).children, 3);
});

test('limits: CPU spent in short-lived commands counts: a loop of /bin/true exceeds cpuPercent', async (t) => {
  const h = processHarness(t);
  const probe = h.probe({ command: ['sh', '-c', FORK_LOOP], limits: { cpuPercent: CPU_LIMIT, forCycles: 1 } });
  await probe.run(runContext());
  await sleep(CPU_GAP_MS);
  const result = await probe.run(runContext());
  assert.equal(result.ok, false, result.message);
  // A sample may catch one of the commands alive: "(pid 4242 and 1 child)".
  assert.match(result.message, new RegExp(`^cpu \\d+% > ${CPU_LIMIT}% for 1 check \\(pid \\d+( and 1 child)?\\)$`));
  assert.ok((limitsOf(result).cpuPercent as number) > CPU_LIMIT);
});

test('limits: the schema refuses limits that say nothing, are out of range or misspelt, and limits on a timer', () => {
  const problems = (limits: string, unit = 'command: [node, w.js]\n    kind: process') =>
    configProblems(`checks:\n  - name: w\n    ${unit}\n    limits: ${limits}\n`).join('\n');
  assert.match(problems('{}'), /checks\[0\]\.limits.*expected at least one of cpuPercent, memoryMiB or children/);
  assert.match(problems('{ forCycles: 5 }'), /expected at least one of cpuPercent, memoryMiB or children/);
  assert.match(problems('{ cpuPercent: 0 }'), /limits\.cpuPercent/);
  assert.match(problems('{ memoryMiB: 512, forCycles: 0 }'), /limits\.forCycles/);
  assert.match(problems('{ children: 1.5 }'), /limits\.children/);
  assert.match(problems('{ memory: 512 }'), /checks\[0\]\.limits\.memory: unknown key/);
  assert.match(
    problems('{ memoryMiB: 512 }', 'unit: backup.timer\n    kind: systemd'),
    /checks\[0\]\.limits: expected no limits on a timer: it has no process of its own/,
  );

  const parsed = processCheck.params.parse({ command: ['node', 'w.js'], limits: { memoryMiB: 512 } });
  assert.deepEqual(parsed.limits, { memoryMiB: 512, forCycles: 3 });
  assert.equal(processCheck.params.parse({ command: ['node', 'w.js'] }).limits, undefined);
});

test('limits: without /proc the figures pm2 reports are judged; with neither, the run says the limits were not measured', async (t) => {
  const noProc = tempDir(t);
  const signal = new AbortController().signal;
  const reported = new LimitWatch({ memoryMiB: 100, forCycles: 1 }, noProc);
  const verdict = await reported.observe([4242], { signal, reported: { by: 'pm2', cpuPercent: 3, memoryBytes: 200 * MIB } });
  assert.equal(verdict?.failing, true);
  assert.equal(verdict?.text, 'memory 200.0 MiB > 100 MiB for 1 check (pid 4242, as pm2 reports it)');

  const blind = await new LimitWatch({ memoryMiB: 100, forCycles: 1 }, noProc).observe([4242], { signal });
  assert.equal(blind?.failing, false);
  assert.equal(blind?.text, `limits not measured: no ${noProc} on this system`);

  // A pid that is gone by the time /proc is read: not measured, never a failure of its own.
  const gone = spawn(node, ['-e', '']);
  await once(gone, 'exit');
  const vanished = await new LimitWatch({ memoryMiB: 100, forCycles: 1 }).observe([gone.pid!], { signal });
  assert.equal(vanished?.failing, false);
  assert.equal(vanished?.text, `limits not measured: pid ${gone.pid} not in /proc`);
});

test('limits: systemd judges the MainPID it shows; after restart() a new MainPID starts the count over', async (t) => {
  const fake = fakeSystemd(t);
  const hog = await spawnProgram(t, HOG);
  fake.setUnit('agent.service', { activeState: 'active', subState: 'running', result: 'success', mainPid: hog.pid, nRestarts: 0 });
  const { env } = testCheckEnv({ dataDir: tempDir(t) });
  const probe = systemdCheck.create(
    systemdCheck.params.parse({ systemctlBin: fake.bin, unit: 'agent.service', startGrace: '200ms', limits: { memoryMiB: 100, forCycles: 2 } }),
    env,
  );
  await hog.ready;

  const counting = await probe.run(runContext());
  assert.equal(counting.ok, true, counting.message);
  assert.match(counting.message, new RegExp(`^agent.service active \\(running\\), pid ${hog.pid}, 0 restarts; memory \\d+\\.\\d MiB > 100 MiB \\(1 of 2\\)$`));
  const failing = await probe.run(runContext());
  assert.equal(failing.ok, false);
  assert.match(failing.message, new RegExp(`^agent.service: memory \\d+\\.\\d MiB > 100 MiB for 2 checks \\(pid ${hog.pid}\\)$`));
  assert.equal(failing.details!.limitExceeded, true);

  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, true, healed.message);
  // The stand-in names a made-up MainPID; the restarted service is another hog the test starts.
  const second = await spawnProgram(t, HOG);
  await second.ready;
  fake.updateUnit('agent.service', { mainPid: second.pid });
  const fresh = await probe.run(runContext());
  assert.equal(fresh.ok, true, fresh.message);
  assert.match(fresh.message, /; memory \d+\.\d MiB > 100 MiB \(1 of 2\)$/);
  assert.deepEqual(limitsOf(fresh).pids, [second.pid]);
});

test('limits: a real pm2 app holding 150 MiB exceeds memoryMiB: 100; after restart() the count starts over', async (t) => {
  const sandbox = pm2Sandbox(t);
  const marker = join(sandbox.home, 'holding');
  await sandbox.startApp(
    'hog',
    `globalThis.held = Buffer.alloc(150 * 1024 * 1024, 1); require('node:fs').writeFileSync(${JSON.stringify(marker)}, String(held.length)); setInterval(() => {}, 60_000);\n`,
  );
  const { env } = testCheckEnv({ dataDir: tempDir(t), checkName: 'hog' });
  const probe = pm2Check.create(
    pm2Check.params.parse({ pm2Bin: PM2_BIN, pm2Home: sandbox.home, app: 'hog', startGrace: '200ms', limits: { memoryMiB: 100, forCycles: 2 } }),
    env,
  );
  await waitFor(() => existsSync(marker), { what: 'the app to hold its memory' });
  const pid = (await sandbox.app('hog'))!.pid;

  const counting = await probe.run(runContext());
  assert.equal(counting.ok, true, counting.message);
  assert.match(counting.message, /^pm2 app hog online, pid \d+, .*; memory \d+\.\d MiB > 100 MiB \(1 of 2\)$/, JSON.stringify(counting.details));
  assert.equal(limitsOf(counting).source, 'proc');
  const failing = await probe.run(runContext());
  assert.equal(failing.ok, false);
  assert.match(failing.message, new RegExp(`^pm2 app hog: memory \\d+\\.\\d MiB > 100 MiB for 2 checks \\(pid ${pid}\\)$`));

  unlinkSync(marker);
  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, true, healed.message);
  await waitFor(() => existsSync(marker), { what: 'the restarted app to hold its memory' });
  const fresh = await probe.run(runContext());
  assert.equal(fresh.ok, true, fresh.message);
  assert.notEqual(fresh.details!.pid, pid);
  assert.match(fresh.message, /; memory \d+\.\d MiB > 100 MiB \(1 of 2\)$/);
});
