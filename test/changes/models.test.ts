import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODELS_TIMEOUT_MS } from '../../src/changes/models.js';
import { FakeOllamaServer } from '../fakes/ollama/server.js';
import { tempDir } from '../helpers/temp.js';
import { changeStore, silentServer, watchConfig } from './harness.js';

const ollamaChecks = (url: string) =>
  `checks:\n  - { name: llm, kind: ollama, host: ${JSON.stringify(url)}, models: [qwen2.5:7b] }\n  - { name: llm-small, kind: ollama, host: ${JSON.stringify(url)} }\n`;

test('models: a model deleted on the Ollama server is a change of its ollama checks', async (t) => {
  const fake = await FakeOllamaServer.start({ models: ['llama3.2:3b', 'qwen2.5:7b'] });
  t.after(() => fake.close());
  const store = changeStore(t);
  const watcher = store.run(watchConfig(ollamaChecks(fake.url), tempDir(t)));
  assert.deepEqual(await watcher.scan(), []);
  assert.deepEqual(await watcher.scan(), [], 'the same list: no change');

  fake.setModels(['qwen2.5:7b']);
  const [event, ...more] = await watcher.scan();

  assert.equal(more.length, 0);
  assert.ok(event);
  assert.equal(event.subject, 'llm');
  assert.equal(event.context.source, 'models');
  assert.equal(event.context.summary, 'ollama models changed: llama3.2:3b removed');
  assert.deepEqual(event.context.checks, ['llm', 'llm-small']);
  assert.match(event.context.before!, /^[0-9a-f]{12}$/);
  assert.equal(fake.requests().filter((r) => r.path === '/api/tags').length, 3, 'one request per host per scan, however many checks use it');

  fake.setModels(['qwen2.5:7b', 'mistral:7b']);
  assert.equal((await watcher.scan())[0]?.context.summary, 'ollama models changed: mistral:7b added');
});

test('models: the diagnosis model host alone is watched under "ollama"; an unreachable host is no change and keeps its snapshot', async (t) => {
  const fake = await FakeOllamaServer.start({ models: ['qwen2.5:7b'] });
  const store = changeStore(t);
  const url = fake.url;
  const watcher = store.run(watchConfig('', tempDir(t), { OLLAMA_HOST: url, OLLAMA_MODEL: 'qwen2.5:7b' }));
  await watcher.scan();
  fake.setModels(['qwen2.5:7b', 'qwen2.5:14b']);
  const [event] = await watcher.scan();
  assert.deepEqual([event?.subject, event?.context.summary, event?.context.checks], ['ollama', 'ollama models changed: qwen2.5:14b added', []]);
  const snapshot = store.kv.get(`change:models:${url}`);
  assert.ok(snapshot);

  await fake.close();
  assert.deepEqual(await watcher.scan(), []);
  assert.equal(store.kv.get(`change:models:${url}`), snapshot);
  assert.deepEqual(store.warnings(), [], 'a host that is down is its check’s news, not the watcher’s');
});

test('models: a host that accepts and never answers is given up after the short timeout', async (t) => {
  const url = await silentServer(t);
  const store = changeStore(t);
  const watcher = store.run(watchConfig(ollamaChecks(url), tempDir(t)));

  const started = performance.now();
  assert.deepEqual(await watcher.scan(), []);
  const took = performance.now() - started;

  assert.ok(took >= MODELS_TIMEOUT_MS - 100 && took < MODELS_TIMEOUT_MS + 2_000, `the scan took ${Math.round(took)} ms`);
  assert.equal(store.kv.get(`change:models:${url}`), undefined);
});
