import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { dirname } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { FakeNtfyServer } from '../fakes/ntfy/server.js';
import { fakeSystemd, type FakeSystemd } from '../fakes/systemctl/state.js';
import { fakeJournal } from '../fakes/systemctl/journal.js';
import { canaryToken } from '../helpers/canary.js';
import { tempDir } from '../helpers/temp.js';

const SCRIPT = join(packageRoot, 'deploy', 'nightshift-alert.sh');
const TIMEOUT = { timeout: 20_000 };

const TOKEN = canaryToken('ntfy');
const DISCORD = 'MTEx.discord-bot-token.abcdefghijklmnop';
const PING = 'https://hc-ping.com/5e0b1c2d-secret-uuid';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the script with sh in `cwd`, the fakes first on PATH, nothing from this process's environment. */
function runAlert(cwd: string, systemd: FakeSystemd | undefined, env: Record<string, string>, args = ['nightshift']): Promise<Run> {
  const path = [...(systemd ? [dirname(systemd.bin)] : []), '/usr/bin', '/bin'].join(':');
  return new Promise((resolve) => {
    execFile('sh', [SCRIPT, ...args], { cwd, env: { PATH: path, ...env }, timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function setUp(t: Parameters<typeof tempDir>[0], envFile: (url: string) => string) {
  const ntfy = await FakeNtfyServer.start({ token: TOKEN });
  t.after(() => ntfy.close());
  const cwd = tempDir(t, 'ns-alert-');
  writeFileSync(join(cwd, '.env'), envFile(ntfy.url));
  const systemd = fakeSystemd(t);
  const journal = fakeJournal(systemd);
  systemd.setUnit('nightshift.service', { activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 2 });
  return { ntfy, cwd, systemd, journal };
}

const standardEnv = (url: string) =>
  [
    '# Nightshift environment',
    `NTFY_URL=${url}   # the fake`,
    'export NTFY_TOPIC="night_alerts"',
    `NTFY_TOKEN='${TOKEN}'`,
    `DISCORD_TOKEN=${DISCORD}`,
    `HC_PING_URL=${PING}`,
    '# NTFY_TOPIC=not_this_one',
    'EVIL=$(touch pwned-by-substitution)',
    'touch pwned-by-a-command',
    'NIGHTSHIFT_HTTP=127.0.0.1:8787',
    '',
  ].join('\n');

test('a failure posts one urgent ntfy message with the unit, the reason and the journal, and no secret', TIMEOUT, async (t) => {
  const { ntfy, cwd, systemd, journal } = await setUp(t, standardEnv);
  const at = Date.now() - 5_000;
  journal.append('nightshift.service', [
    { at, identifier: 'nightshift', pid: 4242, message: 'configuration invalid: checks[0].kind: expected one of disk, http' },
    { at: at + 1, identifier: 'nightshift', pid: 4242, message: `discord login failed with token ${DISCORD}` },
    { at: at + 2, identifier: 'nightshift', pid: 4242, message: `x${'y'.repeat(1000)}` },
  ]);

  const run = await runAlert(cwd, systemd, { MONITOR_SERVICE_RESULT: 'exit-code', MONITOR_EXIT_STATUS: '2', MONITOR_UNIT: 'nightshift.service' });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /paged ntfy about nightshift\.service/);

  const [message, ...more] = ntfy.messages('night_alerts');
  assert.ok(message, 'no message on the topic');
  assert.equal(more.length, 0);
  assert.equal(message.title, `Nightshift is down on ${hostname()}`);
  assert.equal(message.priority, 5);
  assert.ok(message.tags?.includes('rotating_light'), String(message.tags));
  assert.match(message.message, /nightshift\.service on .*: it exited with status 2: the configuration is invalid/);
  assert.match(message.message, /sudo systemctl reset-failed nightshift\.service && sudo systemctl start nightshift\.service/);
  assert.match(message.message, /checks\[0\]\.kind: expected one of disk, http/);
  assert.match(message.message, /discord login failed with token \[redacted\]/);
  // A 1000-character line is cut at 300.
  assert.match(message.message, /y{250,300}\.\.\./);
  assert.doesNotMatch(message.message, /y{301}/);
  for (const secret of [TOKEN, DISCORD, PING, ntfy.url])
    assert.ok(!message.message.includes(secret) && !(message.title ?? '').includes(secret), `${secret} is in the message`);
  for (const output of [run.stdout, run.stderr]) for (const secret of [TOKEN, DISCORD, PING]) assert.ok(!output.includes(secret));

  // The token was sent (the fake refuses a publish without it) and the journal asked as the brief says.
  assert.equal(ntfy.requests().filter((r) => r.method === 'POST').length, 1);
  assert.deepEqual(journal.calls(), [['-u', 'nightshift.service', '-n', '20', '--no-pager', '-o', 'short-iso']]);
  // .env is read, not run.
  assert.ok(!existsSync(join(cwd, 'pwned-by-substitution')) && !existsSync(join(cwd, 'pwned-by-a-command')));
});

test('hitting the start limit says that systemd stopped restarting it', TIMEOUT, async (t) => {
  const { ntfy, cwd, systemd } = await setUp(t, standardEnv);
  systemd.updateUnit('nightshift.service', { result: 'start-limit-hit' });
  const run = await runAlert(cwd, systemd, { MONITOR_SERVICE_RESULT: 'start-limit-hit', MONITOR_EXIT_CODE: 'exited', MONITOR_EXIT_STATUS: '1' });
  assert.equal(run.code, 0, run.stderr);
  const [message] = ntfy.messages('night_alerts');
  assert.match(message?.message ?? '', /it kept failing, and systemd stopped restarting it/);
  assert.match(message?.message ?? '', /-- No entries --/);
});

test('a unit systemd is restarting (OnFailure= on systemd 254+) does not page', TIMEOUT, async (t) => {
  const { ntfy, cwd, systemd } = await setUp(t, standardEnv);
  systemd.updateUnit('nightshift.service', { activeState: 'activating', subState: 'auto-restart' });
  const run = await runAlert(cwd, systemd, { MONITOR_SERVICE_RESULT: 'exit-code', MONITOR_EXIT_STATUS: '1' });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /nightshift\.service is auto-restart \(systemd restarts it\): no page/);
  assert.equal(ntfy.messages('night_alerts').length, 0);
});

test('started by hand (a test of the page), it pages even while Nightshift runs', TIMEOUT, async (t) => {
  const { ntfy, cwd, systemd } = await setUp(t, standardEnv);
  systemd.updateUnit('nightshift.service', { activeState: 'active', subState: 'running' });
  const run = await runAlert(cwd, systemd, {});
  assert.equal(run.code, 0, run.stderr);
  const [message] = ntfy.messages('night_alerts');
  assert.match(message?.message ?? '', /this alert was started by hand \(systemd passed on no failure\): a test of the page/);
});

test('without NTFY_URL it exits non-zero with one clear line and posts nothing', TIMEOUT, async (t) => {
  const { ntfy, cwd, systemd } = await setUp(t, () => 'NTFY_TOPIC=night_alerts\n# NTFY_URL=http://127.0.0.1:1\n');
  const run = await runAlert(cwd, systemd, {});
  assert.notEqual(run.code, 0);
  assert.equal(run.stderr, `nightshift-alert: cannot page about nightshift.service: NTFY_URL and NTFY_TOPIC must both be set in ${cwd}/.env\n`);
  assert.equal(ntfy.requests().length, 0);

  const noFile = tempDir(t, 'ns-alert-');
  const missing = await runAlert(noFile, undefined, {});
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /must both be set in .*\/\.env \(not found\)\n$/);
});

test('an ntfy server that cannot be reached fails the alert with a line that names no secret', TIMEOUT, async (t) => {
  const { ntfy, cwd, systemd } = await setUp(t, standardEnv);
  await ntfy.down();
  const run = await runAlert(cwd, systemd, { MONITOR_SERVICE_RESULT: 'exit-code', MONITOR_EXIT_STATUS: '2' });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /nightshift-alert: could not post the alert about nightshift\.service to ntfy \(curl exit 7;/);
  assert.ok(!run.stderr.includes(TOKEN));
});

test('--user reads the user journal and tells the user-manager commands', TIMEOUT, async (t) => {
  const { ntfy, cwd, systemd, journal } = await setUp(t, standardEnv);
  systemd.setUnit('nightshift.service', { activeState: 'failed', subState: 'failed' }, { user: true });
  journal.append('nightshift.service', [{ at: Date.now(), identifier: 'nightshift', pid: 7, message: 'user journal line' }], { user: true });
  const run = await runAlert(cwd, systemd, {}, ['--user', 'nightshift']);
  assert.equal(run.code, 0, run.stderr);
  const [message] = ntfy.messages('night_alerts');
  assert.match(message?.message ?? '', /systemctl --user reset-failed nightshift\.service/);
  assert.match(message?.message ?? '', /user journal line/);
  assert.deepEqual(journal.calls()[0]?.slice(0, 3), ['--user', '-u', 'nightshift.service']);
});
