import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dockerCheck } from '../../src/checks/docker.js';
import type { CheckResult, CheckRunContext, Probe } from '../../src/checks/types.js';
import { FakeDockerEngine, type FakeEngineOptions } from '../fakes/docker/engine.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';

const SECRET = 'pg-pa55-do-not-leak';
const CONNECT_REFUSED = 'curl: (7) Failed to connect to 127.0.0.1 port 8080 after 0 ms: Connection refused';

async function fakeDocker(t: TestContext, options: FakeEngineOptions = {}): Promise<FakeDockerEngine> {
  const fake = await FakeDockerEngine.start(tempDir(t, 'ns-docker-'), options);
  t.after(() => fake.close());
  return fake;
}

function dockerProbe(t: TestContext, socket: string, params: Record<string, unknown>, state?: Map<string, unknown>): Probe {
  const { env } = testCheckEnv({ dataDir: tempDir(t), state, checkName: 'api' });
  return dockerCheck.create(dockerCheck.params.parse({ socket, ...params }), env);
}

/** What the fake was asked, as "METHOD /path?query". */
function asked(fake: FakeDockerEngine): string[] {
  return fake.requests().map((r) => `${r.method} ${r.url}`);
}

/** A run context whose clock the test moves: the restart-loop window is measured on it. */
function clockContext(start: number): { ctx: CheckRunContext; advance: (ms: number) => void } {
  let now = start;
  return { ctx: { signal: new AbortController().signal, now: () => now }, advance: (ms) => void (now += ms) };
}

test('docker: a running, healthy container is ok with its health and restart count; the API version comes from /_ping; no secret shows', async (t) => {
  const fake = await fakeDocker(t);
  fake.add({ name: 'api', health: { status: 'healthy' }, restartCount: 2, env: [`DATABASE_URL=postgres://app:${SECRET}@db/app`] });
  fake.add({ name: 'worker' });
  const probe = dockerProbe(t, fake.socketPath, { container: 'api' });

  const result = await probe.run(runContext());
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, 'running, healthy, up 1m (restarts: 2)');
  assert.equal(result.details!.state, 'running');
  assert.equal(result.details!.health, 'healthy');
  assert.equal(result.details!.restartCount, 2);
  assert.equal(result.details!.exitCode, 0);
  assert.equal(result.details!.oomKilled, false);
  assert.equal(result.details!.apiVersion, '1.47');
  assert.equal(result.details!.container, 'api');
  assert.equal(result.details!.id, fake.container('api')!.id.slice(0, 12));
  assert.match(String(result.details!.startedAt), /^\d{4}-\d\d-\d\dT/);
  assert.equal(JSON.stringify(result).includes(SECRET), false, 'the container environment never reaches a result');
  assert.deepEqual(asked(fake), ['GET /_ping', 'GET /v1.47/containers/api/json']);

  // The negotiated version is kept: the next patrol is a single request.
  await probe.run(runContext());
  assert.equal(asked(fake).length, 3);

  const worker = await dockerProbe(t, fake.socketPath, { container: 'worker' }).run(runContext());
  assert.equal(worker.ok, true, worker.message);
  assert.equal(worker.message, 'running, up 1m (restarts: 0)');
  assert.equal(worker.details!.health, 'none');

  // A pinned version is used as written, without asking, and the socket may be written as DOCKER_HOST is.
  const pinned = await dockerProbe(t, `unix://${fake.socketPath}`, { container: '/worker', apiVersion: '1.44' }).run(runContext());
  assert.equal(pinned.ok, true, pinned.message);
  assert.equal(asked(fake).at(-1), 'GET /v1.44/containers/worker/json');
  assert.equal(asked(fake).at(-2), 'GET /v1.47/containers/worker/json');
});

