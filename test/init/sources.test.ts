import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFileSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { addGuessedDependencies } from '../../src/init/guesses.js';
import { parseListeningSockets } from '../../src/util/proc-net.js';
import { emptyMentions } from '../../src/init/mentions.js';
import { cronSource } from '../../src/init/sources/cron.js';
import { dockerSource } from '../../src/init/sources/docker.js';
import { logsSource } from '../../src/init/sources/logs.js';
import { ollamaSource } from '../../src/init/sources/ollama.js';
import { pm2Source } from '../../src/init/sources/pm2.js';
import { portsSource } from '../../src/init/sources/ports.js';
import { systemdSource } from '../../src/init/sources/systemd.js';
import type { FoundThing } from '../../src/init/types.js';
import { FakeDockerEngine } from '../fakes/docker/engine.js';
import { FakeOllamaServer } from '../fakes/ollama/server.js';
import { FAKE_SYSTEMCTL, fakeSystemd } from '../fakes/systemctl/state.js';
import { PM2_BIN } from '../helpers/pm2.js';
import { tempDir } from '../helpers/temp.js';
import { fakeCommand, sourceContext, validated } from './helpers.js';

const TIMEOUT = { timeout: 20_000 };

function appThing(name: string, pids: number[] = [], extra: Partial<FoundThing> = {}): FoundThing {
  return { label: name, check: { name, kind: 'pm2', notes: [], params: { app: name }, heal: ['restart'], dependsOn: [] }, pids, logs: [], ports: [], ...extra };
}

async function listen(t: TestContext, server: ReturnType<typeof createTcpServer> | ReturnType<typeof createHttpServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return (server.address() as AddressInfo).port;
}

test('/proc/net/tcp rows: LISTEN sockets only, IPv4 and IPv6 addresses decoded', () => {
  const v4 = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 100 0 0 10 0',
    '   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0000000000000000 20 4 30 10 -1',
  ].join('\n');
  assert.deepEqual(parseListeningSockets(v4, 4), [
    { address: '127.0.0.1', port: 8080, family: 4, inode: 4242, uid: 1000 },
    { address: '0.0.0.0', port: 3000, family: 4, inode: 4343, uid: 1000 },
  ]);
  const v6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000001000000:2BCB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5151 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5252 1 0000000000000000 100 0 0 10 0',
  ].join('\n');
  assert.deepEqual(parseListeningSockets(v6, 6), [
    { address: '::1', port: 11211, family: 6, inode: 5151, uid: 1000 },
    { address: '::', port: 8081, family: 6, inode: 5252, uid: 1000 },
  ]);
});

test('ports: sockets this process holds are found in /proc, attached to their owner, http vs tcp by what answers', TIMEOUT, async (t) => {
  const httpPort = await listen(
    t,
    createHttpServer((req, res) => res.writeHead(404).end('no route')),
  );
  const tcpPort = await listen(
    t,
    createTcpServer((socket) => socket.end()),
  );
  const own = await listen(t, createTcpServer());
  const owner = appThing('api', [process.pid]);
  const ctx = sourceContext(t, { earlier: [owner], env: { NIGHTSHIFT_HTTP: `127.0.0.1:${own}` } });
  const report = await portsSource.look(ctx);
  assert.equal(report.problem, undefined);
  const mine = report.things.filter((thing) => thing.check.dependsOn[0]?.name === 'api');
  const http = mine.find((thing) => thing.ports[0] === httpPort);
  const tcp = mine.find((thing) => thing.ports[0] === tcpPort);
  assert.equal(http?.check.name, `api-http-${httpPort}`);
  assert.equal(http.check.kind, 'http');
  assert.deepEqual(http.check.params, { url: `http://127.0.0.1:${httpPort}/`, expectStatus: 404 });
  assert.equal(tcp?.check.name, `api-port-${tcpPort}`);
  assert.deepEqual(tcp.check.params, { port: tcpPort });
  assert.ok(!report.things.some((thing) => thing.ports.includes(own)), "Nightshift's own port is left out");
  assert.ok(owner.ports.includes(httpPort) && owner.ports.includes(tcpPort));
  assert.ok(owner.check.params.ready !== undefined, 'the owner gets its port as readiness');
  const { config } = validated([owner, ...mine]);
  assert.equal(config.checks.find((c) => c.name === `api-http-${httpPort}`)?.kind, 'http');
});

test('ports: a socket nobody found yet is named after its process and port', TIMEOUT, async (t) => {
  const port = await listen(
    t,
    createHttpServer((req, res) => res.end('ok')),
  );
  const report = await portsSource.look(sourceContext(t));
  const thing = report.things.find((found) => found.ports[0] === port);
  assert.equal(thing?.check.name, `node-${port}`);
  assert.deepEqual(thing.check.params, { url: `http://127.0.0.1:${port}/` });
  assert.deepEqual(thing.check.dependsOn, []);
});

