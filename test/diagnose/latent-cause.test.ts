import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeCausality } from '../../src/diagnose/causal.js';
import { makeRepo } from '../helpers/repair.js';
import { changeStore, commitAt, pastClock, watchConfig } from '../changes/harness.js';

const checks = [
  { name: 'api', kind: 'http', dependsOn: [] },
  { name: 'worker', kind: 'process', dependsOn: [] },
];

/** api's failed runs, as the patrol records them: every 10 s from `from`, `count` of them. */
function apiFails(store: ReturnType<typeof changeStore>, from: number, count: number): void {
  for (let i = 0; i < count; i++) {
    store.events.append(from + i * 10_000, 'check.failed', 'api', 'critical', {
      kind: 'http',
      message: 'HTTP 500 after 3 ms (expected 200-299)',
      durationMs: 3,
      consecutiveFailures: i + 1,
    });
  }
}

test('a git HEAD moved two minutes before an API starts failing is named as its candidate latent cause', async (t) => {
  const repo = makeRepo(t);
  const clock = pastClock();
  const store = changeStore(t, { clock });
  // The real change watcher, on a real repository: the deploy is recorded at its reflog time.
  const watcher = store.run(
    watchConfig(
      `watch:\n  repos:\n    - { name: api, path: ${JSON.stringify(repo)}, checks: [api] }\nchecks:\n  - { name: api, kind: file, path: /tmp/api.ok }\n`,
      repo,
    ),
  );
  const start = clock.now();
  await watcher.scan();
  commitAt(repo, 'raise pool size to 500', start + 60_000);
  clock.set(start + 90_000);
  assert.equal((await watcher.scan()).length, 1);
  apiFails(store, start + 180_000, 6);

  const analysis = analyzeCausality(store.db, checks, { from: start, to: start + 600_000 });
  const [chain] = analysis.chains;
  assert.equal(chain?.root.check, 'api');
  assert.equal(chain.latentCauses.length, 1);
  assert.equal(chain.latentCauses[0]!.beforeMs, 120_000);
  assert.match(
    chain.summary,
    /Candidate latent cause: api began failing 2m after a change: git HEAD of api moved [0-9a-f]{7} → [0-9a-f]{7} \(1 commit, latest: "raise pool size to 500"\)/,
  );
});

test('a change that concerns another check, or came after the failure began, is not named', async (t) => {
  const store = changeStore(t);
  const start = Date.UTC(2026, 0, 5, 3, 0, 0);
  const change = (at: number, checksConcerned: string[], summary: string) =>
    store.events.append(at, 'change', 'stack', 'info', { source: 'env', summary, checks: checksConcerned, detectedAt: at });
  change(start + 30_000, ['worker'], '.env of worker changed: QUEUE_URL changed');
  change(start + 200_000, ['api'], '.env of api changed: LOG_LEVEL changed');
  apiFails(store, start + 120_000, 3);
  const [chain] = analyzeCausality(store.db, checks, { from: start, to: start + 600_000 }).chains;
  assert.deepEqual(chain?.latentCauses, []);
  assert.doesNotMatch(chain.summary, /latent/);
  // A change that concerns every check ([]) is a candidate for any of them; of several, the newest comes first.
  change(start + 10_000, [], 'nightshift.yml changed: check api changed');
  change(start + 60_000, ['api'], 'git HEAD of api moved 1111111 → 2222222 (1 commit, latest: "retry less")');
  const [again] = analyzeCausality(store.db, checks, { from: start, to: start + 600_000 }).chains;
  assert.deepEqual(
    again!.latentCauses.map((c) => c.summary),
    ['git HEAD of api moved 1111111 → 2222222 (1 commit, latest: "retry less")', 'nightshift.yml changed: check api changed'],
  );
  assert.match(
    again!.summary,
    /Candidate latent cause: api began failing 1m after a change: git HEAD of api moved .*; before that: nightshift\.yml changed: check api changed \(1m 50s before\)\./,
  );
});
