import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { runCommand } from '../../src/exec.js';
import { observeRestartCount } from '../../src/checks/restart-loop.js';
import { SHOW_PROPERTIES, parseShowOutput, systemdCheck } from '../../src/checks/systemd.js';
import type { Probe } from '../../src/checks/types.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { squatPort } from '../helpers/net.js';
import { tempDir } from '../helpers/temp.js';
import { fakeSystemd, type FakeSystemd } from '../fakes/systemctl/state.js';
import { childEnvironment } from '../../src/config/child-env.js';

const SUN_0300 = Date.UTC(2025, 10, 23, 3, 0, 0);
const HOUR = 3_600_000;
/** A service whose main process exited with status 1, as systemd shows it. */
const EXITED_1 = { activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 1 } as const;

function systemdProbe(t: TestContext, fake: FakeSystemd, params: Record<string, unknown>, state?: Map<string, unknown>): Probe {
  const { env } = testCheckEnv({ dataDir: tempDir(t), state });
  return systemdCheck.create(systemdCheck.params.parse({ systemctlBin: fake.bin, ...params }), env);
}

/** The fake's calls from the last `restart` on. */
function callsSinceRestart(fake: FakeSystemd): string[][] {
  const calls = fake.calls();
  const last = calls.findLastIndex((call) => call.includes('restart'));
  return last < 0 ? [] : calls.slice(last);
}

/** A run context whose clock the test moves. */
function clockContext(start: number) {
  let now = start;
  return { ctx: { signal: new AbortController().signal, now: () => now }, advance: (ms: number) => (now += ms) };
}

test('systemd: the stand-in prints what real `systemctl show` prints for these states, byte for byte', async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('worker.service', {
    ...EXITED_1,
    activeEnterTimestamp: SUN_0300,
    activeEnterMonotonic: 5_123_456_789,
  });
  fake.setUnit('backup.timer', {
    activeState: 'active',
    subState: 'waiting',
    result: 'success',
    nextElapse: SUN_0300 + 24 * HOUR,
    lastTrigger: SUN_0300,
    activeEnterTimestamp: Date.UTC(2025, 10, 22, 8, 12, 40),
    activeEnterMonotonic: 4_987_654_321,
  });
  const show = async (unit: string) =>
    (await runCommand([fake.bin, 'show', unit, `--property=${SHOW_PROPERTIES.join(',')}`], { env: childEnvironment() })).stdout;
  const fixture = (name: string) => readFileSync(new URL(`../fakes/systemctl/fixtures/${name}`, import.meta.url), 'utf8');
  assert.equal(await show('worker.service'), fixture('failed-service.txt'));
  assert.equal(await show('backup.timer'), fixture('waiting-timer.txt'));
  assert.equal(await show('ghost.service'), fixture('not-found-service.txt'));
  assert.equal(parseShowOutput('ExecStart={ path=/usr/bin/x ; argv[]=/usr/bin/x --a=b }\n').get('ExecStart'), '{ path=/usr/bin/x ; argv[]=/usr/bin/x --a=b }');
});

test('systemd: an active service is ok; a failed one says why; restart() makes the next run ok and the fake saw it', async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('worker.service', { activeState: 'active', subState: 'running', result: 'success', mainPid: 812, nRestarts: 0, activeEnterTimestamp: SUN_0300 });
  const probe = systemdProbe(t, fake, { unit: 'worker.service' });

  const active = await probe.run(runContext());
  assert.equal(active.ok, true, active.message);
  assert.equal(active.message, 'worker.service active (running) since Sun 2025-11-23 03:00:00 UTC, pid 812, 0 restarts');
  assert.equal(active.details!.pid, 812);
  assert.equal(active.details!.timer, undefined);

  fake.updateUnit('worker.service', { activeState: 'failed', subState: 'failed', result: 'exit-code', mainPid: 0, execMainCode: 1, execMainStatus: 1 });
  const failed = await probe.run(runContext());
  assert.equal(failed.ok, false);
  assert.equal(failed.message, 'worker.service is failed (failed), Result=exit-code, exit status 1');
  assert.equal(failed.details!.result, 'exit-code');
  assert.equal(failed.details!.execMainStatus, 1);
  assert.equal(failed.details!.activeState, 'failed');
  assert.equal(failed.details!.restartLoop, undefined);

  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, true, healed.message);
  assert.match(healed.message, /^systemctl restart worker\.service: pid 4017 up 1s$/, 'a restart counts once the service stayed up its grace');
  assert.equal(healed.details!.startGraceMs, 1000);
  assert.deepEqual(callsSinceRestart(fake)[0], ['restart', 'worker.service']);
  assert.ok(
    callsSinceRestart(fake)
      .slice(1)
      .every((call) => call[0] === 'show'),
    'then only looks at the unit through its grace',
  );
  assert.equal(fake.unit('worker.service')!.restartCalls, 1);
  const back = await probe.run(runContext());
  assert.equal(back.ok, true, back.message);
  assert.notEqual(back.details!.pid, 812, 'a new main process');

  fake.updateUnit('worker.service', { activeState: 'failed', subState: 'failed', result: 'signal', execMainCode: 2, execMainStatus: 9 });
  assert.equal((await probe.run(runContext())).message, 'worker.service is failed (failed), Result=signal, killed by SIGKILL');
});

