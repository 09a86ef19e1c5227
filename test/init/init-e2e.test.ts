import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { test } from 'node:test';
import { botEnv, runCli, startBot } from '../helpers/cli.js';
import { closedPort } from '../helpers/net.js';
import { PM2_BIN, pm2Sandbox } from '../helpers/pm2.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { parseConfig } from '../../src/config/load.js';

const TIMEOUT = { timeout: 60_000 };

test('init --yes on a machine with two pm2 apps, one serving HTTP: the file validates and `start` patrols them ok', TIMEOUT, async (t) => {
  if (!existsSync(PM2_BIN)) return t.skip('pm2 not found: run scripts/install-test-deps.sh');
  const pm2 = pm2Sandbox(t);
  const port = await closedPort();
  await pm2.startApp('api', `require('node:http').createServer((req, res) => res.end('ok')).listen(${port}, '127.0.0.1', () => console.log('api listening'));`);
  // The worker's log names the api's address: init guesses the dependency from it.
  await pm2.startApp('worker', `console.log('worker: polling http://127.0.0.1:${port}/jobs'); setInterval(() => {}, 1000);`);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.ok, { what: 'the api to answer', timeoutMs: 15_000 });
  await waitFor(
    () => existsSync(join(pm2.home, 'logs', 'worker-out.log')) && readFileSync(join(pm2.home, 'logs', 'worker-out.log'), 'utf8').includes('polling'),
    {
      what: "the worker's log line",
    },
  );

  const cwd = tempDir(t, 'ns-init-');
  const env = botEnv(cwd, {
    PM2_HOME: pm2.home,
    PATH: [dirname(PM2_BIN), process.env.PATH ?? ''].join(delimiter),
    NIGHTSHIFT_INIT_GROWTH_WAIT: '200ms',
  });
  const init = runCli(['init', '--yes'], cwd, env);
  assert.equal(init.code, 0, init.stderr + init.stdout);
  assert.match(init.stdout, /Found 2 pm2 apps: api, worker\. Watching them\./);
  assert.match(init.stdout, /Wrote .*nightshift\.yml \(\d+ checks\)/);
  assert.match(init.stdout, /nightshift check-config/);
  assert.match(init.stdout, /NTFY_URL, NTFY_TOPIC/);

  const file = join(cwd, 'nightshift.yml');
  const text = readFileSync(file, 'utf8');
  const config = parseConfig(text, file, {}, cwd);
  const byName = new Map(config.checks.map((check) => [check.name, check]));
  assert.equal(byName.get('api')?.kind, 'pm2');
  assert.deepEqual(byName.get('api')?.params.ready, { port });
  assert.equal(byName.get('api')?.heal[0]?.action, 'restart');
  assert.equal(byName.get('worker')?.kind, 'pm2');
  const apiHttp = byName.get('api-http');
  assert.equal(apiHttp?.kind, 'http');
  assert.equal(apiHttp.params.url, `http://127.0.0.1:${port}/`);
  assert.deepEqual(apiHttp.dependsOn, ['api']);
  assert.deepEqual(byName.get('worker')?.dependsOn, ['api-http']);
  assert.match(text, new RegExp(`- api-http # guess: api listens on ${port} and worker's log mentions it`));
  assert.match(text, /# pm2 app api: online, pid \d+/);

  const check = runCli(['check-config'], cwd, env);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /api \(pm2, critical\), worker \(pm2, critical\)/);

  const bot = startBot(t, cwd, env);
  const http = await bot.started();
  const status = await waitFor(
    async () => {
      const body = (await (await fetch(`http://${http}/status.json`)).json()) as { details: Array<{ name: string; status: string }> };
      const wanted = ['api', 'worker', 'api-http'].map((name) => body.details.find((d) => d.name === name)?.status);
      return wanted.every((s) => s === 'ok') ? body : undefined;
    },
    { what: 'api, worker and api-http ok in /status.json', timeoutMs: 20_000, intervalMs: 200 },
  );
  assert.ok(status.details.some((d) => d.name === 'self' && d.status === 'ok'));
  bot.kill('SIGTERM');
  assert.equal((await bot.exit()).code, 0);
});
