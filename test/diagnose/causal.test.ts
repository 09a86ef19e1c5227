import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { CheckConfig } from '../../src/config/schema.js';
import { analyzeCausality } from '../../src/diagnose/causal.js';
import type { CausalAnalysis, CausalChain } from '../../src/diagnose/types.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { checkConfig } from '../helpers/check-config.js';
import { tempDir } from '../helpers/temp.js';

const SECOND = 1_000;
const MINUTE = 60_000;
/** 2025-03-04 at hh:mm:ss UTC. */
const at = (hh: number, mm: number, ss = 0) => Date.UTC(2025, 2, 4, hh, mm, ss);

/** The stack from the issue: api-1 and api-2 need db, the queue needs api-1, the worker's log watches the queue's consumer. */
const STACK: CheckConfig[] = [
  checkConfig('db', { kind: 'process' }),
  checkConfig('api-1', { kind: 'http', dependsOn: ['db'] }),
  checkConfig('api-2', { kind: 'http', dependsOn: ['db'] }),
  checkConfig('queue', { kind: 'command', dependsOn: ['api-1'] }),
  checkConfig('worker-log', { kind: 'log', dependsOn: ['queue'] }),
  checkConfig('disk-data', { kind: 'disk' }),
];

/**
 * A real database and the patrol's way of writing runs: one check.failed row
 * per failed run (with the kind's evidence and the consecutive count) and one
 * check.recovered row when a failing check passes again.
 */
function eventLog(t: TestContext) {
  const db = openDatabase(join(tempDir(t), 'nightshift.db'));
  t.after(() => db.close());
  const events = new EventLog(db);
  const kinds = new Map(STACK.map((c) => [c.name, c.kind as string]));
  const failingSince = new Map<string, number>();
  const consecutive = new Map<string, number>();

  const evidence: Record<string, (n: number) => Record<string, unknown> & { message: string }> = {
    process: (n) => ({
      message: `exited with code 1 after ${n === 1 ? '4h 2m' : `${2 + (n % 3)}s`}`,
      pid: 4100 + n,
      exitCode: 1,
      signal: null,
      uptimeMs: 2000,
      stderrTail: 'FATAL:  could not connect to server: Connection refused',
    }),
    http: (n) => ({
      message: `HTTP 502 after ${3 + (n % 7)} ms (expected 200-299)`,
      httpStatus: 502,
      latencyMs: 3 + (n % 7),
      bytes: 42,
      url: 'http://127.0.0.1:8080/health',
      bodySnippet: 'upstream database unavailable',
    }),
    command: () => ({ message: 'timed out after 5s', timedOut: true, timeoutMs: 5000 }),
    log: (n) => ({
      message: `error spike: ${40 + n} errors in the last 5m (max 10)`,
      path: '/var/log/worker.log',
      errorsInWindow: 40 + n,
      sampleErrors: ['ERROR consume: queue unreachable'],
    }),
    disk: (n) => ({ message: `/data ${91 + (n % 5)}% full (max 90%), 1.${n % 9} GiB free`, path: '/data', usedPercent: 91 + (n % 5) }),
  };

  return {
    db,
    events,
    /** One failed run of `check` at `when`, with what its kind would record (or `message`). */
    fail(check: string, when: number, message?: string, kind = kinds.get(check) ?? 'command'): void {
      const n = (consecutive.get(check) ?? 0) + 1;
      consecutive.set(check, n);
      if (n === 1) failingSince.set(check, when);
      const details = evidence[kind]?.(n) ?? { message: 'failed' };
      events.append(when, 'check.failed', check, 'critical', {
        ...details,
        kind,
        message: message ?? details.message,
        durationMs: 12.5,
        consecutiveFailures: n,
      });
    },
    /** Failed runs every `everyMs` from `start` while before or at `end`; returns how many. */
    failEvery(check: string, start: number, end: number, everyMs: number): number {
      let runs = 0;
      for (let when = start; when <= end; when += everyMs, runs++) this.fail(check, when);
      return runs;
    },
    /** The run that passes again. */
    recover(check: string, when: number): void {
      const since = failingSince.get(check);
      consecutive.set(check, 0);
      events.append(when, 'check.recovered', check, 'info', {
        kind: kinds.get(check) ?? 'command',
        message: 'ok',
        downForMs: since === undefined ? null : when - since,
      });
    },
  };
}

