import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { OutgoingMessage } from '../../src/chat/channel.js';
import { ManualClock } from '../../src/clock.js';
import { Composer, type ComposerOptions, type IncidentNotice } from '../../src/notify/composer.js';
import { openDatabase } from '../../src/store/database.js';
import { IncidentStore } from '../../src/store/incidents.js';
import { tempDir } from '../helpers/temp.js';

function setup(t: TestContext, stormThreshold = 20, extra: Partial<ComposerOptions> = {}) {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  t.after(() => db.close());
  const incidents = new IncidentStore(db);
  const clock = new ManualClock();
  const sent: OutgoingMessage[] = [];
  const sentTo: Array<readonly string[] | undefined> = [];
  const composer = new Composer({
    clock,
    incidents,
    groupWaitMs: 60_000,
    stormThreshold,
    repeatIntervalMs: 4 * 3_600_000,
    send: (m, _key, channels) => {
      sent.push(m);
      sentTo.push(channels);
    },
    ...extra,
  });
  t.after(() => composer.stop());
  const open = (check: string, rootId: number | null = null) =>
    incidents.open({ checkName: check, severity: 'critical', at: clock.now(), rootId, message: `${check} down`, failures: 1 });
  const opened = (id: number, check: string, rootCheck: string | null = null): IncidentNotice => ({
    kind: 'opened',
    check,
    severity: 'critical',
    incidentId: id,
    rootCheck,
    message: `${check} down`,
  });
  return { composer, sent, sentTo, incidents, clock, open, opened };
}

test('incidents sharing a root fold into one message', (t) => {
  const { composer, sent, open, opened } = setup(t);
  const root = open('worker-a');
  composer.notice(opened(root.id, 'worker-a'));
  for (let i = 1; i <= 7; i++) composer.notice(opened(open(`dep-${i}`, root.id).id, `dep-${i}`, 'worker-a'));
  composer.flush();
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.title, 'worker-a is failing: worker-a down; 7 dependent checks failing with it');
  assert.match(sent[0]!.body!, /symptoms: dep-1, dep-2, .*dep-7/);
});

test('a dependent noticed before its root was known is folded under the root once re-filed', (t) => {
  const { composer, sent, incidents, open, opened } = setup(t);
  const dependent = open('api');
  composer.notice(opened(dependent.id, 'api'));
  const root = open('db');
  incidents.setRoot(dependent.id, root.id);
  composer.notice(opened(root.id, 'db'));
  composer.flush();
  assert.deepEqual(
    sent.map((m) => m.title),
    ['db is failing: db down; 1 dependent check failing with it'],
  );
});

test('a storm of 500 incidents with one root cause is one message', (t) => {
  const { composer, sent, open, opened } = setup(t);
  const root = open('db');
  composer.notice(opened(root.id, 'db'));
  for (let i = 0; i < 499; i++) composer.notice(opened(open(`c${i}`, root.id).id, `c${i}`, 'db'));
  composer.flush();
  assert.equal(sent.length, 1);
  assert.match(sent[0]!.title, /^Storm: 500 new incidents within 1m from 1 root cause$/);
  assert.match(sent[0]!.body!, /^db: 500 incidents \(db down\)/);
});

test('recoveries fold the same way; only announced incidents are announced as recovered', (t) => {
  const { composer, sent, incidents, open, clock } = setup(t);
  const db = open('db');
  const api = open('api', db.id);
  const quiet = open('cache');
  incidents.markNotified(db.id, clock.now());
  incidents.markNotified(api.id, clock.now());
  composer.notice({ kind: 'recovered', check: 'db', severity: 'critical', incidentId: db.id, rootCheck: null, message: 'ok', durationMs: 180_000 });
  composer.notice({ kind: 'recovered', check: 'api', severity: 'critical', incidentId: api.id, rootCheck: 'db', message: 'ok', durationMs: 170_000 });
  composer.notice({ kind: 'recovered', check: 'cache', severity: 'critical', incidentId: quiet.id, rootCheck: null, message: 'ok', durationMs: 1_000 });
  composer.flush();
  assert.deepEqual(
    sent.map((m) => m.title),
    ['db recovered after 3m: ok; 1 dependent check recovered with it'],
  );
});

test('an unacknowledged critical root incident is reminded every repeat interval; /ack stops it', (t) => {
  const { composer, sent, incidents, clock, open } = setup(t);
  const incident = open('db');
  incidents.markNotified(incident.id, clock.now());
  clock.advance(3 * 3_600_000);
  composer.remind();
  assert.equal(sent.length, 0);
  clock.advance(3_600_000);
  composer.remind();
  assert.match(sent[0]!.title, /^Still failing after 4h: db: db down/);
  clock.advance(4 * 3_600_000);
  incidents.ack(incident.id, 'alice', clock.now());
  composer.remind();
  assert.equal(sent.length, 1);
});

test('a muted (or silenced) check is reminded of nobody', (t) => {
  const muted = new Set(['db']);
  const { composer, sent, incidents, clock, open } = setup(t, 20, { quiet: (check) => muted.has(check) });
  const incident = open('db');
  incidents.markNotified(incident.id, clock.now());
  clock.advance(5 * 3_600_000);
  composer.remind();
  assert.equal(sent.length, 0, 'muted: no reminder');
  muted.clear();
  composer.remind();
  assert.match(sent[0]!.title, /^Still failing after 5h: db/);
});

test('an unacknowledged escalation is re-sent every escalateAfter, louder, to the next channel in escalateTo, until acked', (t) => {
  const { composer, sent, sentTo, incidents, clock, open } = setup(t, 20, {
    escalateAfterMs: 15 * 60_000,
    escalateTo: ['telegram', 'ntfy'],
    heals: () => true,
  });
  const incident = open('worker');
  incidents.markEscalated(incident.id, clock.now());
  incidents.markNotified(incident.id, clock.now());
  clock.advance(14 * 60_000);
  composer.remind();
  assert.equal(sent.length, 0);
  clock.advance(60_000);
  composer.remind();
  clock.advance(15 * 60_000);
  composer.remind();
  clock.advance(15 * 60_000);
  composer.remind();
  assert.equal(sent.length, 3);
  for (const m of sent) {
    assert.equal(m.kind, 'escalation');
    assert.equal(m.urgent, true, 'louder than the first');
    assert.match(m.title, /^Still needs you \(nobody acknowledged it, /);
    assert.deepEqual(
      m.actions?.map((a) => a.command),
      [`/ack ${incident.id}`, `/silence worker 1h`, '/heal worker', '/diagnose worker'],
    );
  }
  assert.deepEqual(sentTo, [['telegram'], ['ntfy'], ['ntfy']], 'first re-send to the first channel, then the next, then the last again');
  incidents.ack(incident.id, 'alice', clock.now());
  clock.advance(60 * 60_000);
  composer.remind();
  assert.equal(sent.length, 3, 'acked: no more');
});

test('incidents committed but never announced (a crash inside the group wait) are announced at the next start', (t) => {
  const { composer, sent, incidents, open } = setup(t);
  const root = open('db');
  open('api', root.id);
  const announced = open('cache');
  incidents.markNotified(announced.id, 0);
  composer.start();
  composer.flush();
  assert.deepEqual(
    sent.map((m) => m.title),
    ['db is failing: db down; 1 dependent check failing with it'],
  );
});
