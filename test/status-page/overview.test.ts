import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildOverview, overviewBuilder } from '../../src/status-page/overview.js';
import { CELL_MS, STRIP_CELLS } from '../../src/status-page/strip.js';
import { DiagnosisStore } from '../../src/store/diagnoses.js';
import { OverviewQueries } from '../../src/store/overview-queries.js';
import { checkConfig } from '../helpers/check-config.js';
import { createEngine } from '../helpers/engine.js';

const HOUR = 3_600_000;
const TIMEOUT = { timeout: 20_000 };

/** The strip cell that holds `at` in an overview built at `now` (cells are wall-clock quarter hours, the last one the current). */
function cellOf(at: number, now: number): number {
  const from = Math.floor(now / CELL_MS) * CELL_MS - (STRIP_CELLS - 1) * CELL_MS;
  return Math.floor((at - from) / CELL_MS);
}

test('a failure 3 h ago shows in its quarter hour, healthy cells around it, no data while Nightshift was not running', TIMEOUT, async (t) => {
  const bot = createEngine(t, [checkConfig('api'), checkConfig('worker')]);
  const t0 = bot.clock.now();
  // Nightshift ran from 10 h before until 8 h before (a clean stop), then was down until this run started at t0.
  bot.events.append(t0 - 10 * HOUR, 'instance.started', 'nightshift', 'info', { pid: 1, version: 'test', config: 'test.yml', http: '127.0.0.1:0' });
  bot.events.append(t0 - 8 * HOUR, 'instance.stopped', 'nightshift', 'info', { pid: 1, uptimeMs: 2 * HOUR });
  await bot.patrolOnce();
  bot.clock.advance(HOUR);
  bot.probe('api').fail('HTTP 502 after 31 ms');
  const failedAt = bot.clock.now();
  await bot.patrolOnce();
  bot.clock.advance(5 * 60_000);
  bot.probe('api').recover();
  await bot.patrolOnce();
  bot.clock.advance(3 * HOUR - 5 * 60_000);
  bot.probe('worker').fail('exited with code 3');
  await bot.patrolOnce();
  const now = bot.clock.now();

  const overview = buildOverview(bot.engine, new OverviewQueries(bot.db), now);
  assert.deepEqual(overview.strip, { from: now - (STRIP_CELLS - 1) * CELL_MS - (now % CELL_MS), cellMs: CELL_MS, cells: STRIP_CELLS });
  const api = overview.checks.find((c) => c.name === 'api')!;
  assert.equal(api.strip.length, STRIP_CELLS);
  assert.equal(api.status, 'ok');
  const cell = cellOf(failedAt, now);
  assert.equal(cell, STRIP_CELLS - 1 - 12, 'three hours back: twelve quarter hours before the current one');
  assert.equal(api.strip[cell], 'f', api.strip);
  assert.equal(api.strip[cell - 1], 'o');
  assert.equal(api.strip[cell + 1], 'o', 'it recovered within its quarter hour');
  assert.equal(api.strip.slice(cell + 1), 'o'.repeat(STRIP_CELLS - cell - 1));
  assert.equal(api.strip.split('f').length - 1, 1, 'one failing cell in the day');
  // The earlier run: from 10 h to 8 h before t0, healthy; between its stop and this run's start, nothing is known.
  assert.equal(api.strip[cellOf(t0 - 9 * HOUR, now)], 'o');
  assert.equal(api.strip[cellOf(t0 - 5 * HOUR, now)], '-');
  assert.equal(api.strip[cellOf(t0 - 1 * HOUR, now)], '-');
  assert.equal(api.strip[cellOf(t0 - 12 * HOUR, now)], '-', 'before the first start');
  const worker = overview.checks.find((c) => c.name === 'worker')!;
  assert.equal(worker.status, 'failing');
  assert.equal(worker.strip.at(-1), 'f', 'the check failing now is red in the current cell');
  assert.equal(worker.message, 'exited with code 3');
  assert.equal(overview.summary.failing, 1);
  assert.match(overview.summary.text, /FAIL {2}worker \(memory, critical\): exited with code 3/);
});

