import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import { BIN, botEnv, runCli, startBot } from '../helpers/cli.js';
import { closedPort } from '../helpers/net.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { fakeCommand } from './helpers.js';

const TIMEOUT = { timeout: 30_000 };
const CRONTAB = '*/5 * * * * /srv/jobs/cleanup.sh\n0 3 * * * /srv/jobs/backup.sh --full\n';

/** A CLI environment where init finds a crontab (the fake), no pm2, no systemd, no Docker, no Ollama; ports are the machine's. */
async function initEnv(t: TestContext, cwd: string, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  return botEnv(cwd, {
    PATH: fakeCommand(t, 'crontab', { stdout: CRONTAB }),
    OLLAMA_HOST: `http://127.0.0.1:${await closedPort()}`,
    DOCKER_HOST: `unix://${join(cwd, 'no-docker.sock')}`,
    NIGHTSHIFT_INIT_GROWTH_WAIT: '100ms',
    ...extra,
  });
}

/** An HTTP server in this process: init finds it as a listening port. */
async function servePort(t: TestContext): Promise<number> {
  const server = createServer((req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return (server.address() as AddressInfo).port;
}

/** Runs the CLI with `input` on its stdin, without blocking this process (its own server must answer init's probe). */
async function runWithInput(args: string[], cwd: string, env: NodeJS.ProcessEnv, input: string) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

test('init --dry-run prints the YAML alone on stdout, validated, and writes nothing', TIMEOUT, async (t) => {
  const cwd = tempDir(t);
  const result = runCli(['init', '--dry-run', '--yes'], cwd, await initEnv(t, cwd));
  assert.equal(result.code, 0, result.stderr);
  const doc = parse(result.stdout) as { checks: Array<{ name: string; kind: string; period?: string }> };
  assert.deepEqual(
    doc.checks.filter((c) => c.kind === 'heartbeat').map((c) => [c.name, c.period]),
    [
      ['cron-cleanup', '5m'],
      ['cron-backup', '1d'],
    ],
  );
  assert.match(result.stdout, /^# nightshift\.yml written by `nightshift init`/);
  assert.match(result.stderr, /dry run: .*nightshift\.yml not written/);
  assert.match(result.stderr, /could not look: docker: no socket at/);
  assert.ok(!existsSync(join(cwd, 'nightshift.yml')));
  assert.ok(!existsSync(join(cwd, 'data')), 'init creates no data directory');
});

test('an existing nightshift.yml is never overwritten: exit 2, the file named, --dry-run and NIGHTSHIFT_CONFIG suggested', TIMEOUT, async (t) => {
  const cwd = tempDir(t);
  const file = join(cwd, 'nightshift.yml');
  writeFileSync(file, '# mine\nchecks: []\n');
  const env = await initEnv(t, cwd);
  const result = runCli(['init', '--yes'], cwd, env);
  assert.equal(result.code, 2);
  assert.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already exists; init never overwrites a file`));
  assert.match(result.stderr, /nightshift init --dry-run/);
  assert.match(result.stderr, /NIGHTSHIFT_CONFIG=other\.yml nightshift init/);
  assert.equal(readFileSync(file, 'utf8'), '# mine\nchecks: []\n');

  // The suggestion works: another file is written, and check-config reads it.
  const other = runCli(['init', '--yes'], cwd, { ...env, NIGHTSHIFT_CONFIG: 'other.yml' });
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stdout, /NIGHTSHIFT_CONFIG=.*other\.yml nightshift check-config/);
  const check = runCli(['check-config'], cwd, { ...env, NIGHTSHIFT_CONFIG: 'other.yml' });
  assert.equal(check.code, 0, check.stderr);
  assert.equal(readFileSync(file, 'utf8'), '# mine\nchecks: []\n');
});

test('a bad flag prints the usage and exits 2 without writing', TIMEOUT, async (t) => {
  const cwd = tempDir(t);
  const result = runCli(['init', '--force'], cwd, await initEnv(t, cwd));
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown argument "--force"/);
  assert.match(result.stderr, /Usage: nightshift init \[--yes\] \[--dry-run\]/);
  assert.ok(!existsSync(join(cwd, 'nightshift.yml')));
});

test('interactive: "n" leaves a group out; stdin ending takes the defaults for the rest and says so', TIMEOUT, async (t) => {
  const port = await servePort(t);
  const cwd = tempDir(t);
  const env = await initEnv(t, cwd);
  const result = await runWithInput(['init'], cwd, env, 'n\n');
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`Found \\d+ listening ports?: [^\\n]*${port} \\(node\\)[^\\n]*\\. Watch (it|them)\\? \\[Y/n\\]`));
  assert.match(result.stdout, /Found 2 cron jobs: cleanup\.sh \(\*\/5 \* \* \* \*\), backup\.sh \(0 3 \* \* \*\)\. Watch them with heartbeats/);
  assert.match(result.stdout, /stdin ended: taking the defaults/);
  const text = readFileSync(join(cwd, 'nightshift.yml'), 'utf8');
  assert.doesNotMatch(text, new RegExp(`:${port}\\b`), 'the ports answered "n" are left out');
  assert.match(text, /name: cron-cleanup\n\s+kind: heartbeat/);
  assert.match(result.stdout, /cron-cleanup .*append to the entry:\n\s+&& curl -fsS -m 10 --retry 3 http:\/\/127\.0\.0\.1:0\/ping\/cron-cleanup > \/dev\/null/);

  const cwd2 = tempDir(t);
  const second = await runWithInput(['init'], cwd2, await initEnv(t, cwd2), 'y\nmaybe\nn\n');
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /Please answer y or n\./);
  assert.doesNotMatch(second.stdout, /stdin ended/);
  const text2 = readFileSync(join(cwd2, 'nightshift.yml'), 'utf8');
  assert.match(text2, new RegExp(`url: http://127\\.0\\.0\\.1:${port}/`));
  assert.doesNotMatch(text2, /kind: heartbeat/);
  assert.doesNotMatch(second.stdout, /Cron jobs: each entry pings/);
});

test("the printed cron line, with .env's port, reaches the started bot's heartbeat", TIMEOUT, async (t) => {
  if (spawnSync('curl', ['--version']).error) return t.skip('curl not found: run scripts/install-test-deps.sh');
  const cwd = tempDir(t);
  const httpPort = await closedPort();
  // Set in .env only, as most operators do: init must read it as start does.
  const env = await initEnv(t, cwd);
  delete env.NIGHTSHIFT_HTTP;
  writeFileSync(join(cwd, '.env'), `NIGHTSHIFT_HTTP=127.0.0.1:${httpPort}\n`);
  const init = runCli(['init', '--yes'], cwd, env);
  assert.equal(init.code, 0, init.stderr);
  const line = /append to the entry:\n\s+(&& curl [^\n]*\/ping\/cron-backup[^\n]*)/.exec(init.stdout)?.[1];
  assert.ok(line, init.stdout);
  const bot = startBot(t, cwd, env);
  assert.equal(await bot.started(), `127.0.0.1:${httpPort}`);
  assert.match(line, new RegExp(`http://127\\.0\\.0\\.1:${httpPort}/ping/`));
  const curl = spawnSync('/bin/sh', ['-c', `true ${line}`], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(curl.status, 0, curl.stderr);
  const status = await waitFor(
    async () => {
      const body = (await (await fetch(`http://127.0.0.1:${httpPort}/status.json`)).json()) as { details: Array<{ name: string; status: string }> };
      return body.details.find((d) => d.name === 'cron-backup' && d.status === 'ok');
    },
    { what: 'cron-backup ok', intervalMs: 100 },
  );
  assert.ok(status);
  // A name no check expects is refused by the same route: the 0 above means the ping was taken.
  const wrong = spawnSync('/bin/sh', ['-c', `true ${line.replace('cron-backup', 'cron-nothing')}`], { encoding: 'utf8', timeout: 15_000 });
  assert.notEqual(wrong.status, 0);
});
