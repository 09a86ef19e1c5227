import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { CheckResult, Probe } from '../../src/checks/types.js';
import { checkConfig } from '../helpers/check-config.js';
import type { CheckConfig } from '../../src/config/schema.js';
import { Patrol, type RunOutcome } from '../../src/patrol/patrol.js';
import { buildSummary } from '../../src/patrol/summary.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { CheckStateStore } from '../../src/store/check-state.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { systemClock } from '../../src/clock.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const check = checkConfig;

function setup(t: TestContext, checks: CheckConfig[], probes: Record<string, Probe>) {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  const checkState = new CheckStateStore(db);
  const events = new EventLog(db);
  const { logger, lines } = createCapturedLogger(new Redactor());
  const patrol = new Patrol({
    checks,
    probes: new Map(Object.entries(probes)),
    db,
    checkState,
    events,
    clock: systemClock,
    log: logger,
    intervalMs: 60_000,
    concurrency: 4,
  });
  t.after(async () => {
    await patrol.stop();
    db.close();
  });
  return { patrol, checkState, events, lines, db };
}

const healthy: Probe = { run: async () => ({ ok: true, message: 'fine' }) };

test('a hanging check fails with "timed out after 0.3s" and the other checks are not held up', async (t) => {
  let hungSignal: AbortSignal | undefined;
  const hanging: Probe = {
    run: ({ signal }) => {
      hungSignal = signal;
      return new Promise<CheckResult>(() => {});
    },
  };
  const { patrol, checkState } = setup(t, [check('hangs', { timeoutMs: 300 }), check('quick')], { hangs: hanging, quick: healthy });
  patrol.start();
  const quick = await waitFor(() => checkState.get('quick'), { what: 'the quick check to be recorded' });
  assert.equal(quick.status, 'ok');
  assert.equal(checkState.get('hangs'), undefined, 'the quick check finished while the hanging one was still running');
  const hung = await waitFor(() => checkState.get('hangs'), { what: 'the hanging check to time out' });
  assert.equal(hung.status, 'failing');
  assert.equal(hung.lastMessage, 'timed out after 0.3s');
  assert.equal(hungSignal?.aborted, true, 'the probe was told to give up');
});

test('a check that throws or returns garbage is a failed check; the patrol goes on', async (t) => {
  const throwing: Probe = { run: async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })) };
  const garbage: Probe = { run: async () => ({ healthy: 'yes' }) as unknown as CheckResult };
  const { patrol, checkState, events } = setup(t, [check('throws'), check('garbage'), check('fine')], { throws: throwing, garbage, fine: healthy });
  patrol.start();
  await patrol.runAll();
  assert.equal(checkState.get('throws')!.lastMessage, 'connect ECONNREFUSED 127.0.0.1:5432');
  assert.match(checkState.get('garbage')!.lastMessage!, /^check returned an invalid result/);
  assert.equal(checkState.get('fine')!.status, 'ok');
  const failed = events.ofType('check.failed');
  assert.deepEqual(failed.map((e) => e.subject).sort(), ['garbage', 'throws']);
  assert.equal(failed.find((e) => e.subject === 'throws')!.context.errorCode, 'ECONNREFUSED');
});

test('every run leaves evidence; failure and recovery are events and transitions', async (t) => {
  let ok = false;
  const flips: Probe = {
    run: async () => (ok ? { ok: true, message: 'back', details: { latencyMs: 4 } } : { ok: false, message: 'down', details: { status: 503 } }),
  };
  const { patrol, checkState, events } = setup(t, [check('svc', { severity: 'optional' })], { svc: flips });
  const outcomes: RunOutcome[] = [];
  patrol.on('result', (outcome) => outcomes.push(outcome));
  patrol.start();
  await patrol.runAll();
  await patrol.runAll();
  ok = true;
  await patrol.runAll();
  const state = checkState.get('svc')!;
  assert.equal(state.runs, 3);
  assert.equal(state.failures, 2);
  assert.equal(state.status, 'ok');
  assert.ok(state.lastRunAt! > 0 && state.lastOkAt === state.lastRunAt);
  assert.deepEqual(
    outcomes.map((o) => `${o.previousStatus}->${o.state.status}`),
    ['unknown->failing', 'failing->failing', 'failing->ok'],
  );
  assert.equal(typeof outcomes[2]!.downForMs, 'number');
  assert.deepEqual(state.lastDetails, { latencyMs: 4 });
  const failed = events.ofType('check.failed');
  assert.deepEqual(
    failed.map((e) => [e.severity, e.context.consecutiveFailures, e.context.status]),
    [
      ['warning', 1, 503],
      ['warning', 2, 503],
    ],
  );
  const recovered = events.ofType('check.recovered');
  assert.equal(recovered.length, 1);
  assert.equal(typeof recovered[0]!.context.downForMs, 'number');
});

test('the loop wakes on its own and keeps running checks on their interval', async (t) => {
  let runs = 0;
  const counting: Probe = { run: async () => ((runs += 1), { ok: true, message: `run ${runs}` }) };
  const { patrol } = setup(t, [check('fast', { intervalMs: 50 })], { fast: counting });
  patrol.start();
  await waitFor(() => runs >= 3, { what: 'three runs of a 50 ms check' });
  assert.ok(patrol.isAlive());
});

test('the summary: DEGRADED only for a failing critical check, stale after two intervals, DOWN when the loop stalls', () => {
  const checks = [check('crit'), check('opt', { severity: 'optional' }), check('late', { intervalMs: 1_000 })];
  const base = {
    name: '',
    kind: 'memory',
    severity: 'critical' as const,
    consecutiveFailures: 0,
    lastOkAt: null,
    lastChangeAt: null,
    lastDurationMs: 1,
    lastMessage: 'x',
    lastDetails: null,
    runs: 1,
    failures: 0,
    flapping: false,
    mutedUntil: null,
    lastHealAt: null,
    healHeld: false,
    unheldHeals: 0,
  };
  const now = 100_000;
  const states = [
    { ...base, name: 'crit', status: 'ok' as const, lastRunAt: now },
    { ...base, name: 'opt', severity: 'optional' as const, status: 'failing' as const, lastRunAt: now },
    { ...base, name: 'late', status: 'ok' as const, lastRunAt: now - 2_500 },
  ];
  const ok = buildSummary({ now, startedAt: 0, lastPatrolAt: now, patrolAlive: true, checks, states });
  assert.deepEqual([ok.state, ok.failing, ok.stale], ['OK', 1, 1]);
  const degraded = buildSummary({
    now,
    startedAt: 0,
    lastPatrolAt: now,
    patrolAlive: true,
    checks,
    states: [{ ...states[0]!, status: 'failing' }, ...states.slice(1)],
  });
  assert.equal(degraded.state, 'DEGRADED');
  assert.equal(buildSummary({ now, startedAt: 0, lastPatrolAt: 0, patrolAlive: false, checks, states }).state, 'DOWN');
});