test('docker: a version the daemon no longer speaks fails with its own words and what to change', async (t) => {
  // Docker 29 refuses every API version before 1.44.
  const fake = await fakeDocker(t, { apiVersion: '1.52', minApiVersion: '1.44' });
  fake.add({ name: 'api' });
  const old = await dockerProbe(t, fake.socketPath, { container: 'api', apiVersion: '1.41' }).run(runContext());
  assert.equal(old.ok, false);
  assert.equal(
    old.message,
    'Docker answered HTTP 400 inspecting api: client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version (set apiVersion to one it supports, or leave it out to use the newest it offers)',
  );
  assert.equal(old.details!.httpStatus, 400);
  const negotiated = await dockerProbe(t, fake.socketPath, { container: 'api' }).run(runContext());
  assert.equal(negotiated.ok, true, negotiated.message);
  assert.equal(negotiated.details!.apiVersion, '1.52');
});

test('docker: an unhealthy container fails with what its health check printed; requireHealthy: false only reports it', async (t) => {
  const fake = await fakeDocker(t);
  fake.add({
    name: 'api',
    health: { status: 'unhealthy', outputs: [CONNECT_REFUSED, CONNECT_REFUSED, `  % Total    % Received % Xferd\n${CONNECT_REFUSED}\n`] },
  });
  const result = await dockerProbe(t, fake.socketPath, { container: 'api' }).run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.message, `running but unhealthy: ${CONNECT_REFUSED}`);
  assert.equal(result.details!.health, 'unhealthy');
  assert.equal(result.details!.failingStreak, 3);

  const lenient = await dockerProbe(t, fake.socketPath, { container: 'api', requireHealthy: false }).run(runContext());
  assert.equal(lenient.ok, true, lenient.message);
  assert.equal(lenient.message, `running, up 1m, unhealthy (not required): ${CONNECT_REFUSED} (restarts: 0)`);

  // Endless health check output is clipped to one readable line.
  fake.add({ name: 'chatty', health: { status: 'unhealthy', outputs: [`error: ${'upstream timed out '.repeat(200)}`] } });
  const chatty = await dockerProbe(t, fake.socketPath, { container: 'chatty' }).run(runContext());
  assert.equal(chatty.ok, false);
  assert.ok(chatty.message.startsWith('running but unhealthy: error: upstream timed out'));
  assert.ok(chatty.message.length < 220, `clipped: ${chatty.message.length} characters`);
});

test('docker: a stopped container says how it ended, when, and why from its own output', async (t) => {
  const fake = await fakeDocker(t);
  fake.add({ name: 'ollama', status: 'exited', exitCode: 137, oomKilled: true, finishedAgoMs: 3 * 60_000 });
  const oom = await dockerProbe(t, fake.socketPath, { container: 'ollama' }).run(runContext());
  assert.equal(oom.ok, false);
  assert.equal(oom.message, 'exited (137, OOM killed) 3m ago');
  assert.equal(oom.details!.exitCode, 137);
  assert.equal(oom.details!.oomKilled, true);
  assert.equal(oom.details!.state, 'exited');

  fake.add({
    name: 'api',
    status: 'exited',
    exitCode: 1,
    finishedAgoMs: 5_000,
    stdout: ['listening soon'],
    stderr: ['Error: connect ECONNREFUSED 10.0.0.5:5432', '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)'],
  });
  const crashed = await dockerProbe(t, fake.socketPath, { container: 'api' }).run(runContext());
  assert.equal(crashed.message, 'exited (1) 5s ago: Error: connect ECONNREFUSED 10.0.0.5:5432');
  assert.ok(asked(fake).some((line) => line.startsWith(`GET /v1.47/containers/${fake.container('api')!.id}/logs?stdout=1&stderr=1&tail=50&since=`)));

  // A TTY container's log is one raw stream; a SIGTERM exit names the signal.
  fake.add({
    name: 'agent',
    status: 'exited',
    exitCode: 143,
    finishedAgoMs: 2 * 3_600_000,
    tty: true,
    stdout: ['shutting down', 'FATAL: model file truncated'],
  });
  const agent = await dockerProbe(t, fake.socketPath, { container: 'agent' }).run(runContext());
  assert.equal(agent.message, 'exited (143: SIGTERM) 2h ago: FATAL: model file truncated');

  // The daemon's own error wins: it says why the process never ran.
  fake.add({ name: 'typo', status: 'created', error: 'exec: "servr.js": executable file not found in $PATH' });
  const typo = await dockerProbe(t, fake.socketPath, { container: 'typo' }).run(runContext());
  assert.equal(typo.message, 'created but never started: exec: "servr.js": executable file not found in $PATH');
});

