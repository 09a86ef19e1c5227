import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { driftCheck } from '../../src/checks/drift.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';

const MINUTE = 60_000;

/** A drift probe on real files with a clock the test moves; pass `state` to simulate a restart of Nightshift. */
function setup(t: TestContext, params: Record<string, unknown>, options: { state?: Map<string, unknown>; clock?: { now: number } } = {}) {
  const clock = options.clock ?? { now: Date.parse('2025-03-01T03:00:00Z') };
  const harness = testCheckEnv({ dataDir: tempDir(t), checkName: 'api-config', state: options.state, now: () => clock.now });
  const probe = driftCheck.create(driftCheck.params.parse(params), harness.env);
  return { probe, clock, ...harness };
}

test('drift: the first run takes a baseline and is ok; unchanged files stay ok', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'config.yml');
  const env = join(dir, '.env');
  const missing = join(dir, 'later.yml');
  writeFileSync(config, 'port: 8080\n');
  writeFileSync(env, 'PORT=8080\n');
  const s = setup(t, { files: [config, env, missing] });
  const first = await s.probe.run(runContext());
  assert.equal(first.ok, true, first.message);
  assert.equal(first.message, `baseline taken of 3 files (missing: ${missing})`);
  const second = await s.probe.run(runContext());
  assert.equal(second.message, `3 files unchanged (missing: ${missing})`);
  assert.equal(s.events.length, 0);

  writeFileSync(missing, 'a: 1\n');
  const appeared = await s.probe.run(runContext());
  assert.equal(appeared.ok, true, appeared.message);
  assert.deepEqual(
    s.events.map((e) => e.context.summary),
    [`${missing} added`],
  );
  assert.equal(s.events[0]!.context.before, null);
});

test('drift: an env file change names the keys, never a value', async (t) => {
  const dir = tempDir(t);
  const envFile = join(dir, '.env');
  const oldPassword = 'hunter2-old-Pa55';
  const newPassword = 'zebra-new-Pa55-77';
  writeFileSync(envFile, `# api\nDATABASE_URL=postgres://app:${oldPassword}@db/app\nOLD_FLAG=1\nexport POOL_SIZE="5"\n`);
  const s = setup(t, { files: [envFile], concerns: ['api', 'worker'] });
  await s.probe.run(runContext());

  s.clock.now += MINUTE;
  // Only a comment and quoting move: nothing a service would read is different.
  writeFileSync(envFile, `# the api's settings\nDATABASE_URL="postgres://app:${oldPassword}@db/app"\nOLD_FLAG=1\nexport POOL_SIZE=5\n`);
  const cosmetic = await s.probe.run(runContext());
  assert.equal(cosmetic.ok, true);
  assert.equal(s.events.length, 0, 'no key or value differs: no change');

  writeFileSync(envFile, `DATABASE_URL=postgres://app:${newPassword}@db/app\nPOOL_SIZE=5\nDEBUG=${newPassword}\n`);
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, true, 'without failUntilAck a change is recorded and the check stays ok');
  assert.equal(result.message, `1 file watched; last change just now: ${envFile} changed: OLD_FLAG removed, DEBUG added, DATABASE_URL changed`);
  assert.equal(s.events.length, 1);
  const event = s.events[0]!;
  assert.equal(event.type, 'change');
  assert.equal(event.severity, 'warning');
  assert.equal(event.subject, 'api-config');
  assert.deepEqual(
    { ...event.context, before: typeof event.context.before, after: typeof event.context.after },
    {
      source: 'drift',
      summary: `${envFile} changed: OLD_FLAG removed, DEBUG added, DATABASE_URL changed`,
      checks: ['api', 'worker'],
      path: envFile,
      before: 'string',
      after: 'string',
      detectedAt: s.clock.now,
    },
  );
  assert.match(event.context.before as string, /^[0-9a-f]{12}$/);
  assert.match(event.context.after as string, /^[0-9a-f]{12}$/);
  assert.notEqual(event.context.before, event.context.after);
  for (const text of [result.message, JSON.stringify(result.details), JSON.stringify(s.events), JSON.stringify([...s.state.values()])]) {
    assert.ok(!text.includes(oldPassword) && !text.includes(newPassword), 'no value appears in the message, details, events or state');
  }
  await s.probe.run(runContext());
  assert.equal(s.events.length, 1, 'one event per change');
});

test('drift: a file that is not KEY=VALUE is hashed whole and said to have changed', async (t) => {
  const dir = tempDir(t);
  const envFile = join(dir, 'service.env');
  writeFileSync(envFile, 'this is not an env file\n');
  const s = setup(t, { files: [envFile] });
  await s.probe.run(runContext());
  writeFileSync(envFile, 'neither is this\n');
  await s.probe.run(runContext());
  assert.deepEqual(
    s.events.map((e) => e.context.summary),
    [`${envFile} changed`],
  );
});

