import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, openSync, closeSync, writeSync, ftruncateSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { processCheck } from '../../src/checks/process.js';
import type { Probe } from '../../src/checks/types.js';
import type { CheckConfig } from '../../src/config/schema.js';
import { describeGathered, gatherEvidence, runGathering, type GatherOptions, type GatherTool, type Gathered } from '../../src/diagnose/gather/index.js';
import { Redactor } from '../../src/log/redact.js';
import { checkConfig } from '../helpers/check-config.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { closedPort } from '../helpers/net.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { fakeSystemd } from '../fakes/systemctl/state.js';
import { fakeJournal } from '../fakes/systemctl/journal.js';

const redactor = new Redactor();
/** Token shapes the redactor knows (src/log/redact.ts), built here so no real-looking secret sits in the source. */
const OPENAI_KEY = `sk-proj-${'A1b2C3d4'.repeat(4)}`;
const GITHUB_TOKEN = `ghp_${'Zy9Xw8Vu7T'.repeat(4)}`;

function options(dataDir: string, overrides: Partial<GatherOptions> = {}): GatherOptions {
  return { dataDir, redact: (text) => redactor.redact(text), ...overrides };
}

function check(name: string, kind: CheckConfig['kind'], params: Record<string, unknown>): CheckConfig {
  return checkConfig(name, { kind, params });
}

function only(rows: Gathered[], tool: Gathered['tool']): Gathered {
  const found = rows.filter((row) => row.tool === tool);
  assert.equal(found.length, 1, `expected one ${tool} row, got ${JSON.stringify(rows, null, 2)}`);
  return found[0]!;
}

/** A TCP server on 127.0.0.1 held by this test process, closed when the test ends. */
async function listeningPort(t: TestContext): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return (server.address() as { port: number }).port;
}

/** A supervised child (through the real process check) that tries to listen on `port` and dies of EADDRINUSE. */
async function childThatCannotBind(t: TestContext, dataDir: string, port: number) {
  const script = [
    "const server = require('node:net').createServer();",
    "server.on('error', (err) => { console.error('FATAL: could not bind 127.0.0.1:' + process.env.PORT + ': ' + err.code); process.exit(1); });",
    "server.listen(Number(process.env.PORT), '127.0.0.1');",
  ].join('\n');
  const params = { command: [process.execPath, '-e', script], env: { PORT: String(port) } };
  const probes: Probe[] = [];
  t.after(async () => Promise.all(probes.map(async (p) => p.dispose?.())));
  const probe = processCheck.create(processCheck.params.parse(params), testCheckEnv({ checkName: 'db', dataDir }).env);
  probes.push(probe);
  const failed = await waitFor(
    async () => {
      const result = await probe.run(runContext());
      return !result.ok && result.details?.exitCode === 1 ? result : undefined;
    },
    { what: 'the child to die of EADDRINUSE' },
  );
  return { config: check('db', 'process', params), details: failed.details ?? null };
}

