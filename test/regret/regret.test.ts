import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActionStore } from '../../src/store/actions.js';
import { checkConfig } from '../helpers/check-config.js';
import { createEngine } from '../helpers/engine.js';

const restart = [{ action: 'restart' as const, params: {} }];

/** Who scores in these tests. */
const TESTER = { channel: 'test', userId: 'test' };

test('scoring: a heal that holds for 3 patrols is +1; one whose failure comes back within the cooldown is -1; an escalation is -2', async (t) => {
  // maxHeals 2 per 15 min: the second restart that does not hold reaches the cap, and the escalation is scored too.
  const engine = createEngine(t, [checkConfig('svc', { heal: restart, cooldownMs: 300_000, maxHeals: { count: 2, windowMs: 900_000 } })], {
    backoffBaseMs: 5,
  });
  const probe = engine.probe('svc');
  probe.fail('exit 1');
  await engine.patrolOnce();
  for (let i = 0; i < 3; i++) {
    engine.clock.advance(10_000);
    await engine.patrolOnce();
  }
  const [first] = engine.actions.forTarget('svc');
  assert.equal(first!.category, 'restart');
  assert.equal(engine.db.prepare('SELECT score FROM actions WHERE id = ?').pluck().get(first!.id), 1);

  engine.clock.advance(600_000);
  probe.onRestart = () => ({ ok: true, message: 'restarted, dies again' });
  probe.fail('exit 1');
  await engine.patrolOnce();
  engine.clock.advance(5_000);
  await engine.patrolOnce();
  await engine.patrolOnce();
  const scores = engine.db.prepare('SELECT category, score FROM actions ORDER BY id').all();
  assert.deepEqual(scores, [
    { category: 'restart', score: 1 },
    { category: 'restart', score: -1 },
    { category: 'escalate', score: -2 },
  ]);
  assert.deepEqual(engine.regret.override(2, 0, 'my fault, I was deploying', { channel: 'telegram', userId: 'alice' }), {
    kind: 'scored',
    action: { id: 2, category: 'restart', target: 'svc' },
    score: 0,
  });
  assert.equal(engine.db.prepare('SELECT score_note FROM actions WHERE id = 2').pluck().get(), 'set by alice on telegram: my fault, I was deploying');
});

test('flags at exactly the thresholds: category average below -0.4 (not at it), an action at its third score of -1 or worse', (t) => {
  const engine = createEngine(t, [checkConfig('a', { heal: restart }), checkConfig('b', { heal: restart })]);
  const actions = new ActionStore(engine.db);
  const act = (target: string) =>
    actions.record({ at: engine.clock.now(), category: 'restart', target, trigger: 'test', incidentId: null, result: 'ok', message: 'x', details: {} });
  const flags = () => engine.db.prepare('SELECT kind, category, target FROM flags WHERE cleared_at IS NULL ORDER BY id').all();
  // -2, 0, 0, 0, 0 averages exactly -0.4: not below it.
  for (const score of [-2, 0, 0, 0, 0]) engine.regret.override(act('b'), score, undefined, TESTER);
  assert.deepEqual(flags(), []);
  engine.regret.override(act('b'), -1, undefined, TESTER);
  assert.deepEqual(flags(), [{ kind: 'category', category: 'restart', target: '' }], '-0.5 is below -0.4');
  engine.db.exec("UPDATE flags SET cleared_at = 1, cleared_by = 'test'");
  engine.clock.advance(1_000);
  // After the clear only new scores count: ten good restarts of b keep the category healthy...
  for (let i = 0; i < 10; i++) engine.regret.override(act('b'), 1, undefined, TESTER);
  // ...while restarting a fails: flagged at the third -1, not the second.
  engine.regret.override(act('a'), -1, undefined, TESTER);
  engine.regret.override(act('a'), -1, undefined, TESTER);
  assert.deepEqual(flags(), []);
  engine.regret.override(act('a'), -1, undefined, TESTER);
  assert.deepEqual(flags(), [{ kind: 'action', category: 'restart', target: 'a' }]);
  assert.ok(engine.alerts.some((m) => /Regret flag #\d+: restart of a keeps making things worse/.test(m.title)));
});

test('a flagged action is skipped and escalated instead; clearing the flag restores healing', async (t) => {
  const engine = createEngine(t, [checkConfig('w', { heal: restart, cooldownMs: 0, maxHeals: { count: 100, windowMs: 900_000 } })]);
  const actions = new ActionStore(engine.db);
  for (let i = 0; i < 3; i++) {
    const id = actions.record({
      at: engine.clock.now(),
      category: 'restart',
      target: 'w',
      trigger: 'test',
      incidentId: null,
      result: 'ok',
      message: 'x',
      details: {},
    });
    engine.regret.override(id, -1, undefined, TESTER);
  }
  const [flag] = engine.db.prepare('SELECT id FROM flags').all() as Array<{ id: number }>;
  engine.probe('w').fail('exit 1');
  await engine.patrolOnce();
  assert.equal(engine.probe('w').restarts, 0, 'the flagged restart was not run');
  const [skipped] = engine.events.ofType('heal.skipped');
  assert.match(skipped!.context.reason, /^regret flag #\d+ on restart of w/);
  assert.equal(skipped!.context.byFlag, true);
  assert.equal(engine.events.ofType('escalated').length, 1);
  assert.equal(engine.regret.clear(flag!.id, { channel: 'console', userId: 'alice' })?.id, flag!.id, 'the flag was cleared');
  assert.equal(engine.events.ofType('regret.cleared').length, 1);
  // The next incident of w is healed again.
  engine.probe('w').recover();
  engine.clock.advance(10_000);
  await engine.patrolOnce();
  engine.probe('w').fail('exit 1');
  engine.clock.advance(10_000);
  await engine.patrolOnce();
  assert.equal(engine.probe('w').restarts, 1);
});
