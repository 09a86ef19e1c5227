import assert from 'node:assert/strict';
import { join } from 'node:path';
import { squatPort } from '../helpers/net.js';
import { test, type TestContext } from 'node:test';
import type { OutgoingMessage } from '../../src/chat/channel.js';
import type { CheckConfig } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/clock.js';
import { Engine } from '../../src/engine.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { checkConfig } from '../helpers/check-config.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const node = process.execPath;
const restart = [{ action: 'restart' as const, params: {} }];
const START = Date.UTC(2026, 0, 1, 12, 0, 0);

/**
 * The engine the bot runs, started as the bot starts it (probes spawn their
 * children, the patrol runs on its own), with the check kinds' own probes:
 * nothing is steered, the supervised children are real processes. The
 * clock runs in real time from a fixed day; with a long interval, only
 * events (a child's exit, a heal's verification) make the patrol run again
 * while a test lasts. Messages for every channel are collected.
 */
async function startEngine(t: TestContext, checks: CheckConfig[]) {
  const dataDir = tempDir(t);
  const db = openDatabase(join(dataDir, 'n.db'));
  const origin = performance.now();
  const clock: Clock = { now: () => START + Math.round(performance.now() - origin) };
  const redactor = new Redactor();
  const { logger } = createCapturedLogger(redactor);
  const events = new EventLog(db, redactor);
  const base = parseConfig(
    'chat:\n  groupWait: 0s\npatrol:\n  healTimeout: 10s\n',
    'test.yml',
    { TZ: 'UTC', NIGHTSHIFT_HTTP: '127.0.0.1:0', NIGHTSHIFT_DATA_DIR: dataDir },
    dataDir,
  );
  const sent: OutgoingMessage[] = [];
  const engine = new Engine({
    config: { ...base, checks },
    db,
    events,
    clock,
    log: logger,
    redactor,
    send: (message) => void sent.push(message),
    publicUrl: 'http://127.0.0.1:8787',
    startedAt: clock.now(),
    healBackoffBaseMs: 5,
  });
  t.after(async () => {
    await engine.stop();
    db.close();
  });
  await engine.start();
  return { engine, events, sent, dataDir };
}

/** "db recovered after 17ms: …" and its kin; an escalation's "retries the heal … until it recovers" is no such claim. */
function announcesRecovery(message: OutgoingMessage): boolean {
  return /\brecovered\b/i.test(`${message.title} ${message.body ?? ''}`);
}

test('a service that dies ~100ms after every respawn: every heal fails, nothing ever "recovers", and the incident is escalated', async (t) => {
  const port = await squatPort(t);
  const db = checkConfig('db', {
    kind: 'process',
    // It binds its port 100 ms after it starts, as a server does once its config is read; the port is taken.
    params: { command: [node, '-e', `setTimeout(() => require('node:net').createServer().listen(${port}, '127.0.0.1'), 100)`], startGrace: '1s' },
    heal: restart,
    intervalMs: 10_000,
    timeoutMs: 4_000,
    maxHeals: { count: 3, windowMs: 900_000 },
  });
  const { engine, events, sent } = await startEngine(t, [db]);

  await waitFor(() => events.ofType('escalated').length > 0, { timeoutMs: 30_000, what: 'the incident to be escalated' });
  await engine.settled();

  assert.deepEqual(
    events.ofType('check.recovered').map((e) => e.context.message),
    [],
    'a service that never stayed up its grace was never recorded as recovered',
  );
  assert.deepEqual(sent.filter(announcesRecovery), [], 'no channel was told it recovered');

  const attempts = events.ofType('heal.attempted');
  assert.equal(attempts.length, 3, 'healed up to maxHeals');
  assert.equal(events.ofType('heal.succeeded').length, 0);
  const failed = events.ofType('heal.failed');
  assert.equal(failed.length, attempts.length, 'every heal is recorded as failed');
  const restarts = engine.actions.forTarget('db').filter((a) => a.category === 'restart');
  assert.equal(restarts.length, attempts.length);
  for (const action of restarts) {
    assert.equal(action.result, 'failed');
    assert.match(action.message, /^pid \d+ exited with code 1 after \d+ms, inside its 1s start grace: Error: listen EADDRINUSE: address already in use/);
  }

  // One incident from the first failure to the escalation: never closed by a false recovery and opened again.
  assert.equal(events.ofType('incident.opened').length, 1);
  assert.equal(events.ofType('incident.closed').length, 0);
  const [incident] = engine.incidents.allOpen();
  assert.ok(incident?.escalatedAt, 'the open incident is the escalated one');
  assert.deepEqual(new Set(attempts.map((e) => e.context.incidentId)), new Set([incident.id]));
  const escalations = sent.filter((m) => m.kind === 'escalation');
  assert.equal(escalations.length, 1, JSON.stringify(sent.map((m) => m.title)));
  assert.match(escalations[0]!.title, /^db needs you: /);
  assert.match(escalations[0]!.body!, /inside its 1s start grace/, 'the alert carries why the service does not start');
});

test('a service that dies on its first start and stays up after the respawn is healed and recovers, once, after its grace', async (t) => {
  const marker = join(tempDir(t), 'started-once');
  // The first start dies (a stale lock, say) after leaving a marker; the respawn finds it and stays up.
  const script = [
    `const fs = require('node:fs');`,
    `if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ''); console.error('FATAL: stale lock'); setTimeout(() => process.exit(1), 100); }`,
    `else setInterval(() => {}, 60_000);`,
  ].join('\n');
  const worker = checkConfig('worker', { kind: 'process', params: { command: [node, '-e', script] }, heal: restart, intervalMs: 10_000, timeoutMs: 4_000 });
  const { engine, events, sent } = await startEngine(t, [worker]);

  await waitFor(() => events.ofType('check.recovered').length > 0, { timeoutMs: 30_000, what: 'the respawned worker to recover' });
  await engine.settled();
  assert.equal(events.ofType('heal.succeeded').length, 1);
  assert.equal(events.ofType('heal.failed').length, 0);
  const [heal] = engine.actions.forTarget('worker').filter((a) => a.category === 'restart');
  assert.match(heal!.message, /^respawned as pid \d+; up 1s$/);
  assert.equal(events.ofType('check.recovered').length, 1);
  assert.equal(engine.incidents.allOpen().length, 0);
  assert.equal(sent.filter((m) => m.kind === 'escalation').length, 0);
});
