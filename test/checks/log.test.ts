import assert from 'node:assert/strict';
import { appendFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { logCheck } from '../../src/checks/log.js';
import type { CheckResult } from '../../src/checks/types.js';
import { rotateLogAction } from '../../src/heal/rotate-log.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { checkConfig } from '../helpers/check-config.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';
import { childEnvironment } from '../../src/config/child-env.js';

/** A log probe on a clock the test moves; `state` shared between probes simulates a Nightshift restart. */
function logProbe(dataDir: string, params: Record<string, unknown>, clock = { now: Date.UTC(2026, 0, 1, 3, 0, 0) }, state = new Map<string, unknown>()) {
  const { env } = testCheckEnv({ dataDir, state, now: () => clock.now });
  const probe = logCheck.create(logCheck.params.parse(params), env);
  const run = (): Promise<CheckResult> => probe.run({ signal: new AbortController().signal, now: () => clock.now });
  return { probe, run, clock, state };
}

function lines(from: number, count: number, text = 'info all good'): string {
  return Array.from({ length: count }, (_, i) => `${new Date(0).toISOString()} line ${from + i} ${text}\n`).join('');
}

function newLines(result: CheckResult): number {
  return result.details!.newLines as number;
}

test('log: reads only what was appended since the last patrol, starting at the end of an existing log', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  writeFileSync(path, lines(1, 10, 'ERROR old history'));
  const { run } = logProbe(dir, { path });
  const first = await run();
  assert.equal(first.ok, true, first.message);
  assert.equal(newLines(first), 0, 'history before the first patrol is not counted');
  assert.equal(first.details!.errorsInWindow, 0);
  assert.equal(first.details!.skippedBytes, statSync(path).size);
  appendFileSync(path, lines(11, 5));
  const second = await run();
  assert.equal(newLines(second), 5);
  assert.equal(second.details!.newBytes, Buffer.byteLength(lines(11, 5)));
  assert.equal(second.details!.bytes, statSync(path).size);
  assert.equal(newLines(await run()), 0, 'nothing appended, nothing read');
});

test('log: a log that appears after the first patrol is read from its start', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'late.log');
  const { run } = logProbe(dir, { path });
  const missing = await run();
  assert.equal(missing.ok, false);
  assert.equal(missing.message, `missing: ${path}`);
  writeFileSync(path, lines(1, 10));
  const appeared = await run();
  assert.equal(appeared.ok, true, appeared.message);
  assert.equal(newLines(appeared), 10);
});

test('log: an incomplete last line waits for its end and is counted once', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  writeFileSync(path, '');
  const { run } = logProbe(dir, { path, maxErrors: 0 });
  await run();
  appendFileSync(path, 'done\nworker crashed: FA');
  const partial = await run();
  assert.equal(newLines(partial), 1);
  assert.equal(partial.details!.newBytes, 5, 'the offset stays at the start of the incomplete line');
  assert.equal(partial.ok, true);
  appendFileSync(path, 'TAL out of memory\n');
  const completed = await run();
  assert.equal(newLines(completed), 1);
  assert.equal(completed.ok, false, 'the split word FATAL is matched once the line is complete');
  assert.deepEqual(completed.details!.sampleErrors, ['worker crashed: FATAL out of memory']);
});

test('log: an error spike over maxErrors fails, under it passes, and the window forgets old errors', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  writeFileSync(path, '');
  const { run, clock } = logProbe(dir, { path, maxErrors: 3, window: '1h' });
  await run();
  appendFileSync(path, lines(1, 3, 'ERROR db timeout') + lines(4, 20));
  const under = await run();
  assert.equal(under.ok, true, under.message);
  assert.equal(under.details!.errorsInWindow, 3);
  clock.now += 30 * 60_000;
  appendFileSync(path, `Traceback (most recent call last):\n${'x'.repeat(500)} ERROR long\n`);
  const over = await run();
  assert.equal(over.ok, false);
  assert.equal(over.message, 'error spike: 5 errors in the last 1h (max 3)');
  const samples = over.details!.sampleErrors as string[];
  assert.equal(samples.length, 3);
  assert.equal(samples[1], 'Traceback (most recent call last):');
  assert.equal(samples[2]!.length, 200, 'samples are truncated to 200 characters');
  clock.now += 31 * 60_000;
  const firstBatchExpired = await run();
  assert.equal(firstBatchExpired.details!.errorsInWindow, 2);
  assert.equal(firstBatchExpired.ok, true, 'errors older than the window no longer count');
  clock.now += 60 * 60_000;
  assert.equal((await run()).details!.errorsInWindow, 0);
});

test('log: errorPattern and ignoreCase are honoured; a bad regex is refused by the config schema', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  writeFileSync(path, '');
  const strict = logProbe(dir, { path, errorPattern: 'oom-killer' });
  const loose = logProbe(dir, { path, errorPattern: 'oom-killer', ignoreCase: true });
  await strict.run();
  await loose.run();
  appendFileSync(path, 'OOM-KILLER invoked\nerror: lowercase is not an ERROR match here\noom-killer again\n');
  assert.equal((await strict.run()).details!.errorsInWindow, 1);
  assert.equal((await loose.run()).details!.errorsInWindow, 2);
  assert.equal(logCheck.params.safeParse({ path, errorPattern: '(unclosed' }).success, false);
});

test('log: a log over maxSize fails with its size', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'big.log');
  writeFileSync(path, '');
  truncateSync(path, Math.round(18.2 * 1024 * 1024)); // sparse: no 18 MiB written to disk
  const result = await logProbe(dir, { path }).run();
  assert.equal(result.ok, false);
  assert.equal(result.message, 'log is 18.2 MiB (max 15.0 MiB)');
  const small = join(dir, 'small.log');
  writeFileSync(small, lines(1, 100));
  assert.match((await logProbe(dir, { path: small, maxSize: 1000 }).run()).message, /^log is \d+\.\d KiB \(max 1000 B\)$/);
});

