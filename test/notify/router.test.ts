import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { OutgoingMessage } from '../../src/chat/channel.js';
import { ManualClock } from '../../src/clock.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { Router, type Route } from '../../src/notify/router.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { KeyValueStore } from '../../src/store/kv.js';
import { tempDir } from '../helpers/temp.js';

const everything: Route = { severities: ['critical', 'warning', 'info'], questions: true, briefings: true, sendResolved: true };

/** A router over a real store; what it hands the outbox is collected per channel. */
function setup(t: TestContext, routes: Record<string, Route | undefined>, clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0))) {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  t.after(() => db.close());
  const redactor = new Redactor();
  const events = new EventLog(db, redactor);
  const delivered: Record<string, string[]> = { discord: [], telegram: [], ntfy: [] };
  const router = new Router({
    routes,
    timezone: 'Europe/Berlin',
    clock,
    events,
    kv: new KeyValueStore(db),
    log: createCapturedLogger(redactor).logger,
    enqueue: (message, options) => {
      for (const channel of options?.channels ?? Object.keys(delivered)) delivered[channel]!.push(message.title);
    },
    channelNames: () => Object.keys(delivered),
  });
  return { router, delivered, events, clock };
}

const alert = (severity: OutgoingMessage['severity'], title: string): OutgoingMessage => ({ severity, title });
const question: OutgoingMessage = {
  severity: 'warning',
  title: 'Apply the fix?',
  question: { questionId: 'q1', code: 'AB12', yesLabel: 'Approve', noLabel: 'Reject' },
};

test('routes: ntfy criticals and questions (no recoveries, no briefings), Telegram criticals, questions and briefings, Discord everything', (t) => {
  const { router, delivered } = setup(t, {
    discord: everything,
    telegram: { ...everything, severities: ['critical'], sendResolved: false },
    ntfy: { ...everything, severities: ['critical'], sendResolved: false, briefings: false },
  });
  router.send(alert('warning', 'disk at 91%'));
  router.send({ severity: 'critical', title: 'db is failing' });
  router.send({ severity: 'info', kind: 'recovery', resolves: 'critical', title: 'db recovered' });
  router.send({ severity: 'critical', kind: 'escalation', title: 'worker needs you' });
  router.send(question);
  router.send({ severity: 'info', kind: 'briefing', title: 'Morning briefing' });
  assert.deepEqual(delivered.discord, ['disk at 91%', 'db is failing', 'db recovered', 'worker needs you', 'Apply the fix?', 'Morning briefing']);
  assert.deepEqual(delivered.telegram, ['db is failing', 'worker needs you', 'Apply the fix?', 'Morning briefing']);
  assert.deepEqual(delivered.ntfy, ['db is failing', 'worker needs you', 'Apply the fix?']);
});

test('quiet hours (local time, across midnight): held unless it pierces them, then one summary when they end', (t) => {
  // 23:30 in Berlin (UTC+1 in January).
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 22, 30));
  const { router, delivered, events } = setup(
    t,
    { ntfy: { ...everything, quietHours: { from: '23:00', to: '07:00', pierce: ['questions', 'escalations'] } } },
    clock,
  );
  router.send(alert('critical', 'db is failing'));
  router.send(alert('warning', 'disk at 91%'));
  router.send({ severity: 'critical', kind: 'escalation', title: 'worker needs you' });
  router.send(question);
  assert.deepEqual(delivered.ntfy, ['worker needs you', 'Apply the fix?'], 'only what pierces quiet hours');
  assert.deepEqual(delivered.discord, ['db is failing', 'disk at 91%', 'worker needs you', 'Apply the fix?'], 'a channel without quiet hours is not held');
  assert.deepEqual(
    events.ofType('notify.held').map((e) => e.context.title),
    ['db is failing', 'disk at 91%'],
    'what is held is recorded',
  );

  // 06:59: still quiet, no summary yet.
  clock.set(Date.UTC(2026, 0, 2, 5, 59));
  router.sendDigests();
  assert.equal(delivered.ntfy.length, 2);
  // 07:00: the summary, once.
  clock.set(Date.UTC(2026, 0, 2, 6, 0));
  router.sendDigests();
  router.sendDigests();
  assert.deepEqual(delivered.ntfy.slice(2), ['Quiet hours (23:00–07:00) are over: 2 messages were held']);
  // Daytime: sent at once.
  router.send(alert('warning', 'disk at 95%'));
  assert.equal(delivered.ntfy.at(-1), 'disk at 95%');
});