test('drift: with failUntilAck a change fails the check until acknowledge()', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'config.yml');
  writeFileSync(config, 'workers: 4\n');
  const s = setup(t, { files: [config], failUntilAck: true });
  assert.equal((await s.probe.run(runContext())).ok, true);

  writeFileSync(config, 'workers: 8\n');
  const changed = await s.probe.run(runContext());
  assert.equal(changed.ok, false);
  assert.equal(changed.message, `${config} changed just now (unacknowledged): /ack to accept`);
  s.clock.now += 4 * MINUTE;
  const later = await s.probe.run(runContext());
  assert.equal(later.ok, false);
  assert.equal(later.message, `${config} changed 4m ago (unacknowledged): /ack to accept`);
  assert.equal(s.events.length, 1, 'the change is recorded once, however long it stays unacknowledged');

  await s.probe.acknowledge!();
  const accepted = await s.probe.run(runContext());
  assert.equal(accepted.ok, true, accepted.message);
  assert.equal(accepted.message, `1 file watched; last change 4m ago: ${config} changed`);

  writeFileSync(config, 'workers: 2\n');
  const again = await s.probe.run(runContext());
  assert.equal(again.ok, false, 'an ack accepts what was seen, not what comes after');
  assert.equal(s.events.length, 2);

  // Put back as it was accepted: nothing left to acknowledge.
  writeFileSync(config, 'workers: 8\n');
  const reverted = await s.probe.run(runContext());
  assert.equal(reverted.ok, true, reverted.message);
  assert.equal(s.events.length, 3);
});

test('drift: a removed file is a change, and so is its return', async (t) => {
  const dir = tempDir(t);
  const envFile = join(dir, '.env.production');
  writeFileSync(envFile, 'TOKEN=abc123456789\nMODE=prod\n');
  const s = setup(t, { files: [envFile], failUntilAck: true });
  await s.probe.run(runContext());

  rmSync(envFile);
  const removed = await s.probe.run(runContext());
  assert.equal(removed.ok, false);
  assert.equal(removed.message, `${envFile} removed just now (unacknowledged): /ack to accept`);
  assert.equal(s.events[0]!.context.summary, `${envFile} removed`);
  assert.match(s.events[0]!.context.before as string, /^[0-9a-f]{12}$/);
  assert.equal('after' in s.events[0]!.context, false);
  await s.probe.acknowledge!();
  assert.equal((await s.probe.run(runContext())).ok, true);

  writeFileSync(envFile, 'TOKEN=abc123456789\nMODE=staging\n');
  const back = await s.probe.run(runContext());
  assert.equal(back.ok, false);
  assert.equal(back.message, `${envFile} is back just now, changed: MODE changed (unacknowledged): /ack to accept`);
  assert.equal(s.events[1]!.context.summary, `${envFile} is back, changed: MODE changed`);
  assert.equal(s.events[1]!.context.before, null);

  rmSync(envFile);
  await s.probe.run(runContext());
  writeFileSync(envFile, 'TOKEN=abc123456789\nMODE=staging\n');
  await s.probe.run(runContext());
  assert.equal(s.events.at(-1)!.context.summary, `${envFile} is back, unchanged`);
});

test('drift: a change made while Nightshift was down is noticed at its first run', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'models.json');
  writeFileSync(config, '{"model":"qwen2.5:7b"}\n');
  const state = new Map<string, unknown>();
  const before = setup(t, { files: [config], failUntilAck: true }, { state });
  await before.probe.run(runContext());

  writeFileSync(config, '{"model":"llama3:8b"}\n');
  const after = setup(t, { files: [config], failUntilAck: true }, { state });
  const result = await after.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(after.events.length, 1);
  assert.equal(after.events[0]!.context.summary, `${config} changed`);
  assert.equal(after.events[0]!.context.whileDown, true);

  // Unacknowledged changes survive a restart too.
  const third = setup(t, { files: [config], failUntilAck: true }, { state });
  const still = await third.probe.run(runContext());
  assert.equal(still.ok, false);
  assert.equal(third.events.length, 0);
});

test('drift: a file that cannot be read fails with its path, never throws', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'config.yml');
  writeFileSync(config, 'a: 1\n');
  const s = setup(t, { files: [config] });
  await s.probe.run(runContext());
  rmSync(config);
  mkdirSync(config);
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.message, `cannot read ${config}: not a regular file`);
  assert.equal(s.events.length, 0, 'a file that cannot be read is not taken for a change');
});

test('drift: the params refuse bad input with a clear message', () => {
  const empty = driftCheck.params.safeParse({ files: [] });
  assert.equal(empty.success, false);
  const twice = driftCheck.params.safeParse({ files: ['/srv/a.env', '/srv/a.env'] });
  assert.equal(twice.success, false);
  assert.equal(twice.error?.issues[0]?.message, 'each file is listed once');
  assert.equal(driftCheck.params.safeParse({ files: ['/srv/a.env'], failUntilAk: true }).success, false, 'a typo in a key is refused');
  assert.deepEqual(driftCheck.params.parse({ files: ['/srv/a.env'] }), { files: ['/srv/a.env'], failUntilAck: false, concerns: [] });
});
