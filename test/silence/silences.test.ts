import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Identity } from '../../src/chat/channel.js';
import { Silences } from '../../src/silence/silences.js';
import { AuditLog } from '../../src/store/audit.js';
import { SilenceStore } from '../../src/store/silences.js';
import { checkConfig } from '../helpers/check-config.js';
import { createEngine } from '../helpers/engine.js';

const restart = [{ action: 'restart' as const, params: {} }];
const alice: Identity = { channel: 'telegram', userId: '42', displayName: 'alice' };

/** web-1 and web-2 (http, healed by a restart that does not help), db (tcp, no heal steps). */
function stack(t: Parameters<typeof createEngine>[0], yaml?: string) {
  const checks = [
    checkConfig('web-1', { kind: 'http', heal: restart }),
    checkConfig('web-2', { kind: 'http', heal: restart }),
    checkConfig('db', { kind: 'tcp' }),
  ];
  const engine = createEngine(t, checks, yaml ? { yaml } : {});
  for (const c of checks) engine.probe(c.name).onRestart = () => ({ ok: true, message: 'restarted, still down' });
  return engine;
}

test('a silence by glob: the checks it covers neither alert nor heal until it expires; the others do', async (t) => {
  const e = stack(t);
  await e.patrolOnce();
  const silence = e.engine.silences.add('web-*', 3_600_000, 'deploying', alice);
  assert.deepEqual(silence.covers, ['web-1', 'web-2']);
  for (const name of ['web-1', 'web-2', 'db']) e.probe(name).fail(`${name} down`);
  await e.patrolOnce();
  e.clock.advance(10_000);
  await e.patrolOnce();

  assert.deepEqual(
    e.alerts.filter((a) => / is failing/.test(a.title)).map((a) => a.title),
    ['db is failing: db down'],
    'only the check outside the silence alerts',
  );
  assert.equal(e.probe('web-1').restarts + e.probe('web-2').restarts, 0, 'silenced checks are not healed');
  assert.equal(e.incidents.openFor('web-1')?.checkName, 'web-1', 'the silenced failure is still recorded as an incident');

  // The hour passes: web-1 is still down, so it is healed again.
  e.clock.advance(3_600_000);
  await e.patrolOnce();
  assert.equal(e.probe('web-1').restarts, 1, 'healed once the silence expired');
  assert.deepEqual(e.engine.silences.list().silences, [], 'an expired silence is no longer listed');
});

test('a silence set on an announced incident stops its reminders; /unsilence brings them back; both are audited', async (t) => {
  const e = stack(t);
  await e.patrolOnce();
  e.probe('db').fail('db down');
  await e.patrolOnce();
  assert.equal(e.alerts.length, 1);
  const silence = e.engine.silences.add('kind:tcp', 6 * 3_600_000, null, alice);
  e.clock.advance(5 * 3_600_000);
  e.engine.composer.remind();
  assert.equal(e.alerts.length, 1, 'no "still failing" reminder while silenced');

  assert.equal(e.engine.silences.remove(silence.id, alice)?.matcher, 'kind:tcp');
  assert.equal(e.engine.silences.remove(silence.id, alice), null, 'a removed silence cannot be removed twice');
  e.engine.composer.remind();
  assert.match(e.alerts.at(-1)!.title, /^Still failing after 5h: db/);

  assert.deepEqual(
    e.events.ofType('silence.added').map((ev) => [ev.subject, ev.context.by, ev.context.covers]),
    [['kind:tcp', 'alice (42)', ['db']]],
  );
  assert.equal(e.events.ofType('silence.removed').length, 1);
  const audit = new AuditLog(e.db);
  assert.deepEqual(audit.verify(), { ok: true, rows: 2 });
});