test("systemd: a restart that systemd refuses or that fails comes back as a failed heal with systemctl's words", async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('worker.service', {
    ...EXITED_1,
    restartFails: { exitStatus: 2 },
  });
  const failing = await systemdProbe(t, fake, { unit: 'worker.service' }).restart!(runContext());
  assert.equal(failing.ok, false);
  assert.equal(
    failing.message,
    'systemctl restart worker.service failed: exit 1: Job for worker.service failed because the control process exited with error code.',
  );
  assert.equal(failing.details!.exitCode, 1);
  assert.match(failing.details!.stderrTail as string, /journalctl -xeu worker\.service/);

  const missing = await systemdProbe(t, fake, { unit: 'ghost.service' }).restart!(runContext());
  assert.equal(missing.ok, false);
  assert.equal(missing.message, 'systemctl restart ghost.service failed: exit 5: Failed to restart ghost.service: Unit ghost.service not found.');
});

test('systemd: timers are marked as timers, ok while waiting and failing when inactive', async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('backup.timer', { activeState: 'active', subState: 'waiting', result: 'success', nextElapse: SUN_0300 + 24 * HOUR, lastTrigger: SUN_0300 });
  const probe = systemdProbe(t, fake, { unit: 'backup.timer' });
  const waiting = await probe.run(runContext());
  assert.equal(waiting.ok, true, waiting.message);
  assert.equal(waiting.details!.timer, true);
  assert.equal(waiting.message, 'backup.timer active (waiting), next Mon 2025-11-24 03:00:00 UTC, last Sun 2025-11-23 03:00:00 UTC');
  assert.equal(waiting.details!.nRestarts, undefined, 'timers have no NRestarts');

  fake.updateUnit('backup.timer', { activeState: 'inactive', subState: 'dead', nextElapse: null });
  const inactive = await probe.run(runContext());
  assert.equal(inactive.ok, false);
  assert.equal(inactive.details!.timer, true);
  assert.equal(inactive.message, 'backup.timer is inactive (dead)');

  assert.equal((await probe.restart!(runContext())).ok, true);
  assert.deepEqual(fake.calls().at(-1), ['restart', 'backup.timer'], 'the timer itself is restarted');
  const rearmed = await probe.run(runContext());
  assert.equal(rearmed.ok, true, rearmed.message);
  assert.equal(rearmed.details!.subState, 'waiting');
});

test('systemd: an unknown unit, and a systemctl that cannot reach systemd, say so', async (t) => {
  const fake = fakeSystemd(t);
  const ghost = await systemdProbe(t, fake, { unit: 'ghost.service' }).run(runContext());
  assert.equal(ghost.ok, false);
  assert.equal(ghost.message, 'unit ghost.service not found');
  assert.equal(ghost.details!.loadState, 'not-found');
  const ghostTimer = await systemdProbe(t, fake, { unit: 'ghost.timer' }).run(runContext());
  assert.equal(ghostTimer.message, 'unit ghost.timer not found');
  assert.equal(ghostTimer.details!.timer, true);

  // The stand-in without its state folder answers like systemctl on this machine (no systemd as PID 1).
  const { env } = testCheckEnv({ dataDir: tempDir(t) });
  const noBus = await systemdCheck
    .create(systemdCheck.params.parse({ unit: 'worker.service', systemctlBin: new URL('../fakes/systemctl/systemctl', import.meta.url).pathname }), env)
    .run(runContext());
  assert.equal(noBus.ok, false);
  assert.equal(noBus.message, "systemctl show worker.service failed: exit 1: System has not been booted with systemd as init system (PID 1). Can't operate.");
  assert.match(noBus.details!.stderrTail as string, /Failed to connect to bus: Host is down/);

  const noBinary = await systemdProbe(t, fake, { unit: 'worker.service', systemctlBin: '/nonexistent/systemctl' }).run(runContext());
  assert.match(noBinary.message, /^systemctl show worker\.service failed: could not start: .*ENOENT/);
  assert.throws(() => systemdCheck.params.parse({ unit: '--all' }), /a unit name cannot start with/);
});

