import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { eventStormCheck } from '../../src/checks/event-storm.js';
import { parseJlist } from '../../src/checks/pm2-list.js';
import type { CheckConfig, Probe } from '../../src/checks/types.js';
import { createStopStep, ownUnits, stopAction, type OwnUnits } from '../../src/heal/stop.js';
import type { HealEnvironment, HealTarget } from '../../src/heal/types.js';
import { isProcessRunning } from '../../src/util/proc.js';
import { runContext, testCheckEnv, testHealEnv } from '../helpers/check-env.js';
import { PM2_BIN, pm2Sandbox } from '../helpers/pm2.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { FAKE_SYSTEMCTL, fakeSystemd, type FakeSystemd } from '../fakes/systemctl/state.js';

const NOT_UNDER_PM2_OR_SYSTEMD: OwnUnits = { pm2: null, systemd: [] };
const LONG_RUNNING = 'setInterval(() => {}, 60_000);\n';

/** What a heal step is given: a check that is failing and its probe (one with no breaker unless a test passes one). */
function targetOf(probe: Probe = { run: async () => ({ ok: false, message: 'failing' }) }, name = 'api-storm'): HealTarget {
  const check = { name, kind: 'command', params: {}, heal: [] } as unknown as CheckConfig;
  return { check, probe };
}

function stopStep(env: HealEnvironment, params: Record<string, unknown>, own: OwnUnits = NOT_UNDER_PM2_OR_SYSTEMD) {
  return createStopStep(stopAction.params.parse(params), env, own);
}

/** A run context whose clock the test moves. */
function movableClock(start = Date.UTC(2025, 10, 23, 3, 0, 0)) {
  let now = start;
  return { ctx: { signal: new AbortController().signal, now: () => now }, advance: (ms: number) => (now += ms) };
}

/** A real process standing in for the storming service; killed when the test ends if it is still there. */
function stormingProcess(t: TestContext): number {
  const child = spawn(process.execPath, ['-e', LONG_RUNNING], { stdio: 'ignore' });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  assert.ok(child.pid);
  return child.pid;
}

test('stop run: a real stop command runs once; within the cooldown a second stop is refused, also after a restart of Nightshift', async (t) => {
  const dataDir = tempDir(t);
  const ranLog = join(tempDir(t), 'ran');
  const pid = stormingProcess(t);
  const { env } = testHealEnv({ dataDir });
  const params = { run: `echo stop >> '${ranLog}'; kill ${pid}`, cooldown: '15m' };
  const { ctx, advance } = movableClock();

  const stopped = await stopStep(env, params).run(targetOf(), ctx);
  assert.equal(stopped.ok, true, stopped.message);
  assert.equal(stopped.message, 'ran the stop command (echo …); start what it stopped again by hand once the storm is explained');
  await waitFor(() => !isProcessRunning(pid), { what: 'the storming process to end' });
  assert.equal(readFileSync(ranLog, 'utf8'), 'stop\n');

  advance(4 * 60_000);
  const again = await stopStep(env, params).run(targetOf(), ctx);
  assert.equal(again.ok, false);
  assert.equal(again.message, 'ran the stop command (echo …) 4m ago; next stop allowed in 11m');
  assert.equal(again.details!.refused, 'cooldown');
  // A new step instance (Nightshift restarted) reads the same record from the data directory.
  advance(60_000);
  const afterRestart = await stopStep(testHealEnv({ dataDir }).env, params).run(targetOf(), ctx);
  assert.match(afterRestart.message, / 5m ago; next stop allowed in 10m$/);
  assert.equal(readFileSync(ranLog, 'utf8'), 'stop\n', 'nothing ran within the cooldown');
  assert.equal(readdirSync(join(dataDir, 'stops')).length, 1);

  advance(10 * 60_000);
  const later = await stopStep(env, params).run(targetOf(), ctx);
  assert.equal(later.ok, false, 'kill of a gone pid fails, but it ran: the cooldown is over');
  assert.match(later.message, /^could not run the stop command \(echo …\): exit 1: .*No such process/);
  assert.equal(readFileSync(ranLog, 'utf8'), 'stop\nstop\n');
  // A stop that failed is not remembered: the next heal may try again at once.
  const retried = await stopStep(env, params).run(targetOf(), ctx);
  assert.equal(retried.details!.refused, undefined, retried.message);
  assert.equal(readFileSync(ranLog, 'utf8'), 'stop\nstop\nstop\n');
});