test('docker: an unknown container is "no such container", for a run and for a restart', async (t) => {
  const fake = await fakeDocker(t);
  fake.add({ name: 'api' });
  const probe = dockerProbe(t, fake.socketPath, { container: 'apii' });
  const result = await probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.message, 'no such container: apii');
  assert.equal(result.details!.httpStatus, 404);
  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, false);
  assert.equal(healed.message, 'docker restart apii failed: no such container: apii');
  // A unique id prefix finds it, as `docker inspect` does.
  const byId = await dockerProbe(t, fake.socketPath, { container: fake.container('api')!.id.slice(0, 10) }).run(runContext());
  assert.equal(byId.ok, true, byId.message);
  assert.equal(byId.details!.container, 'api');
});

test('docker: no socket, a stale socket file, and no answer each say what is wrong', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'docker.sock');
  const none = await dockerProbe(t, missing, { container: 'api' }).run(runContext());
  assert.equal(none.ok, false);
  assert.equal(
    none.message,
    `cannot reach Docker at ${missing}: no such socket (is the Docker daemon running? rootless Docker listens on $XDG_RUNTIME_DIR/docker.sock)`,
  );
  assert.equal(none.details!.errorCode, 'ENOENT');
  assert.equal(none.details!.socket, missing);

  // What a daemon that died leaves behind: the path is there, nothing listens.
  writeFileSync(missing, '');
  const stale = await dockerProbe(t, missing, { container: 'api' }).run(runContext());
  assert.equal(stale.message, `cannot reach Docker at ${missing}: connection refused (nothing listens on it: is the Docker daemon running?)`);
  assert.equal(stale.details!.errorCode, 'ECONNREFUSED');

  const fake = await fakeDocker(t);
  fake.add({ name: 'api' });
  fake.hang(true);
  const started = Date.now();
  const hung = await dockerProbe(t, fake.socketPath, { container: 'api' }).run({ signal: AbortSignal.timeout(200), now: Date.now });
  assert.equal(hung.ok, false);
  assert.match(hung.message, new RegExp(`^no answer from Docker at ${fake.socketPath.replace(/[.]/g, '\\.')} after \\d+ ms \\(aborted\\)$`));
  assert.equal(hung.details!.errorCode, 'ABORTED');
  assert.ok(Date.now() - started < 2_000, 'the signal ends the wait');

  // A run whose signal has already fired asks nothing.
  const before = fake.requests().length;
  const aborted = await dockerProbe(t, fake.socketPath, { container: 'api' }).run({ signal: AbortSignal.abort(), now: Date.now });
  assert.equal(aborted.ok, false);
  assert.equal(aborted.details!.errorCode, 'ABORTED');
  assert.equal(fake.requests().length, before);
});

