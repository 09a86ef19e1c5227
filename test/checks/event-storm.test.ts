import assert from 'node:assert/strict';
import { copyFileSync, renameSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { eventStormCheck } from '../../src/checks/event-storm.js';
import { runCommand } from '../../src/exec.js';
import type { CheckRunContext, Probe } from '../../src/checks/types.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { PM2_BIN, pm2Sandbox } from '../helpers/pm2.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { childEnvironment } from '../../src/config/child-env.js';

/** A separate process appends lines to `path` (O_APPEND, as a service logs): `count` lines of `template` each, `{i}` numbered. */
async function writeLines(path: string, ...batches: Array<[count: number, template: string]>): Promise<void> {
  const script = [
    "const fs = require('node:fs');",
    'const [path, ...rest] = process.argv.slice(1);',
    "const fd = fs.openSync(path, 'a');",
    "for (let b = 0; b < rest.length; b += 2) for (let i = 0; i < Number(rest[b]); i++) fs.writeSync(fd, rest[b + 1].replaceAll('{i}', String(i)));",
    'fs.closeSync(fd);',
  ].join('\n');
  const args = batches.flatMap(([count, template]) => [String(count), template]);
  const result = await runCommand([process.execPath, '-e', script, path, ...args], { env: childEnvironment() });
  assert.equal(result.exitCode, 0, result.stderr);
}

/** A run context whose clock the test moves: the window drains without waiting for it. */
function movableClock(start = Date.UTC(2025, 10, 23, 3, 0, 0)) {
  let now = start;
  const ctx: CheckRunContext = { signal: new AbortController().signal, now: () => now };
  return { ctx, advance: (ms: number) => (now += ms) };
}

function stormProbe(t: TestContext, params: Record<string, unknown>, state?: Map<string, unknown>): Probe {
  const { env } = testCheckEnv({ dataDir: tempDir(t), state, checkName: 'api-requests' });
  return eventStormCheck.create(eventStormCheck.params.parse(params), env);
}

test('event-storm requests: a burst past maxEvents trips the breaker; it holds while the window is over the max, then resets', async (t) => {
  const log = join(tempDir(t), 'access.log');
  await writeLines(log, [5000, 'GET /old/{i} 200\n']);
  const { ctx, advance } = movableClock();
  const probe = stormProbe(t, { maxEvents: 1000, window: '1m', requests: { path: log } });

  const first = await probe.run(ctx);
  assert.equal(first.ok, true, first.message);
  assert.equal(first.message, `${log}: 0 requests in 1m (max 1,000)`, 'history before the first run is not a storm');
  assert.ok((first.details!.skippedBytes as number) > 0);

  await writeLines(log, [1200, 'GET /api/items/{i} 200\n']);
  advance(5_000);
  const tripped = await probe.run(ctx);
  assert.equal(tripped.ok, false);
  assert.equal(tripped.message, `${log}: 1,200 requests in 1m (max 1,000): breaker tripped; it resets once the count falls to 1,000`);
  assert.equal(tripped.details!.breaker, 'tripped');
  assert.equal(tripped.details!.newEvents, 1200);

  // The burst is over, but it is still inside the window: the breaker stays tripped.
  await writeLines(log, [10, 'GET /api/items/{i} 200\n']);
  advance(30_000);
  const holding = await probe.run(ctx);
  assert.equal(holding.ok, false);
  assert.equal(holding.message, `${log}: 1,210 requests in 1m (max 1,000): breaker tripped 30s ago, peak 1,210; it resets once the count falls to 1,000`);

  advance(30_000);
  const reset = await probe.run(ctx);
  assert.equal(reset.ok, true, reset.message);
  assert.equal(reset.message, `${log}: 10 requests in 1m (max 1,000): breaker reset after 1m (peak 1,210)`);
  assert.equal(reset.details!.breaker, 'closed');

  advance(10_000);
  const quiet = await probe.run(ctx);
  assert.equal(quiet.message, `${log}: 10 requests in 1m (max 1,000)`);
  // Exactly at maxEvents is not over it.
  await writeLines(log, [990, 'GET /api/items/{i} 200\n']);
  advance(1_000);
  const atMax = await probe.run(ctx);
  assert.equal(atMax.ok, true, atMax.message);
  assert.equal(atMax.details!.eventsInWindow, 1000);
});

test('event-storm: a restart of Nightshift (new probe, same state) neither recounts nor misses what was appended while it was down', async (t) => {
  const log = join(tempDir(t), 'access.log');
  await writeLines(log, [50, 'GET /old/{i}\n']);
  const state = new Map<string, unknown>();
  const { ctx, advance } = movableClock();
  const before = stormProbe(t, { maxEvents: 400, window: '10m', requests: { path: log } }, state);
  await before.run(ctx);
  await writeLines(log, [300, 'GET /a/{i}\n']);
  advance(1_000);
  assert.equal((await before.run(ctx)).details!.newEvents, 300);

  // Down: 200 more requests arrive; then a new probe over the same state.
  await writeLines(log, [200, 'GET /b/{i}\n']);
  advance(1_000);
  const after = stormProbe(t, { maxEvents: 400, window: '10m', requests: { path: log } }, state);
  const resumed = await after.run(ctx);
  assert.equal(resumed.details!.newEvents, 200, 'only what was appended since the last run');
  assert.equal(resumed.details!.eventsInWindow, 500, 'the window survived the restart');
  assert.equal(resumed.ok, false);
  assert.match(resumed.message, /: 500 requests in 10m \(max 400\): breaker tripped;/);

  // The tripped breaker survived too: its age is counted from the first trip.
  advance(60_000);
  const still = await stormProbe(t, { maxEvents: 400, window: '10m', requests: { path: log } }, state).run(ctx);
  assert.match(still.message, /breaker tripped 1m ago, peak 500;/);

  // Another source over the same state starts afresh instead of reading another file's offsets.
  const other = join(tempDir(t), 'other.log');
  await writeLines(other, [900, 'GET /c/{i}\n']);
  const moved = await stormProbe(t, { maxEvents: 400, window: '10m', requests: { path: other } }, state).run(ctx);
  assert.equal(moved.ok, true, moved.message);
  assert.equal(moved.details!.eventsInWindow, 0);
});

test('event-storm log: counts matching lines only, across rename and copy-truncate rotation, never a half-written line', async (t) => {
  const dir = tempDir(t);
  const log = join(dir, 'worker.log');
  await writeLines(log, [100, 'upstream timeout {i}\n']);
  const { ctx, advance } = movableClock();
  const probe = stormProbe(t, { maxEvents: 5, window: '1h', log: { path: log, pattern: String.raw`\btimeout\b`, ignoreCase: true } });
  assert.equal((await probe.run(ctx)).details!.eventsInWindow, 0);

  await writeLines(log, [3, 'job {i}: upstream TIMEOUT\n'], [4, 'job {i}: done\n'], [1, 'job 9: upstream timeout']);
  advance(1_000);
  const some = await probe.run(ctx);
  assert.equal(some.details!.newEvents, 3, 'the line without its newline yet waits for the next run');
  assert.equal(some.details!.newLines, 7);
  assert.equal(some.ok, true, some.message);

  // Rename rotation: the old writer finishes its line and writes one more to the renamed file, then a new file starts.
  await writeLines(log, [1, '\n'], [1, 'job 10: upstream timeout\n']);
  renameSync(log, `${log}.1`);
  await writeLines(`${log}.1`, [1, 'job 11: upstream timeout (last words)\n']);
  await writeLines(log, [2, 'job {i}: upstream timeout (new file)\n'], [3, 'job {i}: done\n']);
  advance(1_000);
  const rotated = await probe.run(ctx);
  assert.equal(rotated.details!.newEvents, 5, '3 from the rest of the old file, 2 from the new one');
  assert.equal(rotated.details!.rotated, true);
  assert.equal(rotated.details!.eventsInWindow, 8);
  assert.equal(rotated.ok, false);
  assert.equal(rotated.message, `${log}: 8 lines matching /\\btimeout\\b/i in 1h (max 5): breaker tripped; it resets once the count falls to 5`);
  assert.deepEqual(rotated.details!.sampleLines, [
    'job 11: upstream timeout (last words)',
    'job 0: upstream timeout (new file)',
    'job 1: upstream timeout (new file)',
  ]);

  // Copy-truncate: the rest of the file is read from the copy, the truncated file from its start.
  await writeLines(log, [2, 'job {i}: upstream timeout (before copy)\n']);
  copyFileSync(log, `${log}.1`);
  truncateSync(log, 0);
  await writeLines(log, [1, 'job 0: upstream timeout (after truncate)\n']);
  advance(1_000);
  const copied = await probe.run(ctx);
  assert.equal(copied.details!.newEvents, 3);
  assert.equal(copied.details!.truncated, true);
  assert.equal(copied.details!.eventsInWindow, 11);

  // A run with nothing new counts nothing twice.
  advance(1_000);
  assert.equal((await probe.run(ctx)).details!.newEvents, 0);
});

test('event-storm: a missing log cannot be counted (failing, not a trip); once it appears all of it is new', async (t) => {
  const log = join(tempDir(t), 'late.log');
  const probe = stormProbe(t, { maxEvents: 10, requests: { path: log } });
  const missing = await probe.run(runContext());
  assert.equal(missing.ok, false);
  assert.equal(missing.message, `${log}: cannot count requests: ${log} is missing`);
  assert.equal(missing.details!.breaker, 'closed');

  await writeLines(log, [12, 'POST /hook {i}\n']);
  const appeared = await probe.run(runContext());
  assert.equal(appeared.details!.newEvents, 12);
  assert.equal(appeared.details!.breaker, 'tripped');
});

test('event-storm pm2: a crash-looping app trips the breaker on its restarts; a counter pm2 reset is not a storm', async (t) => {
  const sandbox = pm2Sandbox(t);
  // pm2 gives up after 16 quick crashes ("errored") by default; a high limit keeps the loop going as a real one does.
  await sandbox.startApp('worker', "console.error('cannot decode output'); process.exit(1);\n", ['--restart-delay', '100', '--max-restarts', '1000']);
  const { env } = testCheckEnv({ dataDir: tempDir(t), checkName: 'worker-storm' });
  const probe = eventStormCheck.create(
    eventStormCheck.params.parse({ maxEvents: 3, window: '10m', pm2: { app: 'worker', pm2Bin: PM2_BIN, pm2Home: sandbox.home } }),
    env,
  );
  const first = await probe.run(runContext());
  assert.equal(first.details!.newEvents, 0, `the first look only takes the counter: ${first.message}`);

  const tripped = await waitFor(
    async () => {
      const result = await probe.run(runContext());
      return result.details!.breaker === 'tripped' ? result : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 200, what: 'the breaker to trip' },
  );
  assert.equal(tripped.ok, false);
  const counted = tripped.details!.eventsInWindow as number;
  assert.ok(counted > 3);
  assert.match(tripped.message, new RegExp(`^pm2 app worker: ${counted} restarts in 10m \\(max 3\\): breaker tripped`));

  await sandbox.pm2('stop', 'worker');
  await sandbox.pm2('reset', 'worker');
  const afterReset = await probe.run(runContext());
  assert.equal(afterReset.details!.counterReset, true);
  assert.equal(afterReset.details!.newEvents, 0);
  assert.equal(afterReset.details!.eventsInWindow, counted, 'a reset adds nothing to the window');

  const unknown = await eventStormCheck
    .create(eventStormCheck.params.parse({ maxEvents: 3, pm2: { app: 'ghost', pm2Bin: PM2_BIN, pm2Home: sandbox.home } }), env)
    .run(runContext());
  assert.equal(unknown.ok, false);
  assert.equal(unknown.message, 'pm2 app ghost: cannot count restarts: pm2 has no app named ghost');
});

test('event-storm params: exactly one source, a pattern that compiles, and a maxEvents', () => {
  const issues = (value: Record<string, unknown>) => {
    const parsed = eventStormCheck.params.safeParse(value);
    assert.equal(parsed.success, false, JSON.stringify(value));
    return parsed.error.issues.map(
      (issue) => `${issue.path.join('.')}: ${issue.message}${issue.code === 'custom' && issue.params?.reason ? ` (${String(issue.params.reason)})` : ''}`,
    );
  };
  assert.deepEqual(issues({ maxEvents: 5 }), ['log: expected one source: log, pm2 or requests']);
  assert.deepEqual(issues({ maxEvents: 5, requests: { path: '/a' }, pm2: { app: 'api' } }), ['requests: expected one source only (pm2 is set too)']);
  const [badPattern] = issues({ maxEvents: 5, log: { path: '/a', pattern: '(?i)timeout' } });
  assert.match(badPattern!, /^log\.pattern: expected a valid regular expression \(Invalid regular expression: .*set ignoreCase: true instead\)\)$/);
  assert.match(issues({ log: { path: '/a', pattern: 'x' } })[0]!, /^maxEvents: /);
  assert.match(issues({ maxEvents: 5, window: 'soon', requests: { path: '/a' } })[0]!, /^window: expected a duration/);
});