test('stop run: a command that names Nightshift, its own pm2 app or a protected unit is refused; a script path is not a name', async (t) => {
  const dataDir = tempDir(t);
  const ranLog = join(dataDir, 'ran');
  const { env } = testHealEnv({ dataDir });
  const own = ownUnits({ pm_id: '0', name: 'ops-bot' }, '0::/system.slice/ops.service\n');
  const run = (command: string, extra: Record<string, unknown> = {}) => stopStep(env, { run: command, ...extra }, own).run(targetOf(), runContext());
  const cases = [
    [await run(`pkill -f nightshift; echo ran >> '${ranLog}'`), 'nightshift is named like Nightshift itself'],
    [await run(`pm2 stop ops-bot; echo ran >> '${ranLog}'`), "ops-bot is Nightshift's own pm2 app (pm_id 0)"],
    [await run(`systemctl stop ops; echo ran >> '${ranLog}'`), 'ops is a systemd unit Nightshift runs in (/proc/self/cgroup)'],
    [await run(`docker stop billing; echo ran >> '${ranLog}'`, { protected: ['billing'] }), 'billing is on the protected list'],
  ] as const;
  for (const [result, reason] of cases) {
    assert.equal(result.ok, false);
    assert.match(result.message, /^refused to run the stop command \((pkill|pm2|systemctl|docker) …\): /);
    assert.ok(result.message.endsWith(`: ${reason}; nothing was run`), result.message);
  }
  assert.equal(existsSync(ranLog), false, 'no refused command ran');
  // A sleep of 0 s is no pm2 id, and a script kept under a nightshift folder is no name of Nightshift.
  const script = join(dataDir, 'nightshift-scripts', 'stop-api.sh');
  const allowed = await run(`sleep 0; echo ran >> '${ranLog}' # ${script}`);
  assert.equal(allowed.ok, true, allowed.message);
  assert.equal(readFileSync(ranLog, 'utf8'), 'ran\n');
});

test('stop pm2: stops a storming app for real; refuses Nightshift’s own app, *nightshift* names and the protected list without running anything', async (t) => {
  const sandbox = pm2Sandbox(t);
  await sandbox.startApp('worker', LONG_RUNNING);
  await sandbox.startApp('ops-bot', LONG_RUNNING);
  await sandbox.startApp('nightshift-agent', LONG_RUNNING);
  await sandbox.startApp('billing', LONG_RUNNING);
  const listed = parseJlist((await sandbox.pm2('jlist')).stdout)!;
  const ourPmId = String(listed.find((app) => app.name === 'ops-bot')!.pm_id);
  // Nightshift "is" ops-bot: pm2 gives its apps pm_id and name in their environment, which the action reads once.
  const own = ownUnits({ pm_id: ourPmId, name: 'ops-bot' }, '');
  const { env } = testHealEnv({ dataDir: tempDir(t) });
  const pm2 = (app: string, extra: Record<string, unknown> = {}) => stopStep(env, { pm2: app, pm2Bin: PM2_BIN, pm2Home: sandbox.home, ...extra }, own);

  const worker = await pm2('worker').run(targetOf(), runContext());
  assert.equal(worker.ok, true, worker.message);
  assert.equal(worker.message, `stopped pm2 app worker (PM2_HOME ${sandbox.home}); start it again with \`pm2 start worker\` once the storm is explained`);
  assert.equal((await sandbox.app('worker'))!.status, 'stopped');

  const refusals = [
    [await pm2('ops-bot').run(targetOf(), runContext()), `ops-bot is Nightshift's own pm2 app (pm_id ${ourPmId})`],
    [await pm2(ourPmId).run(targetOf(), runContext()), `${ourPmId} is Nightshift's own pm2 app (pm_id ${ourPmId})`],
    [await pm2('nightshift-agent').run(targetOf(), runContext()), 'nightshift-agent is named like Nightshift itself'],
    [await pm2('billing', { protected: ['billing'] }).run(targetOf(), runContext()), 'billing is on the protected list'],
  ] as const;
  for (const [result, reason] of refusals) {
    assert.equal(result.ok, false);
    assert.match(result.message, new RegExp(`^refused to stop pm2 app .*: ${reason.replace(/[()]/g, '\\$&')}; nothing was run$`));
  }
  for (const app of ['ops-bot', 'nightshift-agent', 'billing']) assert.equal((await sandbox.app(app))!.status, 'online', `${app} is still online`);

  // A name pm2 does not know would be read as a namespace: refused before anything runs.
  const ghost = await pm2('default').run(targetOf(), runContext());
  assert.equal(ghost.ok, false);
  assert.equal(ghost.message, `did not stop pm2 app default (PM2_HOME ${sandbox.home}): pm2 has no app by that name or id; nothing was run`);
  assert.equal((await sandbox.app('billing'))!.status, 'online');
});

/** The stand-in systemctl with `stop` added (the stand-in implements show and restart only). */
function systemctlWithStop(t: TestContext, fake: FakeSystemd): string {
  const fixture = fileURLToPath(new URL('./fixtures/systemctl-stop.mjs', import.meta.url));
  const bin = join(tempDir(t), 'systemctl');
  writeFileSync(bin, `#!/bin/sh\nFAKE_SYSTEMD_DIR='${fake.dir}' FAKE_SYSTEMCTL='${FAKE_SYSTEMCTL}' exec node '${fixture}' "$@"\n`);
  chmodSync(bin, 0o755);
  return bin;
}