test('docker: a socket this user may not open is "permission denied", with the fix', async (t) => {
  const fake = await fakeDocker(t);
  fake.add({ name: 'api' });
  chmodSync(join(fake.socketPath, '..'), 0o755);
  chmodSync(fake.socketPath, 0o600);
  let result: CheckResult;
  if (process.getuid?.() !== 0) {
    chmodSync(fake.socketPath, 0o000);
    result = await dockerProbe(t, fake.socketPath, { container: 'api' }).run(runContext());
  } else {
    // Root ignores permission bits: the real check runs in a child as "nobody", to whom the root-owned 0600 socket is closed.
    const script = [
      `import { dockerCheck } from ${JSON.stringify(fileURLToPath(new URL('../../src/checks/docker.ts', import.meta.url)))};`,
      `import { testCheckEnv } from ${JSON.stringify(fileURLToPath(new URL('../helpers/check-env.ts', import.meta.url)))};`,
      `const { env } = testCheckEnv({ dataDir: '/tmp' });`,
      `const probe = dockerCheck.create(dockerCheck.params.parse({ container: 'api', socket: ${JSON.stringify(fake.socketPath)} }), env);`,
      `console.log(JSON.stringify(await probe.run({ signal: AbortSignal.timeout(5000), now: Date.now })));`,
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { PATH: process.env.PATH, HOME: '/tmp' },
      timeout: 20_000,
    });
    result = JSON.parse(stdout.trim().split('\n').at(-1)!) as CheckResult;
  }
  assert.equal(result.ok, false);
  assert.equal(result.message, `cannot reach Docker at ${fake.socketPath}: permission denied (add the user running Nightshift to the docker group)`);
  assert.equal(result.details!.errorCode, 'EACCES');
  assert.equal(fake.requests().length, 0, 'nothing got through');
});

test('docker: restart() restarts with the stop timeout and counts only once the container is healthy (or stayed up its grace)', async (t) => {
  const fake = await fakeDocker(t);
  fake.add({ name: 'api', status: 'exited', exitCode: 137, oomKilled: true, finishedAgoMs: 60_000, health: { status: 'unhealthy' }, restartCount: 4 });
  fake.update('api', { onRestart: { runs: true, health: { becomes: 'healthy', afterMs: 300 } } });
  const probe = dockerProbe(t, fake.socketPath, { container: 'api', stopTimeout: '3s' });
  assert.equal((await probe.run(runContext())).ok, false);

  const healed = await probe.restart!(runContext());
  assert.equal(healed.ok, true, healed.message);
  assert.match(healed.message, /^docker restart api: running, healthy after \d+ms$/);
  assert.ok(Number(/after (\d+)ms/.exec(healed.message)![1]) >= 300, 'it waited for the health check, not just for "running"');
  assert.equal(healed.details!.startedVia, 'health');
  assert.equal(healed.details!.stopTimeoutSeconds, 3);
  assert.ok(asked(fake).includes('POST /v1.47/containers/api/restart?t=3'));
  assert.equal(fake.container('api')!.status, 'running');
  const after = await probe.run(runContext());
  assert.equal(after.ok, true, after.message);
  assert.match(
    after.message,
    /^running, healthy, up \ds \(restarts: 0\)$/,
    'the run waited out the 1s start grace; a manual restart starts the restart count afresh',
  );

  // Without a healthcheck it must stay running its start grace.
  fake.add({ name: 'worker', status: 'exited', exitCode: 1, finishedAgoMs: 10_000 });
  const worker = dockerProbe(t, fake.socketPath, { container: 'worker', startGrace: '400ms' });
  const restarted = await worker.restart!(runContext());
  assert.equal(restarted.ok, true, restarted.message);
  assert.match(restarted.message, /^docker restart worker: running, up \d+ms$/);
  assert.ok(Number(/up (\d+)ms/.exec(restarted.message)![1]) >= 400, 'it stayed up its whole grace first');
  assert.equal(restarted.details!.startedVia, 'grace');
  assert.ok(asked(fake).includes('POST /v1.47/containers/worker/restart?t=10'), 'the default stop timeout is 10s');
});