test('a check failing since before the window opened is red from its first cell', TIMEOUT, async (t) => {
  const bot = createEngine(t, [checkConfig('db')]);
  bot.probe('db').fail('connect ECONNREFUSED 127.0.0.1:5432');
  await bot.patrolOnce();
  bot.clock.advance(30 * HOUR);
  await bot.patrolOnce();
  const overview = buildOverview(bot.engine, new OverviewQueries(bot.db), bot.clock.now());
  assert.equal(overview.checks[0]!.strip, 'f'.repeat(STRIP_CELLS));
});

test('open incidents carry their root cause and symptoms', TIMEOUT, async (t) => {
  const bot = createEngine(t, [checkConfig('db'), checkConfig('api', { dependsOn: ['db'] }), checkConfig('cache')]);
  bot.probe('db').fail('connect ECONNREFUSED 127.0.0.1:5432');
  bot.probe('api').fail('HTTP 503 after 4 ms');
  bot.probe('cache').fail('no answer');
  await bot.patrolOnce();
  const overview = buildOverview(bot.engine, new OverviewQueries(bot.db), bot.clock.now());
  const db = overview.incidents.find((i) => i.check === 'db')!;
  const api = overview.incidents.find((i) => i.check === 'api')!;
  const cache = overview.incidents.find((i) => i.check === 'cache')!;
  assert.deepEqual(db.rootCause, null);
  assert.deepEqual(db.symptoms, [{ id: api.id, check: 'api' }]);
  assert.deepEqual(api.rootCause, { id: db.id, check: 'db' });
  assert.deepEqual(api.symptoms, []);
  assert.deepEqual(cache.symptoms, []);
  assert.equal(api.message, 'HTTP 503 after 4 ms');
  assert.deepEqual(
    overview.incidents.map((i) => i.check),
    ['db', 'cache', 'api'],
    'root causes first, then symptoms',
  );
  assert.equal(overview.checks.find((c) => c.name === 'api')!.symptomOf, 'db');
});

test('heals of the last 24 h say whether they held', TIMEOUT, async (t) => {
  const heal = { heal: [{ action: 'restart' as const, params: {} }], intervalMs: 60_000 };
  const bot = createEngine(t, [checkConfig('worker', heal), checkConfig('flaky', heal)], { backoffBaseMs: 1 });
  // flaky's restart "works" but the service stays broken: the failure comes back at once.
  bot.probe('flaky').onRestart = () => ({ ok: true, message: 'restarted' });
  bot.probe('worker').fail('exited with code 1');
  bot.probe('flaky').fail('exited with code 2');
  await bot.patrolOnce();
  assert.equal(bot.probe('worker').restarts, 1);
  let overview = buildOverview(bot.engine, new OverviewQueries(bot.db), bot.clock.now());
  assert.deepEqual(
    overview.heals.map((h) => [h.check, h.outcome]).sort(),
    [
      ['flaky', 'watching'],
      ['worker', 'watching'],
    ],
    'too early to say right after the restart',
  );
  // A whole interval later: worker stayed up, flaky failed again.
  bot.clock.advance(61_000);
  await bot.patrolOnce();
  overview = buildOverview(bot.engine, new OverviewQueries(bot.db), bot.clock.now());
  const worker = overview.heals.filter((h) => h.check === 'worker');
  assert.equal(worker.length, 1);
  assert.equal(worker[0]!.outcome, 'held');
  assert.deepEqual(worker[0]!.steps, [{ action: 'restart', result: 'ok', message: 'restarted (1)' }]);
  assert.match(worker[0]!.note ?? '', /healthy 61s after it/);
  const flaky = overview.heals.filter((h) => h.check === 'flaky');
  assert.ok(flaky.length >= 1);
  assert.equal(flaky.at(-1)!.outcome, 'not-held', 'the first restart of flaky did not hold');
  assert.ok(
    overview.heals.every((h, i) => i === 0 || overview.heals[i - 1]!.at >= h.at),
    'newest first',
  );
  assert.ok(
    overview.regret.lines.some((l) => /^restart: \d+ scored, average/.test(l)),
    overview.regret.lines.join('\n'),
  );
  // A day later they are gone from the list.
  bot.clock.advance(25 * HOUR);
  assert.deepEqual(buildOverview(bot.engine, new OverviewQueries(bot.db), bot.clock.now()).heals, []);
});

