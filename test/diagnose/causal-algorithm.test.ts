import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findCausalChains, type AlgorithmOptions, type CausalGraph, type CheckStretches, type StretchInput } from '../../src/diagnose/causal/algorithm.js';

const SECOND = 1_000;
const MINUTE = 60_000;
/** 2025-03-04 at hh:mm:ss UTC. */
const at = (hh: number, mm: number, ss = 0) => Date.UTC(2025, 2, 4, hh, mm, ss);
const FROM = at(3, 0);

const OPTIONS: AlgorithmOptions = {
  from: FROM,
  effectWindowMs: 5 * MINUTE,
  simultaneousMs: 15 * SECOND,
  isSymptom: (kind) => kind === 'log-like',
};

/** A stretch of `failures` runs from `start`, recovered at `end` (Infinity: still failing), its last run a second before the end. */
function stretch(start: number, failures: number, end = Infinity): StretchInput {
  const lastFailure = end === Infinity ? start + (failures - 1) * 10 * SECOND : end - SECOND;
  return { start, end, failures, firstFailure: start, lastFailure, carriedFrom: null };
}

function check(name: string, kind: string, dependsOn: string[], stretches: StretchInput[]): CheckStretches {
  return { name, kind, dependsOn, stretches };
}

/** Each chain as root, effects, cascade and symptoms by name, with what it explains: what a reader checks first. */
function shape(graph: CausalGraph) {
  return graph.chains.map((c) => ({
    root: c.info.name,
    effects: c.effects.map((n) => n.info.name),
    cascade: c.cascade.map((n) => n.info.name),
    symptoms: c.symptoms.map((n) => n.info.name),
    explained: c.explainedFailures,
  }));
}

test('a cause that fails first explains its dependents: effects one link away, cascade further, the symptom kind as a symptom', () => {
  const graph = findCausalChains(
    [
      check('db', 'process', [], [stretch(at(3, 10), 30)]),
      check('api', 'http', ['db'], [stretch(at(3, 10, 30), 20)]),
      check('queue', 'command', ['api'], [stretch(at(3, 11), 10)]),
      check('worker-log', 'log-like', ['queue'], [stretch(at(3, 12), 5)]),
    ],
    OPTIONS,
  );
  assert.deepEqual(shape(graph), [{ root: 'db', effects: ['api'], cascade: ['queue'], symptoms: ['worker-log'], explained: 65 }]);
  const api = graph.chains[0]!.downstream.get('api')!;
  assert.equal(api.stretches[0]!.link, 'overlap');
  assert.equal(api.stretches[0]!.delayMs, 30 * SECOND);
  assert.equal(graph.chains[0]!.downstream.get('worker-log')!.depth, 3);
  assert.deepEqual(graph.inCycle, []);
  assert.equal(graph.knownFailures, 65);
});

test('no overlap: a dependent failing long after its dependency recovered is a root of its own, and the bigger problem ranks first', () => {
  const graph = findCausalChains(
    [check('db', 'process', [], [stretch(at(3, 10), 3, at(3, 11))]), check('api', 'http', ['db'], [stretch(at(3, 30), 12)])],
    OPTIONS,
  );
  assert.deepEqual(shape(graph), [
    { root: 'api', effects: [], cascade: [], symptoms: [], explained: 12 },
    { root: 'db', effects: [], cascade: [], symptoms: [], explained: 3 },
  ]);
});

test('a dependency that failed and recovered just before still explains a dependent, through a "recovered" link', () => {
  const graph = findCausalChains(
    [check('db', 'process', [], [stretch(at(3, 10), 2, at(3, 10, 30))]), check('api', 'http', ['db'], [stretch(at(3, 12), 4)])],
    OPTIONS,
  );
  assert.deepEqual(shape(graph), [{ root: 'db', effects: ['api'], cascade: [], symptoms: [], explained: 6 }]);
  assert.equal(graph.chains[0]!.downstream.get('api')!.stretches[0]!.link, 'recovered');
});

test('of two candidate causes, the one still failing wins over the one that recovered, even when the recovered one is nearer in time', () => {
  const graph = findCausalChains(
    [
      check('db', 'process', [], [stretch(at(3, 8), 10)]),
      check('cache', 'tcp', [], [stretch(at(3, 9, 50), 1, at(3, 9, 55))]),
      check('api', 'http', ['db', 'cache'], [stretch(at(3, 10), 5)]),
    ],
    OPTIONS,
  );
  const api = graph.chains.find((c) => c.info.name === 'db')!.downstream.get('api')!;
  assert.equal(api.stretches[0]!.parent!.check.name, 'db');
  assert.deepEqual(
    shape(graph).map((c) => c.root),
    ['db', 'cache'],
  );
});

test('of two candidate causes both failing within the window, the nearest in time explains best', () => {
  const graph = findCausalChains(
    [
      check('db', 'process', [], [stretch(at(3, 6), 10)]),
      check('cache', 'tcp', [], [stretch(at(3, 9), 3)]),
      check('api', 'http', ['db', 'cache'], [stretch(at(3, 10), 5)]),
    ],
    OPTIONS,
  );
  assert.deepEqual(shape(graph), [
    { root: 'db', effects: [], cascade: [], symptoms: [], explained: 10 },
    { root: 'cache', effects: ['api'], cascade: [], symptoms: [], explained: 8 },
  ]);
});

test('a dependent that began failing longer than the window after its still-failing dependency stays in its chain, linked "late"', () => {
  const graph = findCausalChains([check('db', 'process', [], [stretch(at(3, 0), 50)]), check('api', 'http', ['db'], [stretch(at(3, 20), 5)])], OPTIONS);
  assert.deepEqual(shape(graph), [{ root: 'db', effects: ['api'], cascade: [], symptoms: [], explained: 55 }]);
  assert.equal(graph.chains[0]!.downstream.get('api')!.stretches[0]!.link, 'late');
});

