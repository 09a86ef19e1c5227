import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HealResult } from '../../src/checks/types.js';
import { commandAction } from '../../src/heal/command.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { checkConfig } from '../helpers/check-config.js';
import { tempDir } from '../helpers/temp.js';
import { childEnvironment } from '../../src/config/child-env.js';

function commandStep(dir: string, params: Record<string, unknown>) {
  const { logger } = createCapturedLogger(new Redactor());
  const step = commandAction.create(commandAction.params.parse(params), {
    log: logger,
    dataDir: dir,
    now: Date.now,
    childEnv: childEnvironment,
    record: () => {},
  });
  const target = { check: checkConfig('worker'), probe: { run: async () => ({ ok: true, message: 'not used by this action' }) } };
  return (signal = new AbortController().signal): Promise<HealResult> => step.run(target, { signal, now: Date.now });
}

test('command: a shell command that exits 0 is ok, with its output tails', async (t) => {
  const dir = tempDir(t);
  const run = commandStep(dir, { run: `mkdir -p ${dir}/cache && echo made; echo "a warning" >&2` });
  const result = await run();
  assert.equal(result.ok, true);
  assert.equal(result.message, 'exit 0');
  assert.equal(result.details!.exitCode, 0);
  assert.equal(result.details!.stdoutTail, 'made\n');
  assert.equal(result.details!.stderrTail, 'a warning\n');
  assert.ok(existsSync(join(dir, 'cache')));
  assert.equal((await run()).ok, true, 'an idempotent command may run twice');
});

test('command: a non-zero exit fails with the last stderr line', async (t) => {
  const dir = tempDir(t);
  const result = await commandStep(dir, { run: 'echo "starting" >&2; echo "ENOSPC: disk full" >&2; exit 3' })();
  assert.equal(result.ok, false);
  assert.equal(result.message, 'exit 3: ENOSPC: disk full');
  assert.equal(result.details!.exitCode, 3);
  assert.match(result.details!.stderrTail as string, /starting\nENOSPC: disk full/);
  const silent = await commandStep(dir, { run: 'exit 1' })();
  assert.equal(silent.message, 'exit 1');
});

test("command: the argv form runs without a shell, in cwd, with env added and the bot's tokens withheld", async (t) => {
  const dir = tempDir(t);
  const previousToken = process.env.DISCORD_TOKEN;
  process.env.DISCORD_TOKEN = 'secret-bot-token';
  t.after(() => (previousToken === undefined ? delete process.env.DISCORD_TOKEN : (process.env.DISCORD_TOKEN = previousToken)));
  const script =
    'process.stdout.write([process.cwd(), process.env.NIGHTSHIFT_TEST_FLAG, typeof process.env.PATH, typeof process.env.DISCORD_TOKEN, process.argv[1]].join(" "))';
  const run = commandStep(dir, { run: [process.execPath, '-e', script, '$(not expanded)'], cwd: dir, env: { NIGHTSHIFT_TEST_FLAG: 'on' } });
  const result = await run();
  assert.equal(result.ok, true, result.message);
  assert.equal(result.details!.stdoutTail, `${dir} on string undefined $(not expanded)`);
  const missing = await commandStep(dir, { run: [join(dir, 'no-such-binary')] })();
  assert.equal(missing.ok, false);
  assert.match(missing.message, /^could not start: .*ENOENT/);
});

test('command: a hung command is killed at its timeout, and when the bot stops', async (t) => {
  const dir = tempDir(t);
  const started = Date.now();
  const hung = await commandStep(dir, { run: 'sleep 30 & wait', timeout: '300ms' })();
  assert.equal(hung.ok, false);
  assert.equal(hung.message, 'timed out after 300ms, killed by SIGTERM');
  assert.equal(hung.details!.timedOut, true);
  const stopping = new AbortController();
  const pending = commandStep(dir, { run: 'sleep 30' })(stopping.signal);
  setTimeout(() => stopping.abort(), 100);
  const aborted = await pending;
  assert.equal(aborted.ok, false);
  assert.equal(aborted.message, 'killed by SIGTERM');
  assert.ok(Date.now() - started < 5000, 'neither waited for sleep 30');
  assert.equal(commandAction.params.safeParse({ run: [] }).success, false);
});