/** Interleaves the events of several writers in time order, as the patrol would have written them. */
function inTimeOrder(steps: Array<[number, () => void]>): void {
  for (const [, step] of [...steps].sort((a, b) => a[0] - b[0])) step();
}

/** Every failure event is explained by exactly one chain or listed as unexplained. */
function assertAccounted(analysis: CausalAnalysis): void {
  const explained = analysis.chains.reduce((sum, c) => sum + c.explainedFailures, 0);
  const unexplained = analysis.unexplained.reduce((sum, n) => sum + n.failures, 0);
  assert.equal(explained + unexplained, analysis.totalFailures, 'every failure event is accounted for once');
  for (const chain of analysis.chains) {
    const nodes = [chain.root, ...chain.effects, ...chain.cascade, ...chain.symptoms];
    assert.equal(
      nodes.reduce((sum, n) => sum + n.failures, 0),
      chain.explainedFailures,
    );
  }
}

const names = (nodes: CausalChain['effects']) => nodes.map((n) => n.check);

/**
 * The cascade from the issue, as runs every 30 s (db, APIs) and every minute (queue, log):
 * db's process dies at 03:12 → api-1 and api-2 answer 502 → the queue check stalls → the worker's log spikes.
 * Returns the failed-run counts per check.
 */
function databaseCascade(log: ReturnType<typeof eventLog>, offset = 0): Record<string, number> {
  const counts: Record<string, number> = {};
  const steps: Array<[number, () => void]> = [];
  const every = (check: string, start: number, end: number, everyMs: number, recoverAt: number) => {
    counts[check] = 0;
    for (let when = start; when <= end; when += everyMs) {
      const w = when;
      counts[check]++;
      steps.push([w, () => log.fail(check, w)]);
    }
    steps.push([recoverAt, () => log.recover(check, recoverAt)]);
  };
  every('db', at(3, 12) + offset, at(3, 25) + offset, 30 * SECOND, at(3, 25, 30) + offset);
  every('api-1', at(3, 12, 20) + offset, at(3, 25, 20) + offset, 30 * SECOND, at(3, 25, 50) + offset);
  every('api-2', at(3, 12, 40) + offset, at(3, 25, 10) + offset, 30 * SECOND, at(3, 25, 40) + offset);
  every('queue', at(3, 14) + offset, at(3, 26) + offset, MINUTE, at(3, 27) + offset);
  every('worker-log', at(3, 15) + offset, at(3, 28) + offset, MINUTE, at(3, 29) + offset);
  // What else the bot writes meanwhile: incidents, a heal, a cron ping. None of it is evidence of failure.
  steps.push([
    at(3, 12) + offset,
    () =>
      log.events.append(at(3, 12) + offset, 'incident.opened', 'db', 'critical', {
        incidentId: 1,
        message: 'exited with code 1',
        symptomOf: null,
        rootIncidentId: null,
      }),
  ]);
  steps.push([
    at(3, 12, 5) + offset,
    () => log.events.append(at(3, 12, 5) + offset, 'heal.attempted', 'db', 'info', { incidentId: 1, steps: ['restart'], delayMs: 0, attempt: 1 }),
  ]);
  steps.push([at(3, 20) + offset, () => log.events.append(at(3, 20) + offset, 'heartbeat.received', 'nightly-backup', 'debug', { kind: 'ping' })]);
  inTimeOrder(steps);
  return counts;
}

