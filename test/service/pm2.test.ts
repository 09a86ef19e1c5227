import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { pm2Sandbox } from '../helpers/pm2.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const ECOSYSTEM = join(packageRoot, 'deploy', 'ecosystem.config.cjs');

interface App {
  name: string;
  script: string;
  args: string;
  cwd: string;
  instances: number;
  exec_mode: string;
  autorestart: boolean;
  stop_exit_codes: number[];
  min_uptime: number;
  max_restarts: number;
  exp_backoff_restart_delay: number;
  restart_delay?: number;
  kill_timeout: number;
}

test('the pm2 file loads and names what pm2 needs, with a crash loop that shows and exit 2 that stops', () => {
  const { apps } = createRequire(import.meta.url)(ECOSYSTEM) as { apps: App[] };
  assert.equal(apps.length, 1);
  const app = apps[0]!;
  assert.equal(app.name, 'nightshift');
  assert.equal(resolve(app.cwd), packageRoot);
  assert.ok(existsSync(join(app.cwd, app.script)), `${app.script} is not in ${app.cwd}`);
  assert.equal(app.args, 'start');
  assert.equal(app.instances, 1);
  assert.equal(app.exec_mode, 'fork');
  assert.deepEqual(app.stop_exit_codes, [2]);
  assert.ok(app.min_uptime >= 5_000 && app.max_restarts > 0 && app.max_restarts <= 10, 'an early crash loop ends as "errored"');
  assert.ok(app.exp_backoff_restart_delay > 0);
  // pm2 overrides restart_delay with the back-off: both would only mislead the reader.
  assert.equal(app.restart_delay, undefined);
  assert.ok(app.kill_timeout > 2_000, 'Nightshift needs up to 2 s to stop');
});

interface JlistApp {
  name: string;
  pid: number;
  pm2_env: { status: string; restart_time: number; exit_code?: number };
}

test('under a real pm2, exit 2 (a bad config) stays stopped, and a killed Nightshift comes back', { timeout: 28_000 }, async (t) => {
  if (!existsSync(join(packageRoot, 'dist', 'src', 'main.js'))) return t.skip('dist not built: npx tsc -p tsconfig.build.json');
  // The same layout as a checkout: deploy/ecosystem.config.cjs beside bin/, its folder the working directory.
  const root = tempDir(t, 'ns-pm2-app-');
  mkdirSync(join(root, 'deploy'));
  copyFileSync(ECOSYSTEM, join(root, 'deploy', 'ecosystem.config.cjs'));
  symlinkSync(join(packageRoot, 'bin'), join(root, 'bin'));
  writeFileSync(join(root, '.env'), 'NIGHTSHIFT_HTTP=127.0.0.1:0\nNIGHTSHIFT_DATA_DIR=./data\n');
  writeFileSync(join(root, 'nightshift.yml'), 'checks:\n  - name: root\n    kind: nope\n');

  const pm2 = pm2Sandbox(t);
  const nightshift = async () => {
    const { stdout } = await pm2.pm2('jlist');
    const list = JSON.parse(stdout.slice(stdout.indexOf('['))) as JlistApp[];
    return list.find((app) => app.name === 'nightshift');
  };
  await pm2.pm2('start', join(root, 'deploy', 'ecosystem.config.cjs'));
  const exited = await waitFor(
    async () => {
      const app = await nightshift();
      return app?.pm2_env.exit_code === 2 ? app : undefined;
    },
    { timeoutMs: 10_000, what: 'Nightshift to exit 2 on the bad configuration' },
  );
  // "waiting restart", not "stopped": pm2 6 sets it from exp_backoff_restart_delay before it checks stop_exit_codes.
  assert.ok(['stopped', 'waiting restart'].includes(exited.pm2_env.status), exited.pm2_env.status);
  // Nothing to wait for when nothing happens: three times the first back-off (1 s) without a restart.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const still = await nightshift();
  assert.equal(still?.pm2_env.restart_time, 0);
  assert.equal(still?.pid, 0);

  writeFileSync(join(root, 'nightshift.yml'), 'checks:\n  - name: root\n    kind: disk\n    path: /\n');
  await pm2.pm2('restart', 'nightshift');
  const online = await waitFor(
    async () => {
      const app = await nightshift();
      return app?.pm2_env.status === 'online' && app.pid > 0 && existsSync(join(root, 'data')) ? app : undefined;
    },
    { timeoutMs: 10_000, what: 'Nightshift online under pm2' },
  );

  process.kill(online.pid, 'SIGKILL');
  const back = await waitFor(
    async () => {
      const app = await nightshift();
      return app?.pm2_env.status === 'online' && app.pid > 0 && app.pid !== online.pid ? app : undefined;
    },
    { timeoutMs: 12_000, what: 'pm2 to restart the killed Nightshift' },
  );
  assert.equal(back.pm2_env.restart_time, online.pm2_env.restart_time + 1);
});
