import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditLog } from '../../src/store/audit.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { OutboxStore } from '../../src/store/outbox.js';
import { tempDir } from '../helpers/temp.js';

const DAY = 86_400_000;

test('retention: events older than the limit go in bounded batches; newer events, the audit trail and pending messages stay', (t) => {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  t.after(() => db.close());
  const events = new EventLog(db);
  const now = 200 * DAY;
  db.transaction(() => {
    for (let i = 0; i < 12_000; i++)
      events.append(now - 120 * DAY + i, 'check.failed', 'worker', 'critical', { kind: 'file', message: 'missing', durationMs: 1, consecutiveFailures: i });
    // Audited decisions, old and new: the audit trail is never pruned.
    events.append(now - 150 * DAY, 'check.muted', 'worker', 'info', { until: 0, by: 'alice', channel: 'telegram' });
    events.append(now - DAY, 'check.muted', 'worker', 'info', { until: 0, by: 'alice', channel: 'telegram' });
    for (let i = 0; i < 10; i++)
      events.append(now - DAY + i, 'check.failed', 'worker', 'critical', { kind: 'file', message: 'missing', durationMs: 1, consecutiveFailures: i });
  })();
  const before = now - 90 * DAY;
  // A bounded call removes at most its batches; the next one carries on.
  assert.equal(events.pruneBefore(before, { batch: 5_000, maxBatches: 2 }), 10_000);
  assert.equal(events.pruneBefore(before, { batch: 5_000, maxBatches: 2 }), 2_001);
  assert.equal(events.pruneBefore(before), 0);
  assert.equal((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 11);
  assert.equal((db.prepare('SELECT count(*) AS n FROM events WHERE at < ?').get(before) as { n: number }).n, 0);
  const audit = new AuditLog(db).verify();
  assert.deepEqual(audit, { ok: true, rows: 2 });

  const outbox = new OutboxStore(db);
  outbox.enqueue(['telegram'], 'old-sent', { severity: 'info', title: 'old' }, now - 100 * DAY);
  outbox.enqueue(['telegram'], 'old-pending', { severity: 'info', title: 'stuck' }, now - 100 * DAY);
  outbox.markSent(outbox.head('telegram')!.id, now - 100 * DAY, undefined);
  assert.equal(outbox.pruneFinished(before), 1);
  assert.equal(outbox.head('telegram')!.key, 'old-pending', 'a message never delivered is kept whatever its age');
});

test('stored events are bounded: a huge string in a context is cut, and secrets are removed before they are stored', (t) => {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  t.after(() => db.close());
  const events = new EventLog(db);
  events.append(1, 'heartbeat.received', 'backup', 'info', { kind: 'fail', body: `${'y'.repeat(100_000)} password=hunter2` });
  events.append(2, 'heartbeat.received', 'backup', 'info', { kind: 'fail', body: 'pg_dump: password=hunter2 refused' });
  const raw = (db.prepare('SELECT context FROM events ORDER BY id').all() as Array<{ context: string }>).map((r) => r.context);
  assert.ok(raw[0]!.length < 5_000, `stored ${raw[0]!.length} characters`);
  assert.match(raw[0]!, /…/);
  assert.equal(raw.join('').includes('hunter2'), false);
  assert.match(raw[1]!, /password=\[redacted:secret\]/);
});
