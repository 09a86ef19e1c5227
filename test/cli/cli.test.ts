import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { botEnv, runCli, startBot } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const SUMMARY = /SUMMARY: (OK|DEGRADED|DOWN) {2}core=active {2}checks=3 {2}failing=\d+ {2}stale=0/;

test('start on the embedded default: console /status, HTTP endpoints, `nightshift status`, clean SIGTERM', async (t) => {
  const cwd = tempDir(t);
  const env = botEnv(cwd);
  const bot = startBot(t, cwd, env);
  const http = await bot.started();
  await bot.waitForOutput(SUMMARY);

  bot.send('/status');
  bot.send('/help');
  await bot.waitForOutput(/Nightshift commands:\n\/status .*\n(?:.*\n)*\/help /);
  assert.match(
    bot.stdout,
    /SUMMARY: OK {2}core=active {2}checks=3 {2}failing=0 {2}stale=0 {2}inactive_timers=0 {2}heals_24h=0 {2}escalations=0\n(?:.*\n)*?Nightshift commands/,
  );

  const health = await fetch(`http://${http}/healthz`);
  assert.equal(health.status, 200);
  const status = (await (await fetch(`http://${http}/status.json`)).json()) as {
    state: string;
    checks: number;
    details: Array<{ name: string; status: string }>;
  };
  assert.equal(status.checks, 3);
  assert.deepEqual(
    status.details.map((d) => d.name),
    ['disk-data', 'memory', 'self'],
  );
  const metrics = await (await fetch(`http://${http}/metrics`)).text();
  assert.match(metrics, /nightshift_check_up\{check="self",kind="self",severity="critical"\} 1/);
  assert.match(metrics, /nightshift_check_runs_total\{check="disk-data",result="ok"\} \d+/);
  assert.equal((await fetch(`http://${http}/nope`)).status, 404);

  const cli = runCli(['status'], cwd, env);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^SUMMARY: OK {2}core=active {2}checks=3 {2}failing=0 {2}stale=0 {2}inactive_timers=0 {2}heals_24h=0 {2}escalations=0\n/);

  const stopAsked = Date.now();
  bot.kill('SIGTERM');
  const { code } = await bot.exit();
  const stopMs = Date.now() - stopAsked;
  assert.equal(code, 0);
  assert.ok(stopMs < 2_000, `stopped in ${stopMs} ms`);
  assert.equal(existsSync(join(cwd, 'data', 'nightshift.lock')), false, 'lock released');
  assert.equal(existsSync(join(cwd, 'data', 'nightshift.db-wal')), false, 'database closed cleanly (WAL checkpointed and removed)');
  const db = new Database(join(cwd, 'data', 'nightshift.db'), { readonly: true });
  t.after(() => db.close());
  const types = (db.prepare('SELECT type FROM events ORDER BY id').all() as Array<{ type: string }>).map((r) => r.type);
  assert.deepEqual([types[0], types.at(-1)], ['instance.started', 'instance.stopped']);
  assert.equal(runCli(['status'], cwd, env).code, 3);
});

test('a second instance on the same data dir is refused with exit 1 while the first keeps running', async (t) => {
  const cwd = tempDir(t);
  const env = botEnv(cwd);
  const first = startBot(t, cwd, env);
  const http = await first.started();
  const second = runCli(['start'], cwd, env);
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`another nightshift \\(pid ${first.child.pid}\\) is already running on this data directory`));
  assert.equal((await fetch(`http://${http}/healthz`)).status, 200);
});