test('log: rename rotation loses no line: the rest of the old file is read from path.1, then the new file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  writeFileSync(path, lines(1, 10));
  const { run } = logProbe(dir, { path });
  await run();
  appendFileSync(path, lines(11, 2) + lines(13, 1, 'ERROR written just before the rename'));
  renameSync(path, `${path}.1`);
  writeFileSync(path, lines(14, 1, 'FATAL in the new file') + lines(15, 1));
  const result = await run();
  assert.equal(result.details!.rotated, true);
  assert.equal(result.details!.truncated, false);
  assert.equal(newLines(result), 5);
  assert.equal(result.details!.errorsInWindow, 2, 'errors from both files are counted');
  appendFileSync(path, lines(16, 3));
  const after = await run();
  assert.equal(newLines(after), 3);
  assert.equal(after.details!.rotated, false);
});

test('log: copy-truncate (truncate to 0, then append) is detected and the new lines are counted', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  writeFileSync(path, lines(1, 50));
  const { run } = logProbe(dir, { path });
  await run();
  truncateSync(path, 0);
  appendFileSync(path, lines(51, 2, 'ERROR after truncate'));
  const result = await run();
  assert.equal(result.details!.truncated, true);
  assert.equal(result.details!.rotated, false);
  assert.equal(newLines(result), 2);
  assert.equal(result.details!.errorsInWindow, 2);
  // Truncated and grown past the old offset before the patrol: the changed bytes before the offset give it away.
  truncateSync(path, 0);
  appendFileSync(path, lines(100, 80, 'rewritten'));
  const regrown = await run();
  assert.equal(regrown.details!.truncated, true);
  assert.equal(newLines(regrown), 80);
});

test('log: a new probe with the same persisted state resumes where the last one stopped (no double counting)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  writeFileSync(path, '');
  const clock = { now: Date.UTC(2026, 0, 1, 3, 0, 0) };
  const before = logProbe(dir, { path }, clock);
  await before.run();
  appendFileSync(path, lines(1, 4, 'ERROR first'));
  assert.equal((await before.run()).details!.errorsInWindow, 4);
  appendFileSync(path, lines(5, 3, 'ERROR while nightshift was down'));
  const after = logProbe(dir, { path }, clock, before.state);
  const resumed = await after.run();
  assert.equal(newLines(resumed), 3);
  assert.equal(resumed.details!.errorsInWindow, 7, 'the window survives the restart');
  const again = await after.run();
  assert.equal(newLines(again), 0);
  assert.equal(again.details!.errorsInWindow, 7);
});

test('log: maxReadBytes bounds one patrol; the rest is read on the next ones', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  writeFileSync(path, '');
  const { run } = logProbe(dir, { path, maxReadBytes: 4096 });
  await run();
  const text = lines(1, 300);
  appendFileSync(path, text);
  let total = 0;
  let patrols = 0;
  for (; patrols < 20 && total < 300; patrols++) {
    const result = await run();
    assert.ok((result.details!.newBytes as number) <= 4096);
    total += newLines(result);
  }
  assert.equal(total, 300);
  assert.ok(patrols >= Math.ceil(Buffer.byteLength(text) / 4096), `read in ${patrols} patrols`);
  // A single line longer than the budget does not pin the reader.
  appendFileSync(path, `${'y'.repeat(10_000)}\nafter\n`);
  // 4096 + 4096 bytes counted as one line each, then its last 1808 bytes and "after".
  const counts = [newLines(await run()), newLines(await run()), newLines(await run()), newLines(await run())];
  assert.deepEqual(counts, [1, 1, 2, 0]);
});

test("log: Nightshift's own rotate-log (collapse-range) loses and repeats no line, whatever the read offset", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  const { logger } = createCapturedLogger(new Redactor());
  const rotate = rotateLogAction.create(rotateLogAction.params.parse({ path, keep: 5 }), {
    log: logger,
    dataDir: dir,
    now: Date.now,
    childEnv: childEnvironment,
    record: () => {},
  });
  const target = { check: checkConfig('app-log'), probe: { run: async () => ({ ok: true, message: 'not used by this action' }) } };
  const healCtx = { signal: new AbortController().signal, now: Date.now };
  writeFileSync(path, '');
  const { run } = logProbe(dir, { path });
  await run();
  // Read offset inside the part that is cut away (the unread rest is in path.1).
  appendFileSync(path, lines(1, 100));
  await run();
  appendFileSync(path, lines(101, 200, 'ERROR a'));
  const first = await rotate.run(target, healCtx);
  assert.equal(first.details!.method, 'collapse-range', first.message);
  appendFileSync(path, lines(301, 10, 'ERROR b'));
  const afterFirst = await run();
  assert.equal(newLines(afterFirst), 210);
  assert.equal(afterFirst.details!.errorsInWindow, 210);
  assert.equal(afterFirst.details!.rotated, true);
  // Read offset beyond the part that is cut away (the live file holds it, shifted).
  appendFileSync(path, lines(311, 400));
  assert.equal(newLines(await run()), 400);
  const second = await rotate.run(target, healCtx);
  assert.equal(second.details!.method, 'collapse-range', second.message);
  appendFileSync(path, lines(711, 7));
  const afterSecond = await run();
  assert.equal(newLines(afterSecond), 7);
  assert.equal(afterSecond.details!.errorsInWindow, 210);
});