test('stop systemd: systemctl --user stop of the storming unit; the units Nightshift runs in (its cgroup) are refused', async (t) => {
  const fake = fakeSystemd(t);
  const systemctlBin = systemctlWithStop(t, fake);
  const running = { activeState: 'active', subState: 'running', result: 'success', mainPid: 812, nRestarts: 0 } as const;
  fake.setUnit('api.service', running, { user: true });
  fake.setUnit('ops.service', running, { user: true });
  // Nightshift runs as the user unit ops.service; its slices and the user manager above it would take it down too.
  const own = ownUnits({}, '0::/user.slice/user-1000.slice/user@1000.service/app.slice/ops.service\n');
  assert.deepEqual(own.systemd, ['user.slice', 'user-1000.slice', 'user@1000.service', 'app.slice', 'ops.service']);
  const { env } = testHealEnv({ dataDir: tempDir(t) });
  const unit = (name: string) => stopStep(env, { systemd: name, user: true, systemctlBin }, own);

  const api = await unit('api').run(targetOf(), runContext());
  assert.equal(api.ok, true, api.message);
  assert.equal(api.message, 'stopped systemd unit api.service (--user); start it again with `systemctl --user start api.service` once the storm is explained');
  assert.deepEqual(fake.calls().at(-1), ['--user', 'stop', 'api']);
  assert.equal(fake.unit('api.service', { user: true })!.activeState, 'inactive');

  for (const name of ['ops', 'app.slice', 'user@1000.service']) {
    const result = await unit(name).run(targetOf(), runContext());
    assert.equal(result.ok, false);
    assert.match(result.message, /is a systemd unit Nightshift runs in \(\/proc\/self\/cgroup\); nothing was run$/);
  }
  assert.equal(fake.calls().length, 1, 'only the one stop ran');
  assert.equal(fake.unit('ops.service', { user: true })!.activeState, 'active');

  const gone = await stopStep(env, { systemd: 'ghost', systemctlBin }).run(targetOf(), runContext());
  assert.equal(gone.ok, false);
  assert.equal(gone.message, 'could not stop systemd unit ghost.service: exit 5: Failed to stop ghost.service: Unit ghost.service not loaded.');

  // The real cgroup file of this process parses into units (or none, in a container without systemd).
  const mine = ownUnits(process.env, existsSync('/proc/self/cgroup') ? readFileSync('/proc/self/cgroup', 'utf8') : '');
  for (const name of mine.systemd) assert.match(name, /\.(service|scope|slice)$/);
});

test('stop on an event-storm check: nothing is stopped while the breaker is closed (the source only unreadable), only once it trips', async (t) => {
  const dir = tempDir(t);
  const log = join(dir, 'access.log');
  const { env: checkEnv } = testCheckEnv({ dataDir: dir, checkName: 'api-storm' });
  const probe = eventStormCheck.create(eventStormCheck.params.parse({ maxEvents: 2, requests: { path: log } }), checkEnv);
  const ranLog = join(dir, 'ran');
  const step = stopStep(testHealEnv({ dataDir: dir }).env, { run: `echo stop >> '${ranLog}'` });

  const missing = await probe.run(runContext());
  assert.equal(missing.ok, false, 'a missing log fails the check');
  const closed = await step.run(targetOf(probe), runContext());
  assert.equal(closed.ok, false);
  assert.equal(closed.message, 'did not run the stop command (echo …): the breaker of api-storm is not tripped');
  assert.equal(existsSync(ranLog), false);

  writeFileSync(log, 'GET /a\nGET /b\nGET /c\n');
  assert.equal((await probe.run(runContext())).details!.breaker, 'tripped');
  const stopped = await step.run(targetOf(probe), runContext());
  assert.equal(stopped.ok, true, stopped.message);
  assert.equal(readFileSync(ranLog, 'utf8'), 'stop\n');
});

test('stop params: one target, no pattern that could match Nightshift, keys that belong to their target', () => {
  const issues = (value: Record<string, unknown>) => {
    const parsed = stopAction.params.safeParse(value);
    assert.equal(parsed.success, false, JSON.stringify(value));
    return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };
  assert.deepEqual(issues({}), ['pm2: expected one thing to stop: pm2, systemd or run']);
  assert.deepEqual(issues({ pm2: 'api', systemd: 'api' }), ['systemd: expected one thing to stop only (pm2 is set too)']);
  assert.deepEqual(issues({ pm2: 'all' }), ['pm2: "all" would stop every pm2 app, Nightshift\'s own included; name one app']);
  assert.deepEqual(issues({ systemd: 'api-*' }), ['systemd: a unit pattern may match a unit that must not be stopped; name one unit']);
  assert.deepEqual(issues({ run: 'kill 1', user: true }), ['user: expected user only with a systemd target']);
  assert.match(issues({ pm2: 'api', cooldown: 'later' })[0]!, /^cooldown: expected a duration/);
  assert.equal(stopAction.params.parse({ pm2: 'api' }).cooldown, 900_000, 'the cooldown is 15m unless set');
});