test('ollama: the fake server and its models become one ollama check; nothing listening is a problem line, not a throw', TIMEOUT, async (t) => {
  const fake = await FakeOllamaServer.start({ models: ['qwen2.5:7b', 'nomic-embed-text:latest'] });
  t.after(() => fake.close());
  const report = await ollamaSource.look(sourceContext(t, { env: { OLLAMA_HOST: fake.url } }));
  assert.equal(report.things.length, 1);
  const ollama = report.things[0]!;
  assert.equal(ollama.check.kind, 'ollama');
  assert.deepEqual(ollama.check.params, { host: fake.url, models: ['qwen2.5:7b', 'nomic-embed-text:latest'] });
  assert.ok(fake.requests().some((r) => r.path === '/api/tags'));

  // An app whose environment sets OLLAMA_HOST depends on it, marked as a guess.
  const coder = appThing('coder', [], { mentions: { ...emptyMentions(), ollamaVariable: true } });
  addGuessedDependencies([coder, ollama]);
  assert.deepEqual(coder.check.dependsOn, [{ name: 'ollama', guess: "coder's environment sets OLLAMA_* variables" }]);
  const { text } = validated([coder, ollama]);
  assert.match(text, /- ollama # guess: coder's environment sets OLLAMA_\* variables/);

  const url = fake.url;
  await fake.close();
  const none = await ollamaSource.look(sourceContext(t, { env: { OLLAMA_HOST: url } }));
  assert.deepEqual(none.things, []);
  assert.match(none.problem ?? '', /^ollama: nothing answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/);
});

test('docker: running containers on the fake Engine become docker checks; a missing socket is a problem line', TIMEOUT, async (t) => {
  const engine = await FakeDockerEngine.start(tempDir(t, 'ns-docker-'));
  t.after(() => engine.close());
  engine.add({ name: 'api', ports: [{ publicPort: 8080, privatePort: 80 }] });
  engine.add({ name: 'old-job', status: 'exited', exitCode: 0 });
  engine.add({ name: 'nightshift', status: 'running' });
  const report = await dockerSource.look(sourceContext(t, { env: { DOCKER_HOST: `unix://${engine.socketPath}` } }));
  assert.equal(report.problem, undefined);
  assert.deepEqual(
    report.things.map((thing) => [thing.check.name, thing.check.kind, thing.check.params, thing.publishedPorts]),
    [['api', 'docker', { container: 'api', socket: engine.socketPath }, [8080]]],
  );
  assert.deepEqual(
    engine.requests().map((r) => r.url),
    ['/_ping', `/v${engine.apiVersion}/containers/json`],
  );
  validated(report.things);

  const missing = await dockerSource.look(sourceContext(t, { env: { DOCKER_HOST: `unix://${join(tempDir(t), 'nope.sock')}` } }));
  assert.deepEqual(missing.things, []);
  assert.match(missing.problem ?? '', /^docker: no socket at .*nope\.sock$/);
});

test(
  "systemd: the operator's enabled services, system and --user, from the fake systemctl; vendor, disabled and template units are not",
  TIMEOUT,
  async (t) => {
    const fake = fakeSystemd(t);
    const home = tempDir(t, 'ns-home-');
    const running = { activeState: 'active' as const, subState: 'running', mainPid: 4242 };
    fake.setUnit('api.service', { ...running, fragmentPath: '/etc/systemd/system/api.service' });
    fake.setUnit('cron.service', { ...running, fragmentPath: '/lib/systemd/system/cron.service' });
    fake.setUnit('old.service', { ...running, fragmentPath: '/etc/systemd/system/old.service', unitFileState: 'disabled' });
    fake.setUnit('backup.timer', { activeState: 'active', subState: 'waiting', fragmentPath: '/etc/systemd/system/backup.timer' });
    fake.setUnit('nightshift.service', { ...running, fragmentPath: '/etc/systemd/system/nightshift.service' });
    fake.setUnit('agent.service', { ...running, fragmentPath: join(home, '.config/systemd/user/agent.service') }, { user: true });
    const env = { PATH: [dirname(fake.bin), process.env.PATH].join(delimiter), HOME: home };
    const report = await systemdSource.look(sourceContext(t, { env, home }));
    assert.equal(report.problem, undefined);
    assert.deepEqual(
      report.things.map((thing) => [thing.check.name, thing.check.params, thing.check.heal]),
      [
        ['api', { unit: 'api.service' }, ['restart']],
        ['agent', { unit: 'agent.service', user: true }, ['restart']],
      ],
    );
    assert.ok(fake.calls().some((argv) => argv.join(' ') === 'list-unit-files --type=service --state=enabled --no-legend --no-pager'));
    validated(report.things);

    // No systemd at all (the stand-in without its state folder says what the real command says on such a machine).
    const bare = await systemdSource.look(sourceContext(t, { env: { PATH: [dirname(FAKE_SYSTEMCTL), process.env.PATH].join(delimiter) } }));
    assert.deepEqual(bare.things, []);
    assert.equal(
      bare.problem,
      'systemd: systemctl list-unit-files failed: Failed to connect to bus: Host is down; systemd --user: systemctl list-unit-files failed: Failed to connect to bus: Host is down',
    );
    const absent = await systemdSource.look(sourceContext(t, { env: { PATH: tempDir(t) } }));
    assert.equal(absent.problem, 'systemd: systemctl not on PATH; systemd --user: systemctl not on PATH');
  },
);

test('cron: each job becomes a heartbeat with its period and the curl line to append; no crontab is normal', TIMEOUT, async (t) => {
  const crontab = [
    'MAILTO=ops@example.com',
    '# nightly things',
    '*/5 * * * * /srv/jobs/cleanup.sh',
    '0 3 * * * cd /srv && python3 /srv/jobs/backup.py --password=hunter2 >> /var/log/backup.log 2>&1',
    '0 9,17 * * 1-5 /srv/jobs/report.sh; /srv/jobs/mail.sh',
    '30 2 * * 0 /srv/weekly.sh && curl -fsS http://127.0.0.1:8787/ping/weekly-sync',
    '@reboot /srv/jobs/warm-cache.sh',
    '',
  ].join('\n');
  const bin = fakeCommand(t, 'crontab', { stdout: crontab });
  const report = await cronSource.look(sourceContext(t, { env: { PATH: bin, NIGHTSHIFT_HTTP: '127.0.0.1:9999' } }));
  assert.equal(report.problem, undefined);
  assert.deepEqual(
    report.things.map((thing) => [thing.check.name, thing.check.params]),
    [
      ['cron-cleanup', { period: '5m', grace: '5m' }],
      ['cron-backup', { period: '1d', grace: '1h' }],
      ['cron-report', { period: '64h', grace: '1h' }],
      ['weekly-sync', { period: '7d', grace: '1h' }],
    ],
  );
  const [cleanup, backup, report2, weekly] = report.things;
  assert.match(cleanup!.nextStep!, /&& curl -fsS -m 10 --retry 3 http:\/\/127\.0\.0\.1:9999\/ping\/cron-cleanup > \/dev\/null$/);
  assert.match(report2!.nextStep!, /wrap its command in \( \.\.\. \) first/);
  assert.equal(weekly!.nextStep, undefined, 'an entry that already pings needs nothing');
  const { text } = validated(report.things);
  assert.doesNotMatch(text + backup!.nextStep!, /hunter2|MAILTO|ops@example/, 'arguments and variables of the jobs stay out');

  const none = await cronSource.look(sourceContext(t, { env: { PATH: fakeCommand(t, 'crontab', { stderr: 'no crontab for ops\n', code: 1 }) } }));
  assert.deepEqual(none, { things: [] });
  const missing = await cronSource.look(sourceContext(t, { env: { PATH: tempDir(t) } }));
  assert.equal(missing.problem, 'cron: crontab not on PATH');
});

test('logs: a large one gets a size check, one growing between the two looks a log check; /var/log ones get no heal', TIMEOUT, async (t) => {
  const varLog = tempDir(t, 'ns-varlog-');
  const big = join(varLog, 'big.log');
  writeFileSync(big, '');
  truncateSync(big, 101 * 1024 * 1024); // sparse: the size counts, no disk is used
  writeFileSync(join(varLog, 'small.log'), 'quiet\n');
  const appDir = tempDir(t, 'ns-app-');
  mkdirSync(join(appDir, 'logs'));
  const growing = join(appDir, 'logs', 'worker.log');
  writeFileSync(growing, 'start\n');
  const worker = appThing('worker', [], { cwd: appDir });
  // Appends 2 MiB between the source's two looks.
  const betweenLooks = () => Promise.resolve(appendFileSync(growing, `${'x'.repeat(1023)}\n`.repeat(2048)));
  const report = await logsSource.look(sourceContext(t, { systemLogDir: varLog, growthWaitMs: 500, betweenLooks, earlier: [worker] }));
  assert.deepEqual(
    report.things.map((thing) => [thing.check.name, thing.check.kind, thing.check.severity, thing.check.heal, thing.check.dependsOn]),
    [
      ['big-log', 'file', 'optional', [], []],
      ['worker-log', 'log', undefined, [{ action: 'rotate-log', path: growing, keep: 3 }], [{ name: 'worker' }]],
    ],
  );
  assert.deepEqual(report.things[0]!.check.params, { path: big, maxBytes: 100 * 1024 * 1024 });
  assert.equal(report.things[1]!.check.params.errorPattern, String.raw`\b(ERROR|FATAL|CRITICAL|Traceback|panic)\b`);
  assert.match(report.things[1]!.label, /grew 2\.0 MiB in 500ms/);
  validated([worker, ...report.things]);
});

test('pm2: no pm2 on PATH, or no daemon running, is a problem line and spawns nothing', TIMEOUT, async (t) => {
  const noPm2 = await pm2Source.look(sourceContext(t, { env: { PATH: tempDir(t) } }));
  assert.deepEqual(noPm2, { things: [], problem: 'pm2: not on PATH' });
  const home = tempDir(t, 'ns-pm2home-');
  const noDaemon = await pm2Source.look(sourceContext(t, { env: { PATH: dirname(PM2_BIN), PM2_HOME: home } }));
  assert.deepEqual(noDaemon, { things: [], problem: `pm2: no daemon running in ${home}` });
});
