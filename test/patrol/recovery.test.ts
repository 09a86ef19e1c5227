import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkConfig } from '../helpers/check-config.js';
import { createEngine } from '../helpers/engine.js';

const restart = [{ action: 'restart' as const, params: {} }];

test('a dependency failure yields one root incident with its dependents as symptoms; only the root is healed', async (t) => {
  const db = checkConfig('db', { heal: restart });
  const api1 = checkConfig('api-1', { dependsOn: ['db'], heal: restart });
  const api2 = checkConfig('api-2', { dependsOn: ['db'], heal: restart });
  const queue = checkConfig('queue', { dependsOn: ['api-1'], heal: restart });
  const engine = createEngine(t, [db, api1, api2, queue]);
  await engine.patrolOnce();
  // The database dies; its restart does not help yet, and everything above it fails too.
  engine.probe('db').onRestart = () => ({ ok: true, message: 'restarted, still starting' });
  for (const name of ['db', 'api-1', 'api-2', 'queue']) engine.probe(name).fail(`${name} down`);
  await engine.patrolOnce();

  const open = engine.incidents.allOpen();
  const root = open.find((i) => i.checkName === 'db')!;
  assert.equal(root.rootId, null);
  assert.deepEqual(
    open
      .filter((i) => i.id !== root.id)
      .map((i) => [i.checkName, i.rootId])
      .sort(),
    [
      ['api-1', root.id],
      ['api-2', root.id],
      ['queue', root.id],
    ],
  );
  assert.equal(engine.probe('db').restarts, 1, 'the root was healed');
  for (const name of ['api-1', 'api-2', 'queue']) assert.equal(engine.probe(name).restarts, 0, `${name} is a symptom and must not be healed`);
  assert.equal(engine.alerts.length, 0, 'nothing is announced while the heal may still bring db back');
  // The grace after the heal passes and db is still down: now it is announced, with its symptoms, once.
  engine.clock.advance(5_000);
  await engine.patrolOnce();
  const failingAlerts = engine.alerts.filter((a) => / is failing/.test(a.title));
  assert.equal(failingAlerts.length, 1, JSON.stringify(engine.alerts));
  assert.match(failingAlerts[0]!.title, /^db is failing: db down/);
  const skipped = engine.events.ofType('heal.skipped').map((e) => [e.subject, e.context.reason]);
  assert.ok(skipped.some(([subject, reason]) => subject === 'queue' && /symptom of db/.test(String(reason))));

  // The database comes back: everything recovers, one recovery alert for the root.
  for (const name of ['db', 'api-1', 'api-2', 'queue']) engine.probe(name).recover();
  engine.clock.advance(20_000);
  await engine.patrolOnce();
  assert.equal(engine.incidents.allOpen().length, 0);
  const recoveries = engine.alerts.filter((a) => /recovered/.test(a.title)).map((a) => a.title);
  assert.equal(recoveries.filter((t) => t.startsWith('db recovered')).length, 1);
  assert.deepEqual(
    recoveries.filter((t) => /^(api-1|api-2|queue) recovered/.test(t)),
    [],
    'symptoms recover under their root, not as roots',
  );
});

test('a dependency checked after its dependents still becomes the root (incidents re-filed as symptoms)', async (t) => {
  // api is listed (and so run) first; it fails before the patrol has seen the database fail.
  const api = checkConfig('api', { dependsOn: ['db'], heal: restart });
  const db = checkConfig('db');
  const engine = createEngine(t, [api, db]);
  engine.probe('api').fail('HTTP 502');
  engine.probe('db').fail('connection refused');
  await engine.patrolOnce();
  const apiIncident = engine.incidents.openFor('api')!;
  const dbIncident = engine.incidents.openFor('db')!;
  assert.equal(dbIncident.rootId, null);
  assert.equal(apiIncident.rootId, dbIncident.id);
  assert.equal(engine.events.ofType('incident.reclassified')[0]?.subject, 'api');
  assert.equal(engine.probe('api').restarts, 0, 'api was not healed while its dependency had not been checked');
  assert.ok(engine.verifyRequests.includes('db'), 'the dependency was asked to run first');
  await engine.patrolOnce();
  assert.equal(engine.probe('api').restarts, 0, 'api is a symptom of db');
});

test('a crash healed in time sends nothing; the next briefing lists it', async (t) => {
  const web = checkConfig('web', { heal: restart, intervalMs: 10_000 });
  const engine = createEngine(t, [web]);
  engine.probe('web').fail('killed by SIGKILL');
  await engine.patrolOnce();
  assert.equal(engine.probe('web').restarts, 1);
  await engine.patrolOnce();
  engine.clock.advance(30_000);
  await engine.patrolOnce();
  assert.equal(engine.incidents.allOpen().length, 0);
  assert.equal(engine.alerts.length, 0, 'no push: not failing, not recovered');
  assert.equal(engine.events.ofType('incident.unannounced').length, 1);
  const briefing = engine.engine.briefings.compose(engine.clock.now());
  assert.match(briefing.text, /- healed without waking you: 1\n {2}web at 12:00: killed by SIGKILL, back after /, briefing.text);
});