test('db dies, both APIs answer 502, the queue stalls, the worker log spikes: db is the root, the rest effects, cascade and symptom', (t) => {
  const log = eventLog(t);
  const counts = databaseCascade(log);
  const analysis = analyzeCausality(log.db, STACK, { from: at(3, 0), to: at(4, 0) });

  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  assert.equal(analysis.totalFailures, total);
  assert.equal(analysis.chains.length, 1);
  const [chain] = analysis.chains as [CausalChain];
  assert.equal(chain.root.check, 'db');
  assert.equal(chain.root.kind, 'process');
  assert.equal(chain.root.failures, counts.db);
  assert.equal(chain.root.firstSeen, at(3, 12));
  assert.equal(chain.root.lastSeen, at(3, 25));
  assert.equal(chain.root.signature, 'exited with code 1 after <duration>');
  assert.match(chain.root.sampleMessage, /^exited with code 1 after /);
  assert.deepEqual(names(chain.effects), ['api-1', 'api-2']);
  assert.deepEqual(names(chain.cascade), ['queue']);
  assert.deepEqual(names(chain.symptoms), ['worker-log']);
  const api2 = chain.effects[1]!;
  assert.equal(api2.failures, counts['api-2']);
  assert.equal(api2.firstSeen, at(3, 12, 40));
  assert.equal(api2.lastSeen, at(3, 25, 10));
  assert.equal(api2.signature, 'HTTP 502 after <duration> (expected <n>-<n>)');
  assert.equal(chain.cascade[0]!.signature, 'timed out after <duration>');
  assert.equal(chain.symptoms[0]!.failures, counts['worker-log']);
  // The evidence each kind kept: a log's sample errors, an HTTP body, a process's stderr.
  assert.deepEqual(chain.symptoms[0]!.evidence, { line: 'ERROR consume: queue unreachable', from: 'log' });
  assert.deepEqual(chain.root.evidence, { line: 'FATAL: could not connect to server: Connection refused', from: 'stderr' });
  assert.equal(chain.explainedFailures, total);
  assert.deepEqual(analysis.unexplained, []);
  assertAccounted(analysis);

  assert.match(
    chain.summary,
    /^db failed at 03:12:00 UTC \(exited with code 1 after 4h 2m; stderr: FATAL: could not connect to server: Connection refused\); 27 failed runs until 03:25:00 UTC\./,
  );
  assert.match(chain.summary, /Within 40s api-1 and api-2 failed \(HTTP 502/);
  assert.match(chain.summary, /Then queue failed \(timed out after 5s\)/);
  assert.match(chain.summary, /worker-log \(error spike: .*\) is a symptom, not a cause/);
  assert.match(chain.summary, new RegExp(`This chain explains ${total} of ${total} failure events\\.$`));
  assert.match(
    analysis.summary,
    new RegExp(
      `^One root cause: db, which explains ${total} of ${total} failure events \\(api-1, api-2 and queue failed after it; worker-log is a symptom\\)\\.$`,
    ),
  );
});

test('two independent problems: the database chain outranks a disk that failed more often on its own', (t) => {
  const log = eventLog(t);
  const counts = databaseCascade(log);
  // The data disk fills at 05:00 and stays full: more failed runs than db had, but it explains nothing else.
  const diskRuns = log.failEvery('disk-data', at(5, 0), at(5, 0) + 39 * 20 * SECOND, 20 * SECOND);
  assert.ok(diskRuns > counts.db!, 'the disk failed more often than the database itself');

  const analysis = analyzeCausality(log.db, STACK, { from: at(0, 0), to: at(23, 59) });
  assert.deepEqual(
    analysis.chains.map((c) => c.root.check),
    ['db', 'disk-data'],
  );
  const [db, disk] = analysis.chains as [CausalChain, CausalChain];
  assert.ok(disk.root.failures > db.root.failures);
  assert.ok(db.explainedFailures > disk.explainedFailures);
  assert.equal(disk.explainedFailures, diskRuns);
  assert.deepEqual([disk.effects, disk.cascade, disk.symptoms], [[], [], []]);
  assert.equal(disk.root.signature, '/data <n>% full (max <n>%), <size> free');
  assert.match(
    disk.summary,
    /No dependency of disk-data was failing when it failed \(it has none configured\): the cause is inside disk-data or outside what Nightshift watches\./,
  );
  assert.match(analysis.summary, /^Two independent problems, ranked by how many of the \d+ failure events each explains: db \(\d+\), disk-data \(40\)\./);
  assert.match(analysis.summary, /Nothing Nightshift watches explains disk-data/);
  assert.doesNotMatch(analysis.summary, /share a cause/, 'they failed hours apart: no hint of a shared cause');
  assertAccounted(analysis);
});

test('a dependent that fails a minute before its dependency is its own root: the log shows db was healthy then', (t) => {
  const log = eventLog(t);
  // api-1 answers 500 at 03:00; db's process dies only at 03:01 and api-2 follows it at 03:01:10.
  inTimeOrder([
    [at(3, 0), () => log.failEvery('api-1', at(3, 0), at(3, 5), 30 * SECOND)],
    [at(3, 1), () => log.failEvery('db', at(3, 1), at(3, 5), 30 * SECOND)],
    [at(3, 1, 10), () => log.failEvery('api-2', at(3, 1, 10), at(3, 5), 30 * SECOND)],
  ]);
  const analysis = analyzeCausality(log.db, STACK, { from: at(3, 0), to: at(3, 30) });

  // Time order decides: when api-1 started failing its only dependency was fine, so db cannot have caused it.
  assert.deepEqual(
    analysis.chains.map((c) => [c.root.check, names(c.effects)]),
    [
      ['db', ['api-2']],
      ['api-1', []],
    ],
  );
  const api1 = analysis.chains[1]!;
  assert.match(api1.summary, /No dependency of api-1 was failing when it failed \(db was fine\)/);
  // The honest caveat: db's check may just have noticed later.
  assert.match(
    api1.summary,
    /Its dependency db began failing 1m after it, too late to have caused it by the log's order; if db's check runs less often than api-1's, db may have failed first\./,
  );
  assertAccounted(analysis);
});

test('a dependency failing a few seconds after its dependent (one patrol, any order) is still its cause', (t) => {
  const log = eventLog(t);
  // One patrol: api-1's run finished 4 s before db's.
  inTimeOrder([
    [at(3, 0, 0), () => log.failEvery('api-1', at(3, 0, 0), at(3, 3), 10 * SECOND)],
    [at(3, 0, 4), () => log.failEvery('db', at(3, 0, 4), at(3, 3), 10 * SECOND)],
  ]);
  const analysis = analyzeCausality(log.db, STACK, { from: at(3, 0), to: at(3, 30) });
  assert.equal(analysis.chains.length, 1);
  assert.equal(analysis.chains[0]!.root.check, 'db');
  assert.deepEqual(names(analysis.chains[0]!.effects), ['api-1']);
  assert.match(analysis.chains[0]!.summary, /At the same time api-1 failed/);
  assertAccounted(analysis);
});

test('a standalone failure: the summary says nothing watched explains it and invents no cause', (t) => {
  const log = eventLog(t);
  // api-1 breaks on its own (a bad deploy?): db keeps passing, so it writes nothing.
  log.failEvery('api-1', at(9, 30), at(9, 40), MINUTE);
  const analysis = analyzeCausality(log.db, STACK, { from: at(9, 0), to: at(10, 0) });

  assert.equal(analysis.chains.length, 1);
  const chain = analysis.chains[0]!;
  assert.equal(chain.root.check, 'api-1');
  assert.equal(chain.root.failures, 11);
  assert.equal(chain.explainedFailures, 11);
  assert.equal(
    chain.summary,
    'api-1 failed at 09:30:00 UTC (HTTP 502 after 4 ms (expected 200-299)); 11 failed runs until 09:40:00 UTC. ' +
      'No dependency of api-1 was failing when it failed (db was fine): the cause is inside api-1 or outside what Nightshift watches. ' +
      'This accounts for 11 of 11 failure events.',
  );
  assert.equal(
    analysis.summary,
    'One root cause: api-1, which explains 11 of 11 failure events. Nothing Nightshift watches explains api-1: no dependency was failing when it failed.',
  );
  assert.doesNotMatch(chain.summary + analysis.summary, /\bdb (failed|caused)/);
});

test('an empty window gives a clear "no failures" analysis', (t) => {
  const log = eventLog(t);
  // A failure and its recovery before the window, a heartbeat inside it: nothing failed in the window.
  log.fail('db', at(1, 0));
  log.recover('db', at(1, 1));
  log.events.append(at(2, 30), 'heartbeat.received', 'nightly-backup', 'debug', { kind: 'ping' });
  const analysis = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(3, 0) });
  assert.deepEqual(analysis, {
    from: at(2, 0),
    to: at(3, 0),
    totalFailures: 0,
    chains: [],
    unexplained: [],
    clusters: [],
    summary: 'No check failed between 02:00:00 UTC and 03:00:00 UTC: there is nothing to explain.',
  });
  // A window across days names the dates.
  assert.equal(
    analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(2, 0) + 86_400_000 }).summary,
    'No check failed between 2025-03-04 02:00:00 UTC and 2025-03-05 02:00:00 UTC: there is nothing to explain.',
  );
});