test('a symptom kind is never named as the root cause while a dependency explains it, even when its spike is logged a few seconds first', () => {
  const graph = findCausalChains(
    [
      check('worker', 'pm2', [], [stretch(at(3, 10, 10), 8)]),
      // The log check ran first in the same patrol: within simultaneousMs, its order says nothing.
      check('worker-log', 'log-like', ['worker'], [stretch(at(3, 10), 3)]),
    ],
    OPTIONS,
  );
  assert.deepEqual(shape(graph), [{ root: 'worker', effects: [], cascade: [], symptoms: ['worker-log'], explained: 11 }]);
});

test('the role comes from what the kinds declare, not from their names', () => {
  const stack = [check('worker', 'pm2', [], [stretch(at(3, 10), 8)]), check('worker-log', 'log', ['worker'], [stretch(at(3, 10, 20), 3)])];
  const noneDeclared = findCausalChains(stack, { ...OPTIONS, isSymptom: () => false });
  assert.deepEqual(shape(noneDeclared), [{ root: 'worker', effects: ['worker-log'], cascade: [], symptoms: [], explained: 11 }]);
  const logDeclared = findCausalChains(stack, { ...OPTIONS, isSymptom: (kind) => kind === 'log' });
  assert.deepEqual(shape(logDeclared), [{ root: 'worker', effects: [], cascade: [], symptoms: ['worker-log'], explained: 11 }]);
});

test('stretches of checks that depend on each other in a cycle are left unexplained, not attributed', () => {
  const graph = findCausalChains(
    [
      check('a', 'http', ['b'], [stretch(at(3, 10), 4)]),
      check('b', 'http', ['a'], [stretch(at(3, 10, 5), 6)]),
      check('disk', 'disk', [], [stretch(at(3, 20), 2)]),
    ],
    OPTIONS,
  );
  assert.deepEqual(
    shape(graph).map((c) => c.root),
    ['disk'],
  );
  assert.deepEqual(
    graph.inCycle.map((c) => [c.info.name, c.span.failures]),
    [
      ['a', 4],
      ['b', 6],
    ],
  );
});

test('a stretch carried into the window with no failed run in it explains nothing by itself, but is dated at the window start as a dependency', () => {
  const carried: StretchInput = { start: at(2, 40), end: Infinity, failures: 0, firstFailure: NaN, lastFailure: NaN, carriedFrom: at(2, 59) };
  const alone = findCausalChains([check('db', 'process', [], [carried])], OPTIONS);
  assert.deepEqual(alone.chains, []);
  const withDependent = findCausalChains([check('db', 'process', [], [carried]), check('api', 'http', ['db'], [stretch(at(3, 1), 4)])], OPTIONS);
  assert.deepEqual(shape(withDependent), [{ root: 'db', effects: ['api'], cascade: [], symptoms: [], explained: 4 }]);
  assert.deepEqual(withDependent.chains[0]!.rootSpan, { failures: 0, firstSeen: FROM, lastSeen: FROM });
});

test('independent roots that begin failing together form a cluster that may share an unwatched cause', () => {
  const graph = findCausalChains(
    [
      check('disk-root', 'disk', [], [stretch(at(3, 10), 5, at(3, 15)), stretch(at(3, 40), 5, at(3, 45))]),
      check('disk-data', 'disk', [], [stretch(at(3, 10, 5), 4, at(3, 15)), stretch(at(3, 40, 3), 4, at(3, 45))]),
      check('ollama', 'http', [], [stretch(at(3, 25), 3, at(3, 26))]),
    ],
    OPTIONS,
  );
  assert.deepEqual(graph.clusters, [{ members: ['disk-root', 'disk-data'], together: 2, of: 2 }]);
});

test('eight roots that begin failing together are one cluster, not 28 pairs', () => {
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const graph = findCausalChains(
    names.map((name, i) => check(name, 'command', [], [stretch(at(3, 10, i), 3, at(3, 12))])),
    OPTIONS,
  );
  assert.equal(graph.clusters.length, 1);
  assert.deepEqual([...graph.clusters[0]!.members].sort(), names);
});

test('roots with a declared edge between them are not clustered as sharing an unknown cause', () => {
  // api depends on db but began failing 30 s before it (outside the simultaneous window the other way round):
  // both are roots, and their edge is already the explanation to look at.
  const graph = findCausalChains(
    [check('db', 'tcp', [], [stretch(at(3, 10, 0), 3, at(3, 12))]), check('api', 'http', ['db'], [stretch(at(3, 9, 59), 3, at(3, 12))])],
    { ...OPTIONS, simultaneousMs: 0 },
  );
  assert.equal(graph.chains.length, 2);
  assert.deepEqual(graph.clusters, []);
});

test('ties in explained failures go to a dependency before its dependent', () => {
  const graph = findCausalChains(
    [check('api', 'http', ['db'], [stretch(at(3, 10), 2, at(3, 11))]), check('db', 'tcp', [], [stretch(at(3, 20), 2, at(3, 21))])],
    OPTIONS,
  );
  assert.deepEqual(
    shape(graph).map((c) => c.root),
    ['db', 'api'],
  );
});

test('ties in explained failures go to the earliest failure, then to the name', () => {
  const graph = findCausalChains(
    [check('b', 'disk', [], [stretch(at(3, 20), 2)]), check('c', 'disk', [], [stretch(at(3, 10), 2)]), check('a', 'disk', [], [stretch(at(3, 20), 2)])],
    OPTIONS,
  );
  assert.deepEqual(
    shape(graph).map((c) => c.root),
    ['c', 'a', 'b'],
  );
});
