import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { rateCheck } from '../../src/checks/rate.js';
import type { CheckResult } from '../../src/checks/types.js';
import { refusalOf, runnableProbe } from '../helpers/check-env.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const rateProbe = (t: TestContext, params: Record<string, unknown>, now?: () => number) => runnableProbe(t, rateCheck, params, now);

/** `count` validations ending `endAgo` ms ago, one a minute apart going back; `passed(i)` decides each. */
function validations(count: number, endAgo: number, passed: (i: number) => boolean): string {
  const now = Date.now();
  let text = '';
  for (let i = count - 1; i >= 0; i--) {
    text += `${JSON.stringify({ ts: new Date(now - endAgo - i * MINUTE).toISOString(), task: `t-${1000 + i}`, verdict: passed(i) ? 'pass' : 'fail' })}\n`;
  }
  return text;
}

const validation = (path: string) => ({ path, outcomeField: 'verdict', good: ['pass'], bad: ['fail'] });

function logLine(at: number, text: string): string {
  return `${new Date(at).toISOString()} ${text}\n`;
}

/** "2026-01-05 03:12:00,123", as Python's logging writes asctime (read as UTC by default). */
function pythonStyle(at: number): string {
  return new Date(at).toISOString().slice(0, 23).replace('T', ' ').replace('.', ',');
}

const refusal = (params: Record<string, unknown>) => refusalOf(rateCheck, params);

test('rate: a pass rate below minRatio over the window fails; outcomes older than the window do not count', async (t) => {
  const path = join(tempDir(t), 'validations.jsonl');
  // 30 old failures (2h ago and more), then 50 in the last hour of which 31 passed (62%).
  writeFileSync(path, validations(30, 2 * HOUR, () => false) + validations(50, 0, (i) => i % 50 < 31));
  const low = await rateProbe(t, { jsonl: validation(path), minRatio: 0.8 })();
  assert.equal(low.ok, false);
  assert.equal(low.message, 'pass rate 62% over 1h (min 80%, 50 samples)');
  assert.equal(low.details!.good, 31);
  assert.equal(low.details!.bad, 19);
  assert.equal(low.details!.ratio, 0.62);

  writeFileSync(
    path,
    validations(41, 0, (i) => i >= 3),
  );
  const healthy = await rateProbe(t, { jsonl: validation(path), minRatio: 0.8 })();
  assert.equal(healthy.ok, true, healthy.message);
  assert.equal(healthy.message, 'pass rate 93% over 1h (41 samples)');
});

test('rate: a ratio above maxRatio fails (a fallback share kept rare), with its own label and window', async (t) => {
  const path = join(tempDir(t), 'tasks.jsonl');
  const now = Date.now();
  const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ ts: Math.floor((now - i * MINUTE) / 1000), source: i < 6 ? 'template' : 'llm' })).join(
    '\n',
  );
  writeFileSync(path, `${lines}\n`);
  const jsonl = { path, outcomeField: 'source', good: ['template'], bad: ['llm'] };
  const high = await rateProbe(t, { jsonl, window: '30m', maxRatio: 0.2, label: 'fallback rate' })();
  assert.equal(high.ok, false);
  assert.equal(high.message, 'fallback rate 30% over 30m (max 20%, 20 samples)');
  const allowed = await rateProbe(t, { jsonl, window: '30m', maxRatio: 0.35, label: 'fallback rate' })();
  assert.equal(allowed.ok, true);
  assert.equal(allowed.message, 'fallback rate 30% over 30m (20 samples)');
});

test('rate: below minSamples the ratio is not judged', async (t) => {
  const path = join(tempDir(t), 'validations.jsonl');
  writeFileSync(
    path,
    validations(4, 0, () => false),
  );
  const quiet = await rateProbe(t, { jsonl: validation(path), minRatio: 0.8 })();
  assert.equal(quiet.ok, true);
  assert.equal(quiet.message, 'pass rate not judged: 4 samples over 1h (min 10)');
  const judged = await rateProbe(t, { jsonl: validation(path), minRatio: 0.8, minSamples: 4 })();
  assert.equal(judged.ok, false);
  assert.equal(judged.message, 'pass rate 0% over 1h (min 80%, 4 samples)');
});