test('pending questions and proposals are listed without their answer codes; the newest diagnosis is shown', TIMEOUT, async (t) => {
  const bot = createEngine(t, [checkConfig('api')]);
  const question = bot.engine.questions.ask({ kind: 'proposal', subject: 'api', title: 'Apply the proposed fix to api?' });
  const answered = bot.engine.questions.ask({ kind: 'consent', subject: 'auto-repair', title: 'Allow auto-repair?' });
  bot.engine.questions.answer({ questionId: answered.id }, 'no', { channel: 'console', userId: 'console' });
  const diagnoses = new DiagnosisStore(bot.db);
  const id = diagnoses.add({
    at: bot.clock.now(),
    trigger: 'command',
    signature: null,
    subject: 'api',
    analysis: {},
    llm: null,
    llmError: null,
    message: '(on request: /diagnose api)\napi failed at 12:00: HTTP 502',
  });
  diagnoses.addProposal({
    id: 'p7',
    diagnosisId: id,
    kind: 'steps',
    content: { steps: ['restart api'] },
    summary: 'restart api',
    questionId: question.id,
    createdAt: bot.clock.now(),
    expiresAt: bot.clock.now() + HOUR,
    target: null,
    signature: null,
    checked: [],
    unfitReason: null,
  });
  const overview = buildOverview(bot.engine, new OverviewQueries(bot.db), bot.clock.now());
  assert.deepEqual(
    overview.questions.map((q) => [q.id, q.prompt]),
    [[question.id, 'Apply the proposed fix to api?']],
    'only the pending one',
  );
  assert.equal('code' in overview.questions[0]!, false);
  const json = JSON.stringify(overview);
  assert.ok(!json.includes(question.code) && !json.includes(answered.code), 'no answer code anywhere on the page');
  assert.deepEqual(
    overview.proposals.map((p) => [p.id, p.summary, p.diagnosisId]),
    [['p7', 'restart api', id]],
  );
  assert.equal(overview.diagnosis?.id, id);
  assert.match(overview.diagnosis.text, /api failed at 12:00/);
  assert.equal(overview.diagnosis.clipped, false);
  // Expired: off the page.
  bot.clock.advance(2 * HOUR);
  const later = buildOverview(bot.engine, new OverviewQueries(bot.db), bot.clock.now());
  assert.deepEqual(later.proposals, []);
});

test('the builder reads settled cells once per quarter hour and gives the same strips as a fresh read', TIMEOUT, async (t) => {
  const bot = createEngine(t, [checkConfig('api')]);
  const build = overviewBuilder(bot.engine, new OverviewQueries(bot.db), () => bot.clock.now());
  const fresh = () => buildOverview(bot.engine, new OverviewQueries(bot.db), bot.clock.now()).checks[0]!.strip;
  await bot.patrolOnce();
  // Eight rounds of 8 minutes (a failure, a recovery a minute later): past several quarter-hour boundaries.
  for (let round = 0; round < 8; round++) {
    bot.clock.advance(7 * 60_000);
    bot.probe('api').fail('HTTP 502');
    await bot.patrolOnce();
    assert.equal(build().checks[0]!.strip, fresh());
    bot.clock.advance(60_000);
    bot.probe('api').recover();
    await bot.patrolOnce();
    assert.equal(build().checks[0]!.strip, fresh());
  }
  assert.ok(fresh().includes('f'));

  // Within one quarter hour, only the recent cells are read again: one query per build, not two.
  const queries = new OverviewQueries(bot.db);
  let reads = 0;
  const read = queries.transitionBuckets.bind(queries);
  queries.transitionBuckets = (...args) => {
    reads++;
    return read(...args);
  };
  const counted = overviewBuilder(bot.engine, queries, () => bot.clock.now());
  counted();
  assert.equal(reads, 2, 'the first build reads the settled cells and the recent ones');
  counted();
  assert.equal(reads, 3, 'the next build in the same quarter hour reads the recent ones only');
});