test('systemd: NRestarts climbing past the threshold inside the window is a restart loop, even while the unit looks active', async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('worker.service', { activeState: 'active', subState: 'running', result: 'success', mainPid: 900, nRestarts: 0 });
  const state = new Map<string, unknown>();
  const probe = systemdProbe(t, fake, { unit: 'worker.service', restartLoop: { maxRestarts: 3, window: '10m' } }, state);
  const { ctx, advance } = clockContext(SUN_0300);

  assert.equal((await probe.run(ctx)).ok, true);
  // Restart=always brings it back each time: between two patrols it crashed and came back three times.
  advance(60_000);
  fake.updateUnit('worker.service', { nRestarts: 3, mainPid: 950 });
  const three = await probe.run(ctx);
  assert.equal(three.ok, true, 'three restarts are within the allowance');
  assert.equal(three.details!.restartsInWindow, 3);

  advance(60_000);
  fake.updateUnit('worker.service', { nRestarts: 4, mainPid: 960 });
  const loop = await probe.run(ctx);
  assert.equal(loop.ok, false);
  assert.equal(loop.details!.restartLoop, true);
  assert.equal(loop.message, 'restart loop: 4 restarts in 10m (worker.service, now active/running)');

  // A new probe over the same persisted state (Nightshift restarted) remembers the history.
  const again = await systemdProbe(t, fake, { unit: 'worker.service', restartLoop: { maxRestarts: 3, window: '10m' } }, state).run(ctx);
  assert.equal(again.details!.restartLoop, true);

  // Once the restarts are older than the window and it holds, it is fine again.
  advance(11 * 60_000);
  const calm = await probe.run(ctx);
  assert.equal(calm.ok, true, calm.message);
  assert.equal(calm.details!.restartsInWindow, 0);
});

test('systemd: a unit that hit its start limit is a restart loop', async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('worker.service', { activeState: 'failed', subState: 'failed', result: 'start-limit-hit', nRestarts: 5, execMainCode: 1, execMainStatus: 1 });
  const result = await systemdProbe(t, fake, { unit: 'worker.service' }).run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.details!.restartLoop, true);
  assert.equal(result.message, 'restart loop: worker.service hit its start limit, systemd stopped restarting it');
});

test('systemd: user: true talks to the user manager with --user, for show and restart', async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('agent.service', EXITED_1, { user: true });
  const probe = systemdProbe(t, fake, { unit: 'agent.service', user: true });
  const failed = await probe.run(runContext());
  assert.equal(failed.ok, false, 'the user unit is seen, not the (absent) system one');
  assert.equal(failed.details!.loadState, 'loaded');
  assert.deepEqual(fake.calls()[0], ['--user', 'show', 'agent.service', `--property=${SHOW_PROPERTIES.join(',')}`]);

  const healed = await probe.restart!(runContext());
  assert.match(healed.message, /^systemctl --user restart agent\.service: pid \d+ up 1s$/);
  assert.deepEqual(callsSinceRestart(fake)[0], ['--user', 'restart', 'agent.service']);
  assert.ok(
    callsSinceRestart(fake).every((call) => call[0] === '--user'),
    'the grace is watched on the user manager too',
  );
  assert.equal(fake.unit('agent.service', { user: true })!.activeState, 'active');
  assert.equal(fake.unit('agent.service'), undefined, 'the system manager was not touched');
  assert.equal((await probe.run(runContext())).ok, true);
});

