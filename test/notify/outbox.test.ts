import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DeliveryError, type ChatChannel, type Delivery, type Inbound, type OutgoingMessage } from '../../src/chat/channel.js';
import { systemClock } from '../../src/clock.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { Outbox } from '../../src/notify/outbox.js';
import { openDatabase } from '../../src/store/database.js';
import { OutboxStore } from '../../src/store/outbox.js';
import { StoreHealth } from '../../src/store/health.js';
import { tempDir, waitFor } from '../helpers/temp.js';

/** A channel whose next sends fail as scripted; it records what it delivered. */
class ScriptedChannel implements ChatChannel {
  delivered: string[] = [];
  attempts: Array<{ title: string; at: number }> = [];
  script: Array<DeliveryError | Error> = [];
  constructor(readonly name: string) {}
  async start(_inbound: Inbound): Promise<void> {}
  async stop(): Promise<void> {}
  async send(message: OutgoingMessage): Promise<Delivery> {
    this.attempts.push({ title: message.title, at: Date.now() });
    const failure = this.script.shift();
    if (failure) throw failure;
    this.delivered.push(message.title);
    return { platformId: String(this.delivered.length) };
  }
}

function setup(t: TestContext, dataDir = tempDir(t)) {
  const db = openDatabase(join(dataDir, 'n.db'));
  const { logger, lines } = createCapturedLogger(new Redactor(['sekrit-token-value']));
  const outbox = new Outbox({
    store: new OutboxStore(db),
    clock: systemClock,
    log: logger,
    redactor: new Redactor(['sekrit-token-value']),
    backoff: { baseMs: 20, maxMs: 100 },
  });
  t.after(async () => {
    await outbox.stop();
    db.close();
  });
  return { outbox, db, lines, dataDir };
}

test('messages are delivered in order per channel, retried with backoff, once each', async (t) => {
  const { outbox } = setup(t);
  const flaky = new ScriptedChannel('flaky');
  flaky.script = [new DeliveryError('ECONNRESET'), new DeliveryError('HTTP 502')];
  const steady = new ScriptedChannel('steady');
  outbox.add(flaky);
  outbox.add(steady);
  for (const title of ['one', 'two', 'three']) outbox.enqueue({ severity: 'info', title });
  await outbox.drained();
  assert.deepEqual(flaky.delivered, ['one', 'two', 'three']);
  assert.deepEqual(steady.delivered, ['one', 'two', 'three']);
  assert.deepEqual(
    flaky.attempts.map((a) => a.title),
    ['one', 'one', 'one', 'two', 'three'],
    'nothing overtakes the failing head',
  );
});

test('the same key is sent once; every string is redacted before it is stored', async (t) => {
  const { outbox, db } = setup(t);
  const channel = new ScriptedChannel('c');
  outbox.add(channel);
  outbox.enqueue({ severity: 'warning', title: 'token sekrit-token-value leaked' }, { key: 'k1' });
  outbox.enqueue({ severity: 'warning', title: 'token sekrit-token-value leaked' }, { key: 'k1' });
  await outbox.drained();
  assert.deepEqual(channel.delivered, ['token [redacted] leaked']);
  assert.equal(JSON.stringify(db.prepare('SELECT payload FROM outbox').all()).includes('sekrit'), false);
});

test('a 429 waits retry_after; a 400 drops only that message; a 401 stops the channel and alerts the others', async (t) => {
  const { outbox, lines } = setup(t);
  const limited = new ScriptedChannel('limited');
  limited.script = [new DeliveryError('429', { retryAfterMs: 300 }), new DeliveryError('Bad Request: message too long', { rejected: true })];
  const locked = new ScriptedChannel('locked');
  locked.script = [new DeliveryError('401 Unauthorized', { permanent: true })];
  const witness = new ScriptedChannel('witness');
  for (const c of [limited, locked, witness]) outbox.add(c);
  outbox.enqueue({ severity: 'info', title: 'first' });
  outbox.enqueue({ severity: 'info', title: 'second' });
  await outbox.drained();
  const [a, b] = limited.attempts;
  assert.ok(b!.at - a!.at >= 290, `waited ${b!.at - a!.at} ms`);
  assert.deepEqual(
    limited.delivered.filter((m) => m === 'first' || m === 'second'),
    ['second'],
    'the rejected message was dropped, the next one delivered',
  );
  assert.deepEqual(locked.delivered, []);
  assert.equal(locked.attempts.length, 1, 'no retries after 401');
  assert.ok(witness.delivered.some((t) => /locked refused Nightshift's credentials/.test(t)));
  assert.ok(lines().some((l) => l.level === 50 && /delivery on locked is stopped/.test(String(l.msg))));
});

test('a crash between write and delivery loses nothing: a new outbox on the same store sends it', async (t) => {
  const dataDir = tempDir(t);
  const first = setup(t, dataDir);
  const down = new ScriptedChannel('c');
  down.script = Array.from({ length: 100 }, () => new DeliveryError('ECONNREFUSED'));
  first.outbox.add(down);
  first.outbox.enqueue({ severity: 'critical', title: 'kept' });
  await waitFor(() => down.attempts.length >= 1, { what: 'a failed attempt' });
  await first.outbox.stop();
  const second = setup(t, dataDir);
  const up = new ScriptedChannel('c');
  second.outbox.add(up);
  await second.outbox.drained();
  assert.deepEqual(up.delivered, ['kept']);
});

test('a full database: messages are kept in memory, /healthz-degraded, and written and delivered in order, once each, when space returns', async (t) => {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  const { logger, lines } = createCapturedLogger(new Redactor());
  const health = new StoreHealth({ log: logger, clock: systemClock });
  const outbox = new Outbox({ store: new OutboxStore(db), clock: systemClock, log: logger, redactor: new Redactor(), health, writeRetryMs: 20 });
  t.after(async () => {
    await outbox.stop();
    db.close();
  });
  const channel = new ScriptedChannel('c');
  outbox.add(channel);
  outbox.enqueue({ severity: 'info', title: 'before' });
  await outbox.drained();
  // SQLite's own "database or disk is full": no page may be added.
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const titles = Array.from({ length: 200 }, (_, i) => `during ${i} ${'x'.repeat(200)}`);
  for (const title of titles) outbox.enqueue({ severity: 'critical', title });
  assert.equal(health.degraded, true);
  assert.match(health.problems()[0]!, /cannot be written.*SQLITE_FULL.*messages? kept in memory/);
  assert.equal(lines().filter((l) => String(l.msg).startsWith('the database cannot be written')).length, 1, 'logged once, not per message');
  // Space returns.
  db.pragma('max_page_count = 1073741823');
  await waitFor(() => !health.degraded, { what: 'the store to be writable again' });
  await outbox.drained();
  assert.deepEqual(channel.delivered, ['before', ...titles]);
});