test('rate: more bad outcomes in a row than maxConsecutiveBad fails, written by another process into a log', async (t) => {
  const path = join(tempDir(t), 'pipeline.log');
  writeFileSync(path, '');
  const run = rateProbe(t, {
    log: { path, goodPattern: String.raw`task \d+ generated`, badPattern: 'template fallback' },
    maxConsecutiveBad: 5,
  });
  // The pipeline writes one good task, then fallbacks; 'noise' lines match neither pattern.
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('node:fs');
       const path = process.argv[1];
       const line = (text) => fs.appendFileSync(path, new Date().toISOString() + ' ' + text + '\\n');
       line('INFO task 8800 generated');
       let n = 0;
       const timer = setInterval(() => {
         line('DEBUG noise');
         line('WARN template fallback for task ' + (8801 + n));
         if (++n === 8) clearInterval(timer);
       }, 15);`,
      path,
    ],
    { stdio: 'ignore' },
  );
  t.after(() => {
    if (writer.exitCode === null) writer.kill();
  });
  const seen: CheckResult[] = [];
  const failing = await waitFor(
    async () => {
      const result = await run();
      seen.push(result);
      return result.ok ? undefined : result;
    },
    { timeoutMs: 10_000, intervalMs: 5, what: 'six fallbacks in a row' },
  );
  assert.match(failing.message, /^([678]) bad outcomes in a row \(max 5\): last 'WARN template fallback for task 88\d\d'$/);
  assert.equal(seen[0]!.ok, true);
  await waitFor(async () => (await run()).details!.consecutiveBad === 8, { what: 'the writer to finish' });
  const last = await run();
  assert.equal(last.message, "8 bad outcomes in a row (max 5): last 'WARN template fallback for task 8808'");
  assert.equal(last.details!.uncounted, 8, 'the noise lines are neither good nor bad');
  appendFileSync(path, logLine(Date.now(), 'INFO task 8809 generated'));
  const recovered = await run();
  assert.equal(recovered.ok, true, recovered.message);
  assert.equal(recovered.details!.consecutiveBad, 0);
});

test('rate: a JSON writer process appending while the check reads; half-written lines are not bad lines', async (t) => {
  const path = join(tempDir(t), 'validations.jsonl');
  writeFileSync(path, '');
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('node:fs');
       const path = process.argv[1];
       let n = 0;
       const next = () => {
         if (n >= 20) return;
         const line = JSON.stringify({ ts: Date.now(), verdict: n++ < 10 ? 'pass' : 'fail', reason: 'schema mismatch in answer ' + n });
         fs.appendFileSync(path, line.slice(0, 20));
         setTimeout(() => { fs.appendFileSync(path, line.slice(20) + '\\n'); setTimeout(next, 3); }, 15);
       };
       next();`,
      path,
    ],
    { stdio: 'ignore' },
  );
  t.after(() => {
    if (writer.exitCode === null) writer.kill();
  });
  const run = rateProbe(t, { jsonl: { ...validation(path), noteField: 'reason' }, minRatio: 0.6 });
  const seen: CheckResult[] = [];
  await waitFor(
    async () => {
      const result = await run();
      seen.push(result);
      return result.details!.samples === 20;
    },
    { timeoutMs: 10_000, intervalMs: 5, what: 'all 20 validations' },
  );
  for (const result of seen) assert.equal(result.details!.badLines, 0, `a half-written line was counted as bad: ${result.message}`);
  assert.ok(
    seen.some((r) => r.message.startsWith('pass rate not judged')),
    'the check read before minSamples was reached',
  );
  const final = seen.at(-1)!;
  assert.equal(final.ok, false);
  assert.equal(final.message, 'pass rate 50% over 1h (min 60%, 20 samples)');
  assert.equal(final.details!.lastBad, 'schema mismatch in answer 20');
});

test('rate: bad JSON lines, and values in neither list, are counted and skipped', async (t) => {
  const path = join(tempDir(t), 'validations.jsonl');
  const now = Date.now();
  const record = (verdict: unknown) => JSON.stringify({ ts: now - MINUTE, verdict });
  writeFileSync(path, [record('pass'), '{"ts": 1, "verdict"', 'garbage', record('skipped'), record(null), record('fail'), record('pass')].join('\n') + '\n');
  const result = await rateProbe(t, { jsonl: validation(path), minRatio: 0.5, minSamples: 1 })();
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, 'pass rate 67% over 1h (3 samples)');
  assert.equal(result.details!.badLines, 2);
  assert.equal(result.details!.uncounted, 2);
  // Without a bad list, every value that is not good is bad.
  const strict = await rateProbe(t, { jsonl: { path, outcomeField: 'verdict', good: ['pass'] }, minRatio: 0.5, minSamples: 1 })();
  assert.equal(strict.message, 'pass rate 50% over 1h (4 samples)');
});