test('a supervised child that died of EADDRINUSE: its log tail shows why, the port shows who holds it, its pid is gone', async (t) => {
  const dataDir = tempDir(t);
  const port = await listeningPort(t);
  const child = await childThatCannotBind(t, dataDir, port);

  const rows = await gatherEvidence([{ check: child.config, lastDetails: child.details }], options(dataDir));

  const log = only(rows, 'log-tail');
  assert.equal(log.ok, true, log.text);
  assert.match(log.text, new RegExp(`FATAL: could not bind 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  assert.match(log.target, /logs\/db\.log$/);
  assert.match(describeGathered(log), /^log tail of db \(.*logs\/db\.log, \d+ lines\)$/);
  const ports = only(rows, 'ports');
  assert.equal(ports.target, `port ${port}`);
  assert.match(ports.text, new RegExp(`^port ${port}: listened on by pid ${process.pid} \\(.*node.*\\)`));
  assert.match(ports.text, /on 127\.0\.0\.1/);
  assert.equal(describeGathered(ports), `listeners of db (port ${port})`);
  const proc = only(rows, 'process');
  assert.equal(proc.text, `pid ${String(child.details?.pid)} is not running`);

  // A healthy run's details name no log file: the supervisor's own path is looked at all the same.
  const again = await gatherEvidence([{ check: child.config, lastDetails: null }], options(dataDir));
  assert.match(only(again, 'log-tail').text, /EADDRINUSE/);
  assert.deepEqual(
    again.map((row) => row.tool),
    ['log-tail', 'ports'],
  );
});

test('a port nothing listens on says so; a port on another machine is not looked at', async (t) => {
  const dataDir = tempDir(t);
  const port = await closedPort();
  const rows = await gatherEvidence(
    [
      { check: check('cache', 'tcp', { port }), lastDetails: null },
      // TEST-NET-1: not this machine, so nothing is looked at (no connection is ever made).
      { check: check('remote', 'http', { url: 'http://192.0.2.10:8080/health' }), lastDetails: null },
    ],
    options(dataDir),
  );
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.deepEqual(
    { ...rows[0], durationMs: 0 },
    {
      check: 'cache',
      tool: 'ports',
      target: `port ${port}`,
      ok: true,
      text: `port ${port}: nothing listens`,
      durationMs: 0,
      truncated: false,
    },
  );
});

test("a readiness probe's port (ready: { port } or { http }) is looked at too", async (t) => {
  const dir = tempDir(t);
  const port = await listeningPort(t);
  const rows = await gatherEvidence(
    [
      { check: check('web', 'pm2', { app: 'web', ready: { port } }), lastDetails: null },
      { check: check('api', 'systemd', { unit: 'api.service', ready: { http: `http://127.0.0.1:${port}/health` } }), lastDetails: null },
      { check: check('far', 'pm2', { app: 'far', ready: { port, host: '192.0.2.10' } }), lastDetails: null },
    ],
    options(dir, { commandEnv: { PATH: dir } }),
  );
  const ports = rows.filter((row) => row.tool === 'ports');
  assert.deepEqual(
    ports.map((row) => row.check),
    ['web', 'api'],
  );
  for (const row of ports) assert.match(row.text, new RegExp(`^port ${port}: listened on by pid ${process.pid} `));
});

test('a running process: its state, memory and command line with the token redacted; once gone, "not running"', async (t) => {
  const dataDir = tempDir(t);
  const child = spawn(process.execPath, ['-e', "process.stdout.write('ready'); setInterval(() => {}, 1000)", '--', '--api-token', OPENAI_KEY], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // Its command line is complete once it runs its own code (before exec finishes /proc shows the parent's).
  await once(child.stdout, 'data');
  const exited = once(child, 'exit');
  t.after(() => child.kill('SIGKILL'));
  const pid = child.pid!;
  const target = { check: check('worker', 'pm2', { app: 'worker' }), lastDetails: { pid, status: 'online' } };

  const [running] = await gatherEvidence([target], options(dataDir));
  assert.ok(running);
  assert.equal(running.tool, 'process');
  assert.equal(running.target, `pid ${pid}`);
  assert.match(running.text, new RegExp(`^pid ${pid}: [SR] \\((sleeping|running)\\), parent pid ${process.pid}, [\\d.]+ MiB resident, \\d+ threads, up \\d+`));
  assert.match(running.text, /\ncommand: .*node -e process\.stdout\.write.* --api-token \[redacted/);
  assert.ok(!running.text.includes(OPENAI_KEY), running.text);

  child.kill('SIGKILL');
  await exited;
  const [gone] = await gatherEvidence([target], options(dataDir));
  assert.equal(gone?.text, `pid ${pid} is not running`);
  assert.equal(describeGathered(gone), `process of worker (pid ${pid})`);
});

test('a 50 MiB log: only its tail is read, within maxBytes and 40 lines, fast, with tokens redacted', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'huge.log');
  const fd = openSync(path, 'w');
  writeSync(fd, 'FIRST LINE OF THE FILE\n');
  ftruncateSync(fd, 50 * 1024 * 1024);
  const lines = Array.from({ length: 300 }, (_, i) => `2025-11-23T03:00:${String(i % 60).padStart(2, '0')} worker line ${i} ${'x'.repeat(80)}`);
  lines.push(`ERROR upstream refused key ${OPENAI_KEY}`, `ERROR git push with ${GITHUB_TOKEN} failed`, 'FATAL the last line');
  writeSync(fd, `${lines.join('\n')}\n`, 50 * 1024 * 1024);
  closeSync(fd);

  const [row] = await gatherEvidence([{ check: check('worker-log', 'log', { path }), lastDetails: null }], options(dir));
  assert.ok(row);
  assert.equal(row.ok, true, row.text);
  assert.ok(Buffer.byteLength(row.text) <= 4096, `${Buffer.byteLength(row.text)} bytes`);
  assert.ok(row.text.split('\n').length <= 40);
  assert.equal(row.truncated, true);
  assert.ok(row.text.endsWith('FATAL the last line'), row.text.slice(-200));
  assert.ok(!row.text.includes('FIRST LINE'));
  assert.ok(!row.text.includes(OPENAI_KEY) && !row.text.includes(GITHUB_TOKEN), row.text);
  assert.match(row.text, /refused key \[redacted:api-key\]/);
  assert.match(row.text, /push with \[redacted:api-key\] failed/);
  // Every line shown is whole: the cut never starts mid-line.
  assert.match(row.text.split('\n')[0]!, /^2025-11-23T03:00:\d\d worker line \d+ x{80}$/);
  assert.ok(row.durationMs < 1000, `took ${row.durationMs} ms`);

  const [small] = await gatherEvidence([{ check: check('worker-log', 'log', { path }), lastDetails: null }], options(dir, { maxBytes: 200 }));
  assert.ok(small && Buffer.byteLength(small.text) <= 200, small?.text);
  assert.match(small.text, /FATAL the last line$/);
});