test('a root that recovers and fails again forms two stretches but one chain, its counts and times spanning both', (t) => {
  const log = eventLog(t);
  inTimeOrder([
    [at(3, 0), () => log.failEvery('db', at(3, 0), at(3, 5), MINUTE)],
    [at(3, 0, 30), () => log.failEvery('api-1', at(3, 0, 30), at(3, 5, 30), MINUTE)],
    [at(3, 6), () => log.recover('db', at(3, 6))],
    [at(3, 6, 30), () => log.recover('api-1', at(3, 6, 30))],
    [at(4, 0), () => log.failEvery('db', at(4, 0), at(4, 2), MINUTE)],
    [at(4, 1), () => log.failEvery('api-1', at(4, 1), at(4, 3), MINUTE)],
    [at(4, 10), () => log.recover('db', at(4, 10))],
    [at(4, 10, 30), () => log.recover('api-1', at(4, 10, 30))],
  ]);
  const analysis = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(5, 0) });
  assert.equal(analysis.chains.length, 1);
  const chain = analysis.chains[0]!;
  assert.equal(chain.root.check, 'db');
  assert.equal(chain.root.failures, 6 + 3);
  assert.equal(chain.root.firstSeen, at(3, 0));
  assert.equal(chain.root.lastSeen, at(4, 2));
  assert.deepEqual(names(chain.effects), ['api-1']);
  assert.equal(chain.effects[0]!.failures, 6 + 3);
  assert.equal(chain.effects[0]!.lastSeen, at(4, 3));
  assert.equal(chain.explainedFailures, 18);
  assert.match(chain.summary, /^db failed at 03:00:00 UTC .*; 9 failed runs until 04:02:00 UTC in 2 separate stretches\./);
  assert.match(chain.summary, /Within 1m api-1 failed/);
  assertAccounted(analysis);
});