test('restart loop history: counts only restarts inside the window, restarts after a counter reset, stays bounded', () => {
  let history = observeRestartCount([], 10, 0, 600_000).history;
  assert.deepEqual(history, [{ at: 0, count: 10 }]);
  let step = observeRestartCount(history, 10, 30_000, 600_000);
  assert.deepEqual(step.history, [{ at: 30_000, count: 10 }], 'an unchanged count only moves its time');
  step = observeRestartCount(step.history, 14, 60_000, 600_000);
  assert.equal(step.restartsInWindow, 4);
  step = observeRestartCount(step.history, 0, 90_000, 600_000);
  assert.deepEqual(step, { history: [{ at: 90_000, count: 0 }], restartsInWindow: 0 }, 'a reset counter starts a new history');

  history = [];
  for (let i = 0; i < 2000; i++) history = observeRestartCount(history, i, i, 10_000_000).history;
  assert.equal(history.length, 512);
});

test('systemd: a service that dies inside its start grace fails its restart; one systemd restarts under a new pid fails it too, and so does a run right after', async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('worker.service', {
    ...EXITED_1,
    crashesAfterStart: { afterMs: 400 },
  });
  const probe = systemdProbe(t, fake, { unit: 'worker.service' });
  const heal = await probe.restart!(runContext());
  assert.equal(heal.ok, false, heal.message);
  // Seen dying while watched, or (a slow machine) already failed at the first look after the restart.
  assert.match(
    heal.message,
    /^systemctl restart worker\.service: (pid 4017 exited with code 1, inside its 1s start grace \(now failed \(failed\), Result=exit-code\)|done, but it is failed \(failed\) right after it, Result=exit-code, exit status 1)$/,
  );
  assert.equal(heal.details!.duringStartup, true);

  fake.setUnit('api.service', {
    activeState: 'failed',
    subState: 'failed',
    result: 'exit-code',
    crashesAfterStart: { afterMs: 300, exitStatus: 2, autoRestart: true },
  });
  const api = systemdProbe(t, fake, { unit: 'api.service', restartLoop: { maxRestarts: 1000, window: '10m' } });
  const looping = await api.restart!(runContext());
  assert.equal(looping.ok, false, looping.message);
  assert.match(looping.message, /^systemctl restart api\.service: pid \d+ exited with code 2, inside its 1s start grace \(systemd restarted it as pid \d+\)$/);
  // systemd brought it back under a new pid less than a second ago: the run waits, sees it die again, and says so.
  const run = await api.run(runContext());
  assert.equal(run.ok, false, run.message);
  assert.match(run.message, /^api\.service: pid \d+ exited with code 2, inside its 1s start grace \(systemd restarted it as pid \d+\)$/);
  assert.equal(run.details!.duringStartup, true);
  assert.equal(run.details!.startGraceMs, 1000);
});

test('systemd: a service that stays active with the same MainPID counts as restarted after its grace; a run inside a long grace says it is still starting', async (t) => {
  const fake = fakeSystemd(t);
  fake.setUnit('worker.service', EXITED_1);
  const probe = systemdProbe(t, fake, { unit: 'worker.service' });
  const started = performance.now();
  const heal = await probe.restart!(runContext());
  assert.equal(heal.ok, true, heal.message);
  assert.ok(performance.now() - started >= 950, `counted as started after ${Math.round(performance.now() - started)} ms, inside its grace`);
  assert.equal(heal.details!.startedVia, 'grace');

  const slow = systemdProbe(t, fake, { unit: 'worker.service', startGrace: '10s' });
  await slow.restart!({ signal: AbortSignal.timeout(300), now: Date.now });
  const run = await slow.run({ signal: AbortSignal.timeout(500), now: Date.now });
  assert.equal(run.ok, false, run.message);
  assert.match(run.message, /^worker\.service still starting \(up \d+ms of a 10s start grace\)$/);
  assert.equal(run.details!.starting, true);
});

test('systemd: ready: {port} counts a restarted service as started as soon as its port answers, well before a 5s grace', async (t) => {
  const fake = fakeSystemd(t);
  // The test's own server stands for the service's listener (the stand-in systemd runs no process).
  const port = await squatPort(t);
  fake.setUnit('api.service', { activeState: 'failed', subState: 'failed', result: 'exit-code' });
  const probe = systemdProbe(t, fake, { unit: 'api.service', startGrace: '5s', ready: { port } });
  const started = performance.now();
  const heal = await probe.restart!(runContext());
  assert.equal(heal.ok, true, heal.message);
  assert.equal(heal.message, `systemctl restart api.service: pid 4017 ready on :${port}`);
  assert.ok(performance.now() - started < 4000, `waited ${Math.round(performance.now() - started)} ms: the grace, not readiness`);
  assert.equal(heal.details!.ready, 'port');
});