test('two kills within one patrol interval are both healed (backoff, no escalation)', async (t) => {
  const worker = checkConfig('worker', { heal: restart, intervalMs: 10_000, cooldownMs: 300_000 });
  const engine = createEngine(t, [worker], { backoffBaseMs: 5 });
  engine.probe('worker').fail('exited with code 1');
  await engine.patrolOnce();
  await engine.patrolOnce();
  // Killed again 2 s later, before the first restart could count as held.
  engine.clock.advance(2_000);
  engine.probe('worker').fail('exited with code 1');
  await engine.patrolOnce();
  await engine.patrolOnce();
  assert.equal(engine.probe('worker').restarts, 2, 'the second crash is healed too');
  assert.deepEqual(
    engine.events.ofType('heal.attempted').map((e) => e.context.delayMs),
    [0, 5],
    'the second heal backs off',
  );
  assert.equal(engine.actions.forTarget('worker').filter((a) => a.category === 'escalate').length, 0);
  assert.equal(engine.incidents.allOpen().length, 0);
  assert.equal(engine.alerts.length, 0, JSON.stringify(engine.alerts));
});

test('a heal that does not hold (it keeps crashing after each restart) sends exactly one alert: the escalation, with a task file', async (t) => {
  const worker = checkConfig('worker', { heal: restart, intervalMs: 10_000, maxHeals: { count: 2, windowMs: 900_000 } });
  const engine = createEngine(t, [worker], { backoffBaseMs: 5 });
  for (let crash = 0; crash < 3; crash++) {
    engine.probe('worker').fail('exited with code 1', { exitCode: 1, stderrTail: 'ImportError: no module named agent' });
    await engine.patrolOnce();
    await engine.patrolOnce();
    engine.clock.advance(3_000);
  }
  assert.equal(engine.probe('worker').restarts, 2, 'healed up to maxHeals');
  // The analysis question may come too; it is a question, not an alert.
  const alerts = engine.alerts.filter((m) => m.question === undefined);
  assert.equal(alerts.length, 1, JSON.stringify(engine.alerts.map((a) => a.title)));
  const [alert] = alerts;
  assert.match(alert!.title, /^worker needs you: healed 2 times within 15 min \(maxHeals 2\)/);
  assert.equal(alert!.kind, 'escalation');
  assert.match(alert!.body!, /still retries the heal every 15m/);
  assert.deepEqual(
    alert!.actions?.map((a) => a.label),
    ['Ack', 'Silence 1h', 'Heal now', 'Diagnose'],
  );
  const files = readdirSync(join(engine.dataDir, 'escalations'));
  assert.deepEqual(files, ['2026-01-01-worker.json']);
  const task = JSON.parse(readFileSync(join(engine.dataDir, 'escalations', files[0]!), 'utf8')) as Record<string, unknown>;
  for (const key of ['title', 'description', 'fix_hint', 'severity', 'created_at']) assert.ok(task[key], `task file has ${key}`);
  assert.equal(task.severity, 'critical');
  assert.match(String(task.fix_hint), /stderr/);
});

test('a restart that does not bring it back is announced once, grace after the heal; after escalating, Nightshift keeps a slow retry', async (t) => {
  const svc = checkConfig('svc', { heal: restart, maxHeals: { count: 2, windowMs: 900_000 } });
  const engine = createEngine(t, [svc], { backoffBaseMs: 5 });
  const probe = engine.probe('svc');
  probe.onRestart = () => ({ ok: true, message: 'restarted, still broken' });
  probe.fail('connection refused');
  await engine.patrolOnce();
  assert.equal(engine.alerts.length, 0, 'held while the heal may work');
  engine.clock.advance(5_000);
  await engine.patrolOnce();
  assert.deepEqual(
    engine.alerts.map((a) => a.title),
    ['svc is failing: connection refused'],
  );
  assert.match(engine.alerts[0]!.body!, /still failing 5s after the heal/);
  await engine.patrolOnce();
  assert.equal(probe.restarts, 2);
  assert.equal(engine.alerts.filter((a) => /needs you/.test(a.title)).length, 1);
  // Escalated: no restart for 15 minutes, then one slow retry, which works this time.
  engine.clock.advance(10 * 60_000);
  await engine.patrolOnce();
  assert.equal(probe.restarts, 2);
  engine.clock.advance(5 * 60_000);
  probe.onRestart = () => {
    probe.recover();
    return { ok: true, message: 'restarted' };
  };
  await engine.patrolOnce();
  assert.equal(probe.restarts, 3, 'the slow retry ran');
  assert.equal(engine.events.ofType('heal.attempted').at(-1)!.context.slowRetry, true);
  await engine.patrolOnce();
  assert.equal(engine.incidents.allOpen().length, 0);
  assert.match(engine.alerts.at(-1)!.title, /^svc recovered/);
});

