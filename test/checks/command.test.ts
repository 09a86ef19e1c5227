import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { commandCheck } from '../../src/checks/command.js';
import { isProcessRunning } from '../../src/util/proc.js';
import type { Probe } from '../../src/checks/types.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir, waitFor } from '../helpers/temp.js';

function probe(t: TestContext, params: Record<string, unknown>): Probe {
  return commandCheck.create(commandCheck.params.parse(params), testCheckEnv({ dataDir: tempDir(t) }).env);
}
const ctx = () => ({ signal: new AbortController().signal, now: Date.now });

test('command: exit 0 is healthy, with the output tail as evidence', async (t) => {
  const result = await probe(t, { run: 'echo checking; echo all good' }).run(ctx());
  assert.equal(result.ok, true);
  assert.equal(result.message, 'exit 0');
  assert.equal(result.details!.exitCode, 0);
  assert.equal(result.details!.signal, null);
  assert.equal(result.details!.stdoutTail, 'checking\nall good');
  assert.equal(typeof result.details!.durationMs, 'number');
});

test('command: a non-zero exit fails with the last stderr line and a short tail', async (t) => {
  const result = await probe(t, { run: 'seq 1 500; echo "warming up" >&2; echo "database is locked" >&2; exit 2' }).run(ctx());
  assert.equal(result.ok, false);
  assert.equal(result.message, 'exit 2: database is locked');
  assert.equal(result.details!.exitCode, 2);
  assert.equal(result.details!.stderrTail, 'warming up\ndatabase is locked');
  assert.equal(result.details!.stdoutTail, '496\n497\n498\n499\n500', 'only the last lines are kept');
});

test('command: argv form runs without a shell, in cwd, with env merged over the environment minus the bot tokens and channel settings', async (t) => {
  const dir = tempDir(t);
  // On a token-less ntfy server the topic names are the credential: they go with the tokens.
  const hidden = {
    TELEGRAM_TOKEN: '123456:bot-token-the-command-must-not-see',
    NTFY_TOPIC: 'alerts-x7',
    NTFY_REPLY_TOPIC: 'replies-x7',
    NTFY_URL: 'http://ntfy.lan',
    NIGHTSHIFT_HTTP_TOKEN: 'http-token-0123456789',
  };
  const previous = Object.fromEntries(Object.keys(hidden).map((name) => [name, process.env[name]]));
  Object.assign(process.env, hidden);
  t.after(() => {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  const script = `console.log(process.env.GREETING, process.cwd(), process.argv.at(-1), Boolean(process.env.PATH), ${Object.keys(hidden)
    .map((n) => `process.env.${n}`)
    .join(', ')}); process.exit(3)`;
  const result = await probe(t, {
    run: [process.execPath, '-e', script, '$HOME'],
    cwd: dir,
    env: { GREETING: 'hello' },
  }).run(ctx());
  assert.equal(result.ok, false);
  assert.equal(result.message, `exit 3: hello ${dir} $HOME true undefined undefined undefined undefined undefined`);
  assert.throws(() => commandCheck.params.parse({ run: [] }));
  assert.throws(() => commandCheck.params.parse({ run: 'true', shell: true }), /shell/);
});

test('command: a hanging command and its children are killed on abort', async (t) => {
  const dir = tempDir(t);
  const shellPidFile = join(dir, 'shell.pid');
  const childPidFile = join(dir, 'child.pid');
  const controller = new AbortController();
  t.after(() => controller.abort());
  const running = probe(t, { run: `sleep 60 & echo $! > ${childPidFile}; echo $$ > ${shellPidFile}; echo started; wait` }).run({
    signal: controller.signal,
    now: Date.now,
  });
  const readPid = (file: string) => Number(readFileSync(file, 'utf8').trim());
  const shellPid = await waitFor(() => readPid(shellPidFile), { what: 'the shell to write its pid' });
  const childPid = await waitFor(() => readPid(childPidFile), { what: 'the shell to start its child' });
  assert.equal(isProcessRunning(childPid), true);

  const abortedAt = performance.now();
  controller.abort();
  const result = await running;
  assert.ok(performance.now() - abortedAt < 2000, 'the run ends promptly after the abort');
  assert.equal(result.ok, false);
  assert.match(result.message, /^aborted after \d+ ms, killed by SIGTERM: started$/);
  assert.equal(result.details!.signal, 'SIGTERM');
  assert.equal(result.details!.exitCode, null);
  assert.throws(() => process.kill(shellPid, 0), { code: 'ESRCH' });
  // The grandchild is reparented when the shell dies; whoever reaps it, it must not run on.
  await waitFor(() => !isProcessRunning(childPid), { timeoutMs: 3000, what: `pid ${childPid} to be gone` });
});

test('command: a program that does not exist says so', async (t) => {
  const argv = await probe(t, { run: ['nightshift-no-such-program', '--version'] }).run(ctx());
  assert.equal(argv.ok, false);
  assert.equal(argv.message, 'could not start: nightshift-no-such-program not found (ENOENT)');
  assert.equal(argv.details!.exitCode, null);

  const shell = await probe(t, { run: 'nightshift-no-such-program --version' }).run(ctx());
  assert.equal(shell.ok, false);
  assert.match(shell.message, /^exit 127: .*nightshift-no-such-program: (command )?not found$/);

  const missingDir = join(tempDir(t), 'gone');
  const badCwd = await probe(t, { run: 'true', cwd: missingDir }).run(ctx());
  assert.equal(badCwd.ok, false);
  assert.equal(badCwd.message, `could not start: cwd ${missingDir} does not exist`);
});