test('a dependency already failing when the window begins still explains a dependent failing inside it', (t) => {
  const log = eventLog(t);
  log.failEvery('db', at(2, 50), at(3, 10), MINUTE);
  log.failEvery('api-1', at(3, 2), at(3, 10), MINUTE);
  // The disk was failing before the window too, but nothing ran it since: no failure to explain, no chain.
  log.fail('disk-data', at(2, 40));
  const analysis = analyzeCausality(log.db, STACK, { from: at(3, 0), to: at(4, 0) });
  assert.equal(analysis.chains.length, 1);
  const chain = analysis.chains[0]!;
  assert.equal(chain.root.check, 'db');
  assert.equal(chain.root.failures, 11, 'only the failed runs inside the window are counted');
  assert.equal(chain.root.firstSeen, at(3, 0));
  assert.deepEqual(names(chain.effects), ['api-1']);
  assert.match(chain.summary, /already failing when the window began \(since 02:50:00 UTC\)/);
  assert.equal(analysis.totalFailures, 11 + 9);
  assertAccounted(analysis);
});

test('a dependent that breaks long after its dependency began failing stays in the chain, called later', (t) => {
  const log = eventLog(t);
  inTimeOrder([
    [at(3, 0), () => log.failEvery('db', at(3, 0), at(4, 0), MINUTE)],
    [at(3, 0, 30), () => log.failEvery('api-1', at(3, 0, 30), at(4, 0, 30), MINUTE)],
    // api-2 serves from its cache for 40 minutes, then fails too.
    [at(3, 40, 10), () => log.failEvery('api-2', at(3, 40, 10), at(4, 0, 10), MINUTE)],
  ]);
  const analysis = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(5, 0) });
  assert.equal(analysis.chains.length, 1);
  const chain = analysis.chains[0]!;
  assert.deepEqual(names(chain.effects), ['api-1', 'api-2']);
  assert.match(chain.summary, /Within 30s api-1 failed/);
  assert.match(chain.summary, /Later, more than 5m after their dependency began failing but while it still was: api-2 \(40m 10s after\)\./);
  assertAccounted(analysis);
});

