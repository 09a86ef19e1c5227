import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig } from '../helpers/check-config.js';
import { createEngine } from '../helpers/engine.js';

test('DOWN and stale checks are pushed once per transition, and once when they clear; stale is not announced while DOWN', async (t) => {
  const { engine, clock, alerts, patrolOnce } = createEngine(t, [checkConfig('a', { intervalMs: 60_000 }), checkConfig('b', { intervalMs: 10_000 })]);
  // The patrol loop is not started in the helper: its liveness is steered, the summary that reads it is the real one.
  let alive = true;
  engine.patrol.isAlive = () => alive;
  const review = () => engine.statusAlerts.review();
  const titles = () => alerts.map((m) => `${m.severity}${m.kind === 'recovery' ? ' recovery' : ''}: ${m.title}`);

  await patrolOnce();
  review();
  assert.deepEqual(titles(), [], 'all fresh, patrol alive: nothing to say');

  clock.advance(25_000);
  assert.equal(engine.summary().stale, 1);
  review();
  review();
  assert.deepEqual(titles(), ['warning: b is stale: not run within two of its intervals'], 'once, not every tick');
  assert.match(alerts[0]!.body ?? '', /last ran 25s ago/);

  await patrolOnce();
  review();
  review();
  assert.deepEqual(titles().slice(1), ['info recovery: b runs again (no longer stale)']);

  alive = false;
  assert.equal(engine.summary().state, 'DOWN');
  review();
  clock.advance(300_000);
  review();
  review();
  assert.deepEqual(titles().slice(2), ['critical: Nightshift is DOWN: its patrol loop has stalled, checks are not running'], 'one DOWN, no stale flood');

  alive = true;
  review();
  await patrolOnce();
  review();
  assert.deepEqual(titles().slice(3), ['info recovery: Nightshift patrols again: its patrol loop runs (no longer DOWN)']);
  assert.equal(alerts.length, 4);
});
