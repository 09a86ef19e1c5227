import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeNtfyServer } from '../fakes/ntfy/server.js';
import { botEnv, startBot } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/temp.js';

// Runs the built CLI (dist/): `npm test` builds first.

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));

/**
 * Sets the running process's soft file size limit (RLIMIT_FSIZE): 0 makes every file write fail, as a full
 * disk does. Only the soft limit moves (the hard one stays unlimited), so it can be raised again without privileges.
 */
function setFileSizeLimit(pid: number, limit: '0' | 'unlimited'): void {
  execFileSync(PRLIMIT!, ['--pid', String(pid), `--fsize=${limit}:unlimited`]);
}

async function healthz(address: string): Promise<{ status: number; body: { ok: boolean; reason?: string; lastPatrolAt: number } }> {
  const response = await fetch(`http://${address}/healthz`);
  return { status: response.status, body: (await response.json()) as { ok: boolean; reason?: string; lastPatrolAt: number } };
}

test('a full disk while running: /healthz 503 with the reason, one log line instead of a stack per write, and the alert delivered once space returns', async (t) => {
  if (!PRLIMIT) {
    t.skip('prlimit not found (Debian package util-linux): cannot simulate a full disk on the running bot');
    return;
  }
  const cwd = tempDir(t);
  const ntfy = await FakeNtfyServer.start();
  t.after(() => ntfy.close());
  const flag = join(cwd, 'worker.heartbeat');
  writeFileSync(flag, 'ok\n');
  writeFileSync(
    join(cwd, 'nightshift.yml'),
    `patrol: { interval: 1s }\nchat: { groupWait: 0s }\nchecks:\n  - { name: worker, kind: file, path: ${JSON.stringify(flag)} }\n`,
  );
  const bot = startBot(t, cwd, botEnv(cwd, { NTFY_URL: ntfy.url, NTFY_TOPIC: 'alerts' }), ['start'], 'ignore');
  const address = await bot.started();
  await waitFor(async () => (await healthz(address)).status === 200, { what: 'a healthy bot' });
  t.after(() => {
    if (bot.child.exitCode === null) setFileSizeLimit(bot.child.pid!, 'unlimited');
  });

  // The disk fills up, then the worker dies.
  setFileSizeLimit(bot.child.pid!, '0');
  rmSync(flag);
  const during = await waitFor(
    async () => {
      const health = await healthz(address);
      return health.status === 503 ? health : undefined;
    },
    { timeoutMs: 15_000, what: '/healthz to report the failing store' },
  );
  assert.match(during.body.reason ?? '', /the database cannot be written since .*SQLITE_IOERR/);
  // Three more patrols of a full disk later, the log has said it once, not once per failed write.
  const since = during.body.lastPatrolAt;
  await waitFor(async () => (await healthz(address)).body.lastPatrolAt >= since + 3_000, { timeoutMs: 15_000, what: 'three more patrols' });
  assert.equal((bot.stdout.match(/the database cannot be written \(disk full\?\)/g) ?? []).length, 1, bot.stdout);
  assert.equal((bot.stdout.match(/patrol could not record a check result|a patrol listener failed/g) ?? []).length, 0, 'no stack trace per failed write');
  assert.equal(
    ntfy.messages('alerts').some((m) => /worker is failing/.test(m.title ?? '')),
    false,
    'nothing could be recorded, so nothing was announced yet',
  );

  // Space returns: the incident is recorded and announced, the bot is healthy again, and the operator learns what happened.
  setFileSizeLimit(bot.child.pid!, 'unlimited');
  await waitFor(() => ntfy.messages('alerts').some((m) => /worker is failing: missing/.test(m.title ?? '')), {
    timeoutMs: 15_000,
    what: 'the alert after the outage',
  });
  await waitFor(async () => (await healthz(address)).status === 200, { timeoutMs: 15_000, what: '/healthz back to 200' });
  await waitFor(() => ntfy.messages('alerts').some((m) => /could not write its database for .*; it can again/.test(m.title ?? '')), {
    what: 'the outage notice',
  });
  assert.equal(ntfy.messages('alerts').filter((m) => /worker is failing/.test(m.title ?? '')).length, 1, 'announced once');
  bot.kill('SIGTERM');
  assert.equal((await bot.exit()).code, 0);
});