test('pm2: the log files its last run named are tailed, stderr first; a path named like a secrets file is never read', async (t) => {
  const dir = tempDir(t);
  const errLog = join(dir, 'worker-error.log');
  writeFileSync(errLog, 'Traceback (most recent call last):\nConnectionRefusedError: [Errno 111] Connection refused\n');
  const envFile = join(dir, '.env');
  writeFileSync(envFile, `OPENAI_API_KEY=${OPENAI_KEY}\n`);
  const rows = await gatherEvidence(
    [
      {
        check: check('worker', 'pm2', { app: 'worker' }),
        lastDetails: { app: 'worker', status: 'errored', pm_err_log_path: errLog, pm_out_log_path: envFile },
      },
    ],
    options(dir),
  );
  assert.deepEqual(
    rows.map((row) => [row.target, row.ok, row.text]),
    [
      [errLog, true, 'Traceback (most recent call last):\nConnectionRefusedError: [Errno 111] Connection refused'],
      [envFile, false, 'not read: .env is named like a secrets file'],
    ],
  );
  // Without the paths in its details, pm2 is not asked for them: nothing to tail.
  const none = await gatherEvidence([{ check: check('worker', 'pm2', { app: 'worker' }), lastDetails: { app: 'worker', status: 'errored' } }], options(dir));
  assert.deepEqual(none, []);
});

test('disk: free space of a folder, and of the nearest existing folder when a path does not exist', async (t) => {
  const dir = tempDir(t);
  const rows = await gatherEvidence(
    [
      { check: check('scratch', 'disk', { path: dir }), lastDetails: null },
      { check: check('app-log', 'log', { path: join(dir, 'not', 'yet', 'app.log') }), lastDetails: null },
    ],
    options(dir),
  );
  const [disk, missingLog, missingDisk] = rows;
  assert.equal(disk?.tool, 'disk');
  assert.equal(disk.target, dir);
  assert.match(disk.text, new RegExp(`^${dir}: [\\d.]+ [KMGT]?i?B free of [\\d.]+ [KMGT]?i?B \\([\\d.]+%\\)`));
  assert.equal(missingLog?.tool, 'log-tail');
  assert.equal(missingLog.ok, false);
  assert.match(missingLog.text, /no such file/);
  assert.match(describeGathered(missingLog), /^log tail of app-log \(.*app\.log\): could not look: .*no such file$/);
  assert.equal(missingDisk?.tool, 'disk');
  assert.match(missingDisk.text, new RegExp(`^${join(dir, 'not', 'yet', 'app.log')} does not exist; ${dir}: [\\d.]+ \\S+ free of`));
});