test('retryAfterEscalation: off stops healing after the escalation', async (t) => {
  const svc = checkConfig('svc', { heal: restart, maxHeals: { count: 1, windowMs: 900_000 }, retryAfterEscalationMs: null });
  const engine = createEngine(t, [svc], { backoffBaseMs: 5 });
  const probe = engine.probe('svc');
  probe.onRestart = () => ({ ok: true, message: 'restarted, still broken' });
  probe.fail('connection refused');
  await engine.patrolOnce();
  await engine.patrolOnce();
  engine.clock.advance(60 * 60_000);
  await engine.patrolOnce();
  assert.equal(probe.restarts, 1);
  assert.match(engine.alerts.find((a) => /needs you/.test(a.title))!.body!, /does not heal it again \(retryAfterEscalation: off\)/);
});

test('maxHeals caps heals per window; repeats back off', async (t) => {
  const flaky = checkConfig('flaky', { heal: restart, cooldownMs: 0, maxHeals: { count: 3, windowMs: 900_000 } });
  const engine = createEngine(t, [flaky], { backoffBaseMs: 5 });
  const probe = engine.probe('flaky');
  probe.onRestart = () => ({ ok: true, message: 'restarted but it will die again' });
  probe.fail('exited with code 1');
  for (let i = 0; i < 8; i++) {
    await engine.patrolOnce();
    engine.clock.advance(1_000);
  }
  assert.equal(probe.restarts, 3);
  const attempts = engine.events.ofType('heal.attempted').map((e) => e.context.delayMs);
  assert.deepEqual(attempts, [0, 5, 10], 'the first heal is immediate, repeats back off');
  assert.equal(engine.actions.forTarget('flaky').filter((a) => a.category === 'escalate').length, 1);
  assert.match(engine.alerts.find((a) => /needs you/.test(a.title))!.title, /healed 3 times within 15 min \(maxHeals 3\)/);
});

test('a heal that held resets the cooldown: the next failure is healed at once again', async (t) => {
  const svc = checkConfig('svc', { heal: restart, intervalMs: 10_000, cooldownMs: 300_000 });
  const engine = createEngine(t, [svc]);
  const probe = engine.probe('svc');
  probe.fail();
  await engine.patrolOnce();
  await engine.patrolOnce();
  engine.clock.advance(10_000);
  await engine.patrolOnce();
  assert.equal(engine.events.ofType('heal.held').length, 1);
  engine.clock.advance(20_000);
  probe.fail();
  await engine.patrolOnce();
  assert.equal(probe.restarts, 2);
  assert.equal(engine.actions.forTarget('svc').filter((a) => a.category === 'escalate').length, 0);
});

test('a restart loop reported by the check escalates without another restart', async (t) => {
  const app = checkConfig('pm2-app', { heal: restart });
  const engine = createEngine(t, [app]);
  engine.probe('pm2-app').fail('restart loop: 9 restarts in 10m', { restartLoop: true, restarts: 9 });
  await engine.patrolOnce();
  await engine.patrolOnce();
  assert.equal(engine.probe('pm2-app').restarts, 0);
  assert.equal(engine.alerts.filter((a) => /needs you: restart loop/.test(a.title)).length, 1);
});

test('a flapping check alerts once, then stays quiet until it is stable', async (t) => {
  const flap = checkConfig('flap');
  const engine = createEngine(t, [flap]);
  const probe = engine.probe('flap');
  for (let i = 0; i < 12; i++) {
    if (i % 2 === 0) probe.fail('timeout');
    else probe.recover();
    await engine.patrolOnce();
    engine.clock.advance(5_000);
  }
  const flappingAlerts = engine.alerts.filter((a) => /is flapping/.test(a.title));
  assert.equal(flappingAlerts.length, 1);
  // The engine is the bot's own, diagnoser included: its one-time analysis question may come meanwhile; no alert may.
  const afterFlapping = engine.alerts.slice(engine.alerts.indexOf(flappingAlerts[0]!) + 1).filter((m) => m.question === undefined);
  assert.deepEqual(afterFlapping, [], 'no failing/recovered alerts while flapping');
  assert.equal(engine.checkState.get('flap')!.flapping, true);
  probe.recover();
  engine.clock.advance(601_000);
  await engine.patrolOnce();
  assert.match(engine.alerts.at(-1)!.title, /flap is stable again \(ok\)/);
});

test('failAfter: an incident opens only after that many consecutive failures', async (t) => {
  const net = checkConfig('net', { failAfter: 3 });
  const engine = createEngine(t, [net]);
  engine.probe('net').fail('timed out after 5s');
  await engine.patrolOnce();
  await engine.patrolOnce();
  assert.equal(engine.incidents.openFor('net'), undefined);
  await engine.patrolOnce();
  assert.equal(engine.incidents.openFor('net')!.failures, 3);
  assert.equal(engine.alerts.length, 1);
  assert.equal(existsSync(join(engine.dataDir, 'escalations')), false, 'no heal configured: alert only, no escalation');
});
