import assert from 'node:assert/strict';
import { realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeRepo, repairYaml, startRepairEngine } from '../helpers/repair.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { changeStore, commitAt, silentServer, watchConfig } from './harness.js';

const TAGS = JSON.stringify({ models: [{ name: 'qwen2.5:7b', digest: 'a'.repeat(64), modified_at: '2025-06-01T09:30:00Z' }] });

/** A fetch that holds every request until `release()`, counting how many are held at once. */
function gatedFetch() {
  let open = 0;
  const seen = { calls: 0, maxOpen: 0 };
  let release!: () => void;
  let gate = new Promise<void>((resolve) => (release = resolve));
  const fetchImpl: typeof fetch = async (_input, init) => {
    seen.calls++;
    open++;
    seen.maxOpen = Math.max(seen.maxOpen, open);
    try {
      await new Promise<void>((resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error), { once: true });
        void gate.then(resolve);
      });
      return new Response(TAGS, { headers: { 'content-type': 'application/json' } });
    } finally {
      open--;
    }
  };
  return {
    fetchImpl,
    seen,
    release: () => {
      release();
      gate = new Promise<void>((resolve) => (release = resolve));
    },
  };
}

const ollamaCheck = 'checks:\n  - { name: llm, kind: ollama, host: "http://127.0.0.1:9" }\n';

test('watcher: scans never overlap: a scan asked for during one runs after it', async (t) => {
  const gated = gatedFetch();
  const store = changeStore(t);
  const watcher = store.run(watchConfig(ollamaCheck, tempDir(t)), { fetch: gated.fetchImpl });

  const first = watcher.scan();
  const second = watcher.scan();
  await waitFor(() => gated.seen.calls === 1, { what: 'the first scan asking' });
  gated.release();
  await first;
  await waitFor(() => gated.seen.calls === 2, { what: 'the second scan asking' });
  gated.release();
  await second;

  assert.equal(gated.seen.maxOpen, 1);
});

test('watcher: stop() aborts the scan in flight and waits for it; the timer never starts another', async (t) => {
  const gated = gatedFetch();
  const store = changeStore(t);
  const config = watchConfig(`watch: { interval: 100ms }\n${ollamaCheck}`, tempDir(t));
  const watcher = store.run(config, { fetch: gated.fetchImpl });

  watcher.start();
  await waitFor(() => gated.seen.calls === 1, { what: 'the first scan asking' });
  const started = performance.now();
  await watcher.stop();

  assert.ok(performance.now() - started < 1_000, 'the held request was aborted, not waited out');
  gated.release();
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(gated.seen.calls, 1, 'no scan after stop');
  assert.deepEqual(store.warnings(), [], 'stopping is no failure');
});

test('watcher: the timer keeps scanning through failures, logged once per streak', async (t) => {
  const repo = makeRepo(t);
  const store = changeStore(t);
  const yaml = `watch:\n  interval: 100ms\n  repos:\n    - { name: api, path: ${JSON.stringify(join(repo, 'build'))} }\n`;
  writeFileSync(join(repo, 'build', '.git'), 'gitdir: /nonexistent\n');
  const watcher = store.run(watchConfig(yaml, repo));

  watcher.start();
  await waitFor(() => store.lines().filter((l) => l.msg === 'looking for changes failed again').length >= 2, { what: 'three failed scans' });
  await watcher.stop();

  assert.equal(store.warnings().length, 1);
});

test('watcher: a source that runs out of its time leaves the rest for the next scan, said once', async (t) => {
  const silent = await Promise.all([silentServer(t), silentServer(t)]);
  const store = changeStore(t);
  const yaml = `checks:\n${silent.map((url, i) => `  - { name: llm${i}, kind: ollama, host: ${JSON.stringify(url)} }\n`).join('')}`;
  const watcher = store.run(watchConfig(yaml, tempDir(t)), { sourceTimeoutMs: 300 });

  const started = performance.now();
  assert.deepEqual(await watcher.scan(), []);
  assert.ok(performance.now() - started < 1_500, 'bounded by the source budget, not by each host timing out in turn');
  assert.deepEqual(
    store.warnings().map((l) => [l.source, l.reason]),
    [
      ['models', 'timed out'],
      ['models', 'ran out of time (300 ms); 1 left for the next scan'],
    ],
  );
});

test('watcher: a snapshot stored in another shape counts as none: stored again, no change recorded', async (t) => {
  const repo = makeRepo(t);
  const store = changeStore(t);
  const watcher = store.run(watchConfig(`watch:\n  repos:\n    - { name: api, path: ${JSON.stringify(repo)} }\n`, repo));
  const key = `change:git:${realpathSync(repo)}`;
  store.kv.set(key, JSON.stringify({ takenAt: 1, state: { commit: 'abc' } }));

  assert.deepEqual(await watcher.scan(), []);
  assert.match(store.kv.get(key)!, /"head":"[0-9a-f]{40}"/);
});

test('engine: the change watcher starts with the engine and records a repair target moving', async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, `${repairYaml(repo)}watch:\n  interval: 100ms\n`);
  const key = `change:git:${realpathSync(repo)}`;
  await waitFor(() => bot.engine.kv.get(key), { what: 'the first snapshot of the target' });

  commitAt(repo, 'tune the worker', Date.now());
  const [event] = await waitFor(() => (bot.events.ofType('change').length > 0 ? bot.events.ofType('change') : undefined), { what: 'a change event' });

  assert.equal(event?.subject, 'worker');
  assert.match(event?.context.summary ?? '', /^git HEAD of worker moved \w{7} → \w{7} \(1 commit, latest: "tune the worker"\)$/);
  await bot.stop();
});