test('a dependent failing soon after a short outage of its dependency that has already recovered is its effect', (t) => {
  const log = eventLog(t);
  // db blips for 30 s; api-1's connection pool does not come back and it fails from 03:02 on.
  log.failEvery('db', at(3, 0), at(3, 0, 30), 10 * SECOND);
  log.recover('db', at(3, 0, 40));
  log.failEvery('api-1', at(3, 2), at(3, 10), MINUTE);
  const analysis = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(5, 0) });
  assert.deepEqual(
    analysis.chains.map((c) => [c.root.check, names(c.effects)]),
    [['db', ['api-1']]],
  );
  assert.match(
    analysis.chains[0]!.summary,
    /^db failed at 03:00:00 UTC \(exited with code 1 after 4h 2m; stderr: FATAL: [^)]*\); 4 failed runs within that minute\./,
  );
  assert.match(analysis.chains[0]!.summary, /api-1 began failing after db had already recovered, within 5m of its failure\./);
  // With a window shorter than the gap, api-1 is its own root.
  const strict = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(5, 0), effectWindowMs: MINUTE });
  assert.deepEqual(
    strict.chains.map((c) => c.root.check),
    ['api-1', 'db'],
  );
  assertAccounted(strict);
});

test('two checks failing together with nothing failing upstream: a possible shared cause, not an invented one', (t) => {
  const log = eventLog(t);
  inTimeOrder([
    [at(3, 0, 0), () => log.failEvery('api-1', at(3, 0, 0), at(3, 4), MINUTE)],
    [at(3, 0, 5), () => log.failEvery('api-2', at(3, 0, 5), at(3, 4, 5), MINUTE)],
  ]);
  const analysis = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(5, 0) });
  assert.deepEqual(
    analysis.chains.map((c) => c.root.check),
    ['api-1', 'api-2'],
  );
  assert.match(
    analysis.summary,
    /2 checks failed together with "HTTP 502 after 4 ms \(expected 200-299\)" \(api-1 and api-2\), within 15s of each other, with nothing they depend on failing: they may share a cause Nightshift does not watch\./,
  );
  assert.doesNotMatch(analysis.summary, /\bdb\b/, 'db was healthy: it is not blamed');
});

test('restricting to one check keeps only the chains it is part of', (t) => {
  const log = eventLog(t);
  databaseCascade(log);
  log.failEvery('disk-data', at(5, 0), at(5, 10), MINUTE);
  const forQueue = analyzeCausality(log.db, STACK, { from: at(0, 0), to: at(23, 0), check: 'queue' });
  assert.deepEqual(
    forQueue.chains.map((c) => c.root.check),
    ['db'],
  );
  assert.match(forQueue.summary, /^Chains involving queue: One root cause: db/);
  const forDisk = analyzeCausality(log.db, STACK, { from: at(0, 0), to: at(23, 0), check: 'disk-data' });
  assert.deepEqual(
    forDisk.chains.map((c) => c.root.check),
    ['disk-data'],
  );
  assert.equal(forDisk.totalFailures, forQueue.totalFailures, 'the total still counts every check');
  const forHealthy = analyzeCausality(log.db, [...STACK, checkConfig('cache', { kind: 'tcp' })], { from: at(0, 0), to: at(23, 0), check: 'cache' });
  assert.deepEqual(forHealthy.chains, []);
  assert.match(
    forHealthy.summary,
    /^cache did not fail between 00:00:00 UTC and 23:00:00 UTC, and no chain involves it \(118 failure events of other checks\)\.$/,
  );
});