test('docker: a restart that does not take is a failed heal, with the reason', async (t) => {
  const fake = await fakeDocker(t);
  fake.add({
    name: 'db',
    status: 'exited',
    exitCode: 1,
    onRestart: { exits: 1, stderr: ['initdb: starting', 'FATAL:  could not write lock file "postmaster.pid": No space left on device'] },
  });
  const atOnce = await dockerProbe(t, fake.socketPath, { container: 'db' }).restart!(runContext());
  assert.equal(atOnce.ok, false);
  assert.equal(
    atOnce.message,
    'docker restart db: done, but it is exited (1) right after it: FATAL: could not write lock file "postmaster.pid": No space left on device',
  );
  assert.equal(atOnce.details!.duringStartup, true);

  fake.add({
    name: 'api',
    status: 'exited',
    exitCode: 1,
    onRestart: { exits: 3, afterMs: 150, stderr: ['Error: listen EADDRINUSE: address already in use 0.0.0.0:8080'] },
  });
  const inGrace = await dockerProbe(t, fake.socketPath, { container: 'api' }).restart!(runContext());
  assert.equal(inGrace.ok, false);
  assert.match(
    inGrace.message,
    /^docker restart api: it exited \(3\) after \d+ms, inside its 1s start grace: Error: listen EADDRINUSE: address already in use 0\.0\.0\.0:8080$/,
  );
  assert.equal(fake.container('api')!.status, 'exited');

  fake.add({
    name: 'rag',
    status: 'running',
    health: { status: 'unhealthy' },
    onRestart: { runs: true, health: { becomes: 'unhealthy', afterMs: 100, output: CONNECT_REFUSED } },
  });
  const unhealthy = await dockerProbe(t, fake.socketPath, { container: 'rag' }).restart!(runContext());
  assert.equal(unhealthy.ok, false);
  assert.match(unhealthy.message, new RegExp(`^docker restart rag: running but unhealthy after \\d+ms: ${CONNECT_REFUSED.replace(/[().]/g, '\\$&')}$`));

  // Docker runs the first health check only an interval (30s) after the start: the heal's time runs out first.
  fake.add({ name: 'late', onRestart: { runs: true, health: { becomes: 'healthy', afterMs: 30_000 } }, health: { status: 'healthy' } });
  const late = await dockerProbe(t, fake.socketPath, { container: 'late' }).restart!({ signal: AbortSignal.timeout(500), now: Date.now });
  assert.equal(late.ok, false);
  assert.match(
    late.message,
    /^docker restart late: running for \d+ms, but its health check has not passed yet \(healthcheck interval 30s\); raise patrol\.healTimeout above it, or shorten the healthcheck's interval or start_interval$/,
  );
  assert.equal(late.details!.starting, true);

  fake.add({
    name: 'stuck',
    onRestart: { refuses: 500, message: 'Cannot restart container stuck: tried to kill container, but did not receive an exit event' },
  });
  const refused = await dockerProbe(t, fake.socketPath, { container: 'stuck' }).restart!(runContext());
  assert.equal(refused.ok, false);
  assert.equal(
    refused.message,
    'docker restart stuck failed: Docker answered HTTP 500 restarting it: Cannot restart container stuck: tried to kill container, but did not receive an exit event',
  );
  assert.equal(refused.details!.httpStatus, 500);
});