test('after kill -9 the stale lock is detected, reported and taken over; nothing exits 0 silently', async (t) => {
  const cwd = tempDir(t);
  const env = botEnv(cwd);
  const first = startBot(t, cwd, env);
  await first.started();
  first.kill('SIGKILL');
  await first.exit();
  assert.ok(existsSync(join(cwd, 'data', 'nightshift.lock')), 'kill -9 leaves the lock behind');
  const status = runCli(['status'], cwd, env);
  assert.equal(status.code, 3);
  assert.match(status.stdout, new RegExp(`not running \\(stale lock: its owner \\(pid ${first.child.pid}\\) is no longer running\\)`));

  const second = startBot(t, cwd, env);
  const http = await second.started();
  await second.waitForOutput(new RegExp(`"msg":"found a stale lock and took it over"`));
  assert.match(second.stdout, new RegExp(`"previous":\\{"pid":${first.child.pid}`));
  await second.waitForOutput(/\[WARN\] Took over a stale lock/);
  assert.equal((await fetch(`http://${http}/healthz`)).status, 200);
  const lock = JSON.parse(readFileSync(join(cwd, 'data', 'nightshift.lock'), 'utf8')) as { pid: number };
  assert.equal(lock.pid, second.child.pid);
});

test('a broken config exits 2, names every bad field, and creates nothing', (t) => {
  const cwd = tempDir(t);
  writeFileSync(
    join(cwd, 'nightshift.yml'),
    'patrol:\n  interval: often\nchecks:\n  - name: root-disk\n    kind: disk\n    minFreePercent: 200\n  - name: x\n    kind: procss\n',
  );
  const env = botEnv(cwd);
  for (const command of ['start', 'check-config', 'status']) {
    const result = runCli([command], cwd, env);
    assert.equal(result.code, 2, command);
    assert.match(result.stderr, /nightshift\.yml: invalid configuration \(4 problems\)/);
    assert.match(result.stderr, /patrol\.interval: expected a duration .*found "often"/);
    assert.match(result.stderr, /checks\[0\]\.path: expected string, found nothing/);
    assert.match(result.stderr, /checks\[0\]\.minFreePercent: expected number to be <=100, found number 200/);
    assert.match(result.stderr, /checks\[1\]\.kind: expected one of .*found "procss"/);
  }
  assert.equal(existsSync(join(cwd, 'data')), false, 'no data dir, database or lock was created');
});

test('check-config accepts a good file and describes it', (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, 'nightshift.yml'), 'checks:\n  - name: root\n    kind: disk\n    path: /\n');
  const result = runCli(['check-config'], cwd, botEnv(cwd));
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /nightshift\.yml: OK\n(.*\n)* {2}1 checks: root \(disk, critical\)/);
});

test('with stdin closed (a service, CI) the bot keeps running and patrolling', async (t) => {
  const cwd = tempDir(t);
  const bot = startBot(t, cwd, botEnv(cwd), ['start'], 'ignore');
  const http = await bot.started();
  await bot.waitForOutput(SUMMARY);
  const first = ((await (await fetch(`http://${http}/status.json`)).json()) as { lastPatrolAt: number }).lastPatrolAt;
  assert.equal(bot.child.exitCode, null);
  assert.equal((await fetch(`http://${http}/healthz`)).status, 200);
  assert.ok(first > 0);
});

test('an HTTP address already in use is a clear start-up error (exit 1), and the lock is released', async (t) => {
  const cwd = tempDir(t);
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const result = runCli(['start'], cwd, botEnv(cwd, { NIGHTSHIFT_HTTP: `127.0.0.1:${port}` }));
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
  assert.equal(existsSync(join(cwd, 'data', 'nightshift.lock')), false);
});

test('a failing migration stops start-up with a non-zero exit naming the migration', (t) => {
  const cwd = tempDir(t);
  mkdirSync(join(cwd, 'data'));
  // A database left by something else: an "events" table that the first migration cannot create.
  const db = new Database(join(cwd, 'data', 'nightshift.db'));
  db.exec('CREATE TABLE events (x TEXT)');
  db.close();
  const result = runCli(['start'], cwd, botEnv(cwd));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /migration 0001_events\.sql failed: table events already exists/);
  const after = new Database(join(cwd, 'data', 'nightshift.db'), { readonly: true });
  t.after(() => after.close());
  assert.equal(after.pragma('user_version', { simple: true }), 0);
});

test('--help, --version and bad usage', (t) => {
  const cwd = tempDir(t);
  const env = botEnv(cwd);
  const help = runCli(['--help'], cwd, env);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes:/);
  const version = runCli(['--version'], cwd, env);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const bad = runCli(['strat'], cwd, env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown arguments: strat/);
});