test('a silence is kept across a restart of the bot', (t) => {
  const e = stack(t);
  e.engine.silences.add('web-2', 3_600_000, null, alice);
  // A fresh store and service on the same database: what the restarted bot reads.
  const restarted = new Silences({
    store: new SilenceStore(e.db),
    events: e.events,
    clock: e.clock,
    checks: [checkConfig('web-1'), checkConfig('web-2')],
    windows: [],
    timezone: 'UTC',
  });
  assert.deepEqual(
    restarted.list().silences.map((s) => [s.matcher, s.covers, s.createdBy]),
    [['web-2', ['web-2'], 'alice (42)']],
  );
  assert.notEqual(restarted.silencedBy(checkConfig('web-2'), e.clock.now()), null);
  assert.equal(restarted.silencedBy(checkConfig('web-1'), e.clock.now()), null);
});

test('a matcher that covers nothing, or is not a matcher, is refused and nothing is stored', (t) => {
  const e = stack(t);
  assert.throws(() => e.engine.silences.add('wbe-*', 3_600_000, null, alice), /"wbe-\*" matches no check/);
  assert.throws(() => e.engine.silences.add('severity:high', 3_600_000, null, alice), /severity: expected critical or optional/);
  assert.throws(() => e.engine.silences.add('web-1', 31 * 86_400_000, null, alice), /from 1m to 30d/);
  assert.deepEqual(e.engine.silences.list().silences, []);
  assert.equal(e.events.ofType('silence.added').length, 0);
});

test('a maintenance window from the config silences what it matches while it is open (cron in TZ)', async (t) => {
  const yaml = 'maintenance:\n  - name: nightly-deploy\n    cron: "0 3 * * *"\n    duration: 1h\n    match: kind:http\n    reason: deploy script\n';
  const e = stack(t, yaml);
  e.clock.set(Date.UTC(2026, 0, 2, 2, 50));
  await e.patrolOnce();
  assert.equal(e.engine.silences.list().windows[0]!.nextOpen, Date.UTC(2026, 0, 2, 3, 0));

  e.clock.set(Date.UTC(2026, 0, 2, 3, 10));
  e.probe('web-1').fail('web-1 down');
  await e.patrolOnce();
  const [window] = e.engine.silences.list().windows;
  assert.deepEqual([window!.openUntil, window!.covers], [Date.UTC(2026, 0, 2, 4, 0), ['web-1', 'web-2']]);
  assert.equal(e.probe('web-1').restarts, 0, 'not healed inside the window');
  assert.equal(e.alerts.length, 0, 'no alert inside the window');

  e.clock.set(Date.UTC(2026, 0, 2, 4, 0));
  await e.patrolOnce();
  assert.equal(e.probe('web-1').restarts, 1, 'healed once the window closed');
  assert.equal(e.engine.silences.list().windows[0]!.openUntil, null);
});

test("a maintenance window's cron is read in TZ, and a window that crossed midnight is still open after it", (t) => {
  const e = stack(t);
  const silences = new Silences({
    store: new SilenceStore(e.db),
    events: e.events,
    clock: e.clock,
    checks: [checkConfig('db', { kind: 'tcp' })],
    windows: [{ name: 'late', cron: '30 23 * * *', durationMs: 2 * 3_600_000, match: 'db' }],
    timezone: 'Europe/Berlin',
  });
  const db = checkConfig('db', { kind: 'tcp' });
  // 23:30 in Berlin in January is 22:30 UTC.
  assert.equal(silences.silencedBy(db, Date.UTC(2026, 0, 5, 22, 29)), null);
  assert.deepEqual(silences.silencedBy(db, Date.UTC(2026, 0, 5, 22, 30)), { kind: 'window', name: 'late', until: Date.UTC(2026, 0, 6, 0, 30) });
  assert.equal(silences.silencedBy(db, Date.UTC(2026, 0, 6, 0, 15))?.kind, 'window', 'still open after midnight');
  assert.equal(silences.silencedBy(db, Date.UTC(2026, 0, 6, 0, 30)), null, 'closed after its duration');
});