test('rate: log lines without a timestamp take the time of the line before; with none at all, what was read is the window', async (t) => {
  const dir = tempDir(t);
  const timed = join(dir, 'timed.log');
  const now = Date.now();
  writeFileSync(
    timed,
    logLine(now - 3 * HOUR, 'validation FAILED for task 1') +
      'validation FAILED (continued, no timestamp: 3h old by position)\n' +
      logLine(now - 10 * MINUTE, 'validation ok for task 2') +
      'validation ok (continued, in the window by position)\n' +
      `[${pythonStyle(now - 5 * MINUTE)}] WARNING validation FAILED for task 3\n`,
  );
  const log = { goodPattern: 'validation ok', badPattern: 'validation FAILED' };
  const byPosition = await rateProbe(t, { log: { ...log, path: timed }, minRatio: 0.9, minSamples: 1 })();
  assert.equal(byPosition.ok, false);
  assert.equal(byPosition.message, 'pass rate 67% over 1h (min 90%, 3 samples)', 'the 3h-old failure and its continuation are out of the window');
  assert.equal(byPosition.details!.untimed, 2);
  assert.equal(byPosition.details!.lastBad, 'WARNING validation FAILED for task 3', 'the note leaves the timestamp out');

  const untimed = join(dir, 'untimed.log');
  writeFileSync(untimed, 'validation ok\nvalidation FAILED\nVALIDATION failed\nvalidation FAILED\n');
  const whole = await rateProbe(t, { log: { ...log, path: untimed, ignoreCase: true }, minRatio: 0.5, minSamples: 1 })();
  assert.equal(whole.ok, false);
  assert.equal(whole.message, 'pass rate 25% over the lines read (no timestamps) (min 50%, 4 samples)');
  assert.equal(whole.details!.timed, false);
});

test('rate: a window reaching further back than maxReadBytes is marked partial', async (t) => {
  const path = join(tempDir(t), 'validations.jsonl');
  writeFileSync(
    path,
    validations(200, 0, () => true),
  );
  const cut = await rateProbe(t, { jsonl: validation(path), window: '1d', minRatio: 0.5, maxReadBytes: 4096 })();
  assert.equal(cut.details!.partial, true);
  assert.ok((cut.details!.samples as number) < 200);
  assert.equal(cut.details!.badLines, 0);
  const inside = await rateProbe(t, { jsonl: validation(path), window: '30m', minRatio: 0.5, maxReadBytes: 4096 })();
  assert.equal(inside.details!.partial, false, 'what was read reaches back over the whole 30m window');
  const whole = await rateProbe(t, { jsonl: validation(path), window: '1d', minRatio: 0.5 })();
  assert.equal(whole.details!.partial, false);
  assert.equal(whole.details!.samples, 200);
});

test('rate: a missing file fails with its path', async (t) => {
  const path = join(tempDir(t), 'nope.jsonl');
  const result = await rateProbe(t, { jsonl: validation(path), minRatio: 0.5 })();
  assert.equal(result.ok, false);
  assert.equal(result.message, `missing: ${path}`);
});

test('rate: bad params are refused with a clear message', () => {
  const path = '/srv/pipeline.log';
  assert.deepEqual(refusal({ log: { path, goodPattern: 'ok', badPattern: '(unclosed' }, minRatio: 0.5 }), ['expected a valid regular expression']);
  assert.deepEqual(refusal({ log: { path, goodPattern: 'ok', badPattern: 'fail' } }), [
    'expected at least one limit (minRatio, maxRatio or maxConsecutiveBad): without one the check can never fail',
  ]);
  assert.deepEqual(refusal({ log: { path, goodPattern: 'ok', badPattern: 'fail' }, minRatio: 80 }), ['expected a ratio between 0 and 1 (0.8 is 80%)']);
  assert.deepEqual(refusal({ log: { path, goodPattern: 'ok', badPattern: 'fail' }, minRatio: 0.9, maxRatio: 0.5 }), [
    'expected maxRatio at least minRatio (0.9)',
  ]);
  assert.deepEqual(refusal({ maxConsecutiveBad: 5 }), ['expected an outcome source: jsonl: { path, good } or log: { path, goodPattern, badPattern }']);
  assert.deepEqual(refusal({ jsonl: { path, good: ['ok'], bad: ['ok', 'no'] }, maxConsecutiveBad: 5 }), ['expected values that are not also good']);
});