test('systemd: the unit journal through journalctl (-u, -n 40, short-iso), redacted; a missing journalctl says so', async (t) => {
  const dir = tempDir(t);
  const systemd = fakeSystemd(t);
  const journal = fakeJournal(systemd);
  const at = Date.UTC(2025, 10, 23, 3, 0, 0);
  journal.append(
    'db.service',
    Array.from({ length: 60 }, (_, i) => ({ at: at + i * 1000, identifier: 'postgres', pid: 4242, message: `checkpoint ${i}` })),
  );
  journal.append('db.service', [
    { at: at + 61_000, identifier: 'postgres', pid: 4242, message: `FATAL: password authentication failed, token=${GITHUB_TOKEN}` },
  ]);
  const unitCheck = check('db', 'systemd', { unit: 'db.service', systemctlBin: systemd.bin });

  const [row] = await gatherEvidence([{ check: unitCheck, lastDetails: { unit: 'db.service', pid: 0 } }], options(dir, { timeoutMs: 10_000 }));
  assert.ok(row);
  assert.equal(row.ok, true, row.text);
  assert.equal(row.target, 'journal of db.service');
  const shown = row.text.split('\n');
  assert.equal(shown.length, 40);
  assert.match(shown.at(-1)!, /^2025-11-23T03:01:01\+00:00 \S+ postgres\[4242\]: FATAL: password authentication failed, token=\[redacted/);
  assert.ok(!row.text.includes(GITHUB_TOKEN));
  assert.deepEqual(journal.calls(), [['-u', 'db.service', '-n', '40', '--no-pager', '-o', 'short-iso']]);
  assert.equal(describeGathered(row), 'log tail of db (journal of db.service, 40 lines)');

  const emptyPath = join(dir, 'empty-bin');
  mkdirSync(emptyPath);
  const [missing] = await gatherEvidence(
    [{ check: check('db', 'systemd', { unit: 'db.service' }), lastDetails: null }],
    options(dir, { commandEnv: { PATH: emptyPath } }),
  );
  assert.equal(missing?.ok, false);
  assert.equal(missing.text, 'journalctl not found');
  assert.equal(describeGathered(missing), 'log tail of db (journal of db.service): could not look: journalctl not found');
});

test("systemd: journalctl's hint on stderr is kept after the tail, which makes room for it and says it was cut", async (t) => {
  const dir = tempDir(t);
  const hint = 'Hint: not seeing messages from other users.';
  // 10 lines of 95 characters: within 1000 bytes alone, not with the note after them.
  const lines = Array.from({ length: 10 }, (_, i) => `line-${i}-`.padEnd(95, 'x'));
  writeFileSync(join(dir, 'journalctl'), `#!/bin/sh\nprintf '%s\\n' ${lines.join(' ')}\necho '${hint}' >&2\n`, { mode: 0o755 });
  const unitCheck = check('db', 'systemd', { unit: 'db.service', systemctlBin: join(dir, 'systemctl') });

  const [row] = await gatherEvidence([{ check: unitCheck, lastDetails: null }], options(dir, { maxBytes: 1000, timeoutMs: 10_000 }));
  assert.ok(row);
  assert.equal(row.ok, true, row.text);
  assert.ok(Buffer.byteLength(row.text) <= 1000, `${Buffer.byteLength(row.text)} bytes`);
  assert.ok(row.text.endsWith(`${lines.at(-1)}\n(journalctl: ${hint})`), row.text);
  assert.ok(!row.text.includes('line-0-'), row.text);
  assert.equal(row.truncated, true);
});

/** Live processes running the fake journalctl of this state folder. */
function fakeJournalctlsOf(stateDir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FAKE_SYSTEMD_DIR=${stateDir}`);
      } catch {
        // Gone, or another user's.
        return false;
      }
    })
    .map(Number);
}

test('a tool that times out is reported ok:false, its command is killed, and the others still report', async (t) => {
  const dir = tempDir(t);
  const systemd = fakeSystemd(t);
  const journal = fakeJournal(systemd);
  journal.hang();
  const logPath = join(dir, 'app.log');
  writeFileSync(logPath, 'started\nERROR lost the database\n');

  const started = performance.now();
  const rows = await gatherEvidence(
    [
      { check: check('db', 'systemd', { unit: 'db.service', systemctlBin: systemd.bin }), lastDetails: null },
      { check: check('app-log', 'log', { path: logPath }), lastDetails: null },
    ],
    options(dir, { timeoutMs: 800 }),
  );
  const elapsed = performance.now() - started;

  assert.deepEqual(
    rows.map((row) => [row.check, row.tool, row.ok]),
    [
      ['db', 'log-tail', false],
      ['app-log', 'log-tail', true],
      ['app-log', 'disk', true],
    ],
  );
  assert.equal(rows[0]?.text, 'timed out after 800 ms');
  assert.ok(rows[0].durationMs >= 700 && rows[0].durationMs < 2000, `${rows[0].durationMs} ms`);
  assert.ok(elapsed < 3000, `the gathering took ${elapsed} ms`);
  assert.equal(rows[1]?.text, 'started\nERROR lost the database');
  assert.equal(journal.calls().length, 1);
  await waitFor(() => fakeJournalctlsOf(systemd.dir).length === 0, { timeoutMs: 5000, what: 'the timed-out journalctl to be killed' });
});

test('the runner: at most 4 looks at once, a throwing tool or plan becomes ok:false, output is capped, the total time bounds all', async (t) => {
  const dir = tempDir(t);
  let running = 0;
  let most = 0;
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const counting: GatherTool = {
    name: 'process',
    plan: () =>
      Array.from({ length: 10 }, (_, i) => ({
        target: `look ${i}`,
        run: async () => {
          running++;
          most = Math.max(most, running);
          await released;
          running--;
          return { ok: true, text: i === 0 ? `${'y'.repeat(10_000)} ${OPENAI_KEY}` : `look ${i} done` };
        },
      })),
  };
  const throwing: GatherTool = {
    name: 'disk',
    plan: () => [{ target: '/srv', run: () => Promise.reject(new Error(`statfs exploded near ${GITHUB_TOKEN}`)) }],
  };
  const badPlan: GatherTool = {
    name: 'ports',
    plan: () => {
      throw new Error('no idea');
    },
  };
  const pending = runGathering([counting, throwing, badPlan], [{ check: check('svc', 'memory', {}), lastDetails: null }], options(dir, { maxBytes: 1024 }));
  await waitFor(() => running === 4, { what: 'four looks to run' });
  release();
  const rows = await pending;
  assert.equal(most, 4);
  assert.equal(rows.length, 12);
  assert.deepEqual(
    rows.slice(0, 10).map((row) => row.target),
    Array.from({ length: 10 }, (_, i) => `look ${i}`),
  );
  assert.ok(Buffer.byteLength(rows[0]!.text) <= 1024);
  assert.equal(rows[0]?.truncated, true);
  const failed = rows.slice(10);
  assert.deepEqual(
    failed.map((row) => [row.tool, row.ok, row.text]),
    [
      ['disk', false, 'the disk tool failed: statfs exploded near [redacted:api-key]'],
      ['ports', false, 'could not tell what to look at: no idea'],
    ],
  );

  const hanging: GatherTool = {
    name: 'process',
    plan: () => Array.from({ length: 6 }, (_, i) => ({ target: `stuck ${i}`, run: () => new Promise<never>(() => {}) })),
  };
  const started = performance.now();
  const stuck = await runGathering(
    [hanging],
    [{ check: check('svc', 'memory', {}), lastDetails: null }],
    options(dir, { timeoutMs: 60_000, totalTimeoutMs: 300 }),
  );
  assert.ok(performance.now() - started < 2000);
  assert.deepEqual(
    stuck.map((row) => row.text),
    [...Array<string>(4).fill("the gathering's 300 ms ran out"), ...Array<string>(2).fill("not looked at: the gathering's 300 ms ran out")],
  );

  const cancel = new AbortController();
  cancel.abort();
  const cancelled = await runGathering([hanging], [{ check: check('svc', 'memory', {}), lastDetails: null }], options(dir, { signal: cancel.signal }));
  assert.ok(cancelled.every((row) => !row.ok && row.text === 'not looked at: the gathering was cancelled'));
});