test('docker: RestartCount climbing past restartLoop.maxRestarts inside the window is a restart loop, remembered across probes', async (t) => {
  const fake = await fakeDocker(t);
  fake.add({ name: 'agent', restartCount: 0 });
  const state = new Map<string, unknown>();
  const params = { container: 'agent', restartLoop: { maxRestarts: 2, window: '10m' }, startGrace: '100ms' };
  const probe = dockerProbe(t, fake.socketPath, params, state);
  const { ctx, advance } = clockContext(Date.parse('2025-11-23T03:00:00Z'));

  assert.equal((await probe.run(ctx)).ok, true);
  advance(60_000);
  fake.policyRestart('agent');
  fake.policyRestart('agent');
  const two = await probe.run(ctx);
  assert.equal(two.ok, true, 'two restarts are within the allowance');
  assert.equal(two.details!.restartsInWindow, 2);

  advance(60_000);
  fake.policyRestart('agent');
  fake.update('agent', { status: 'restarting', exitCode: 1 });
  const loop = await probe.run(ctx);
  assert.equal(loop.ok, false);
  assert.equal(loop.details!.restartLoop, true);
  assert.equal(loop.message, 'restart loop: 3 restarts in 10m (container agent, now restarting)');

  const again = await dockerProbe(t, fake.socketPath, params, state).run(ctx);
  assert.equal(again.details!.restartLoop, true, 'a new probe over the same state (Nightshift restarted) remembers');

  // Once the restarts are older than the window, the state speaks for itself again.
  advance(11 * 60_000);
  const calm = await probe.run(ctx);
  assert.equal(calm.details!.restartLoop, undefined);
  assert.equal(calm.details!.restartsInWindow, 0);
  assert.match(calm.message, /^restarting: Docker's restart policy is bringing it back after exit 1 \(restarts: 3\)$/);
});

test('docker: a health check still starting counts as up; a run right after a restart waits out its start grace', async (t) => {
  const fake = await fakeDocker(t);
  // Docker has not judged it yet: restarting it now would only start its wait over.
  fake.add({ name: 'api', health: { status: 'starting' }, startedAgoMs: 20_000, restartCount: 1 });
  const pending = await dockerProbe(t, fake.socketPath, { container: 'api' }).run(runContext());
  assert.equal(pending.ok, true, pending.message);
  assert.equal(pending.message, 'running, health check still starting, up 20s (restarts: 1)');
  assert.equal(pending.details!.starting, true);

  // Started 100ms ago: the run waits until it stayed up its grace, then reports what it sees.
  fake.add({ name: 'fresh', health: { status: 'starting' }, startedAgoMs: 100 });
  const started = Date.now();
  const fresh = await dockerProbe(t, fake.socketPath, { container: 'fresh', startGrace: '600ms' }).run(runContext());
  assert.equal(fresh.ok, true, fresh.message);
  assert.ok(Date.now() - started >= 400, 'it waited out the rest of the grace');
  assert.match(fresh.message, /^running, health check still starting, up \d+ms \(restarts: 0\)$/);

  // A container that dies inside its start grace is not "running".
  fake.add({ name: 'flaky', startedAgoMs: 100 });
  const dying = setTimeout(() => fake.update('flaky', { status: 'exited', exitCode: 2 }), 200);
  t.after(() => clearTimeout(dying));
  const flaky = await dockerProbe(t, fake.socketPath, { container: 'flaky' }).run(runContext());
  assert.equal(flaky.ok, false);
  assert.match(flaky.message, /^exited \(2\) \d+ms ago, inside its 1s start grace$/);
  assert.equal(flaky.details!.duringStartup, true);
});

test('docker: bad parameters are refused with a clear message', () => {
  const refusal = (input: Record<string, unknown>) => {
    const parsed = dockerCheck.params.safeParse(input);
    assert.equal(parsed.success, false, JSON.stringify(input));
    return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
  };
  assert.equal(
    refusal({ container: 'api; docker rm -f db' }),
    'container: expected a container name or id such as "api" or "stack-api-1" (letters, digits, "_", "." and "-")',
  );
  assert.equal(
    refusal({ container: 'api', socket: 'tcp://127.0.0.1:2375' }),
    'socket: expected a unix socket (a path, or unix:///path); Docker over tcp:// or ssh:// is not supported',
  );
  assert.equal(refusal({ container: 'api', socket: 'docker.sock' }), 'socket: expected an absolute socket path such as /var/run/docker.sock');
  assert.equal(
    refusal({ container: 'api', stopTimeout: '1500ms' }),
    'stopTimeout: expected whole seconds such as "10s" (Docker counts the stop timeout in seconds)',
  );
  assert.equal(refusal({ container: 'api', apiVersion: 'latest' }), 'apiVersion: expected an Engine API version such as "1.44"');
  assert.match(refusal({ container: 'api', image: 'node' }), /Unrecognized key/i);

  const defaults = dockerCheck.params.parse({ container: 'stack-api-1' });
  assert.deepEqual(defaults, {
    container: 'stack-api-1',
    socket: '/var/run/docker.sock',
    requireHealthy: true,
    restartLoop: { maxRestarts: 5, window: 600_000 },
    stopTimeout: 10_000,
    startGrace: 1000,
  });
  assert.equal(dockerCheck.params.parse({ container: 'api', stopTimeout: '0s' }).stopTimeout, 0, '0s kills at once');
});