test('failures of a check that is no longer configured are left unexplained, not attributed', (t) => {
  const log = eventLog(t);
  log.failEvery('db', at(3, 0), at(3, 3), MINUTE);
  // old-worker was removed from the configuration: its dependencies are unknown.
  log.fail('old-worker', at(3, 1), 'errored (restarts 12)', 'pm2');
  log.fail('old-worker', at(3, 2), 'errored (restarts 13)', 'pm2');
  const analysis = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(4, 0) });
  assert.deepEqual(
    analysis.chains.map((c) => c.root.check),
    ['db'],
  );
  assert.equal(analysis.unexplained.length, 1);
  const [orphan] = analysis.unexplained;
  assert.deepEqual(
    { ...orphan, sampleMessage: undefined },
    {
      check: 'old-worker',
      kind: 'pm2',
      failures: 2,
      firstSeen: at(3, 1),
      lastSeen: at(3, 2),
      signature: 'errored (restarts <n>)',
      evidence: null,
      sampleMessage: undefined,
    },
  );
  assert.match(analysis.summary, /2 failure events are left unexplained: old-worker is not in the configuration, so its dependencies are unknown\./);
  assertAccounted(analysis);
});

test('sample messages are redacted: a token in an error never reaches the diagnosis', (t) => {
  const log = eventLog(t);
  log.fail('api-1', at(3, 0), 'HTTP 401 after 3 ms: rejected Authorization: Bearer sk-ant-abcdefghijklmnopqrstuvwxyz012345');
  const analysis = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(4, 0) });
  const text = JSON.stringify(analysis);
  assert.doesNotMatch(text, /abcdefghijklmnopqrstuvwxyz/);
  assert.match(analysis.chains[0]!.root.sampleMessage, /^HTTP 401 after 3 ms: rejected Authorization: Bearer \[redacted/);
});

test('checks that depend on each other in a cycle are left unexplained rather than given an arbitrary root', (t) => {
  const log = eventLog(t);
  // The config refuses cycles; the analysis still terminates and says so if handed one.
  const cyclic = [checkConfig('left', { kind: 'tcp', dependsOn: ['right'] }), checkConfig('right', { kind: 'tcp', dependsOn: ['left'] })];
  log.fail('left', at(3, 0, 0), 'connect ECONNREFUSED 127.0.0.1:7001', 'tcp');
  log.fail('right', at(3, 0, 2), 'connect ECONNREFUSED 127.0.0.1:7002', 'tcp');
  const analysis = analyzeCausality(log.db, cyclic, { from: at(2, 0), to: at(4, 0) });
  assert.deepEqual(analysis.chains, []);
  assert.deepEqual(
    analysis.unexplained.map((n) => [n.check, n.failures, n.signature]),
    [
      ['left', 1, 'connect ECONNREFUSED <ip>:<n>'],
      ['right', 1, 'connect ECONNREFUSED <ip>:<n>'],
    ],
  );
  assert.equal(analysis.summary, '2 failure events are left unexplained: left and right depend on each other in a cycle, so no root can be named.');
  assertAccounted(analysis);
});

test('with the index the per-check queries want, the analysis is the same, only faster', (t) => {
  const log = eventLog(t);
  databaseCascade(log);
  log.failEvery('disk-data', at(5, 0), at(5, 10), MINUTE);
  const after = analyzeCausality(log.db, STACK, { from: at(0, 0), to: at(23, 0) });
  // Without migration 0006's index the query plan differs; the result must not.
  log.db.exec('DROP INDEX events_type_subject_at');
  const before = analyzeCausality(log.db, STACK, { from: at(0, 0), to: at(23, 0) });
  assert.deepEqual(after, before);
  assert.equal(after.chains.length, 2);
});

test('a root that began one way and went on failing another is quoted by what it mostly did, and how it began is said', (t) => {
  const log = eventLog(t);
  log.fail('db', at(3, 0), 'killed by SIGKILL after 39s');
  for (let s = 10; s <= 120; s += 10) log.fail('db', at(3, 0, 0) + s * 1000, 'exited with code 1 after 111ms, inside its 2s start grace');
  const [chain] = analyzeCausality(log.db, STACK, { from: at(2, 0), to: at(4, 0) }).chains;
  assert.equal(chain?.root.sampleMessage, 'exited with code 1 after 111ms, inside its 2s start grace');
  assert.equal(chain.root.beganWith, 'killed by SIGKILL after 39s');
  assert.match(
    chain.summary,
    /^db failed at 03:00:00 UTC \(first killed by SIGKILL after 39s, then mostly: exited with code 1 after 111ms, inside its 2s start grace; stderr: FATAL: /,
  );
});
