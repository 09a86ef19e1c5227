import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { test, type TestContext } from 'node:test';
import { ollamaCheck, ollamaEndpoint } from '../../src/checks/ollama.js';
import type { Probe } from '../../src/checks/types.js';
import { FakeOllamaServer } from '../fakes/ollama/server.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';
import { closedPort } from '../helpers/net.js';

function probe(t: TestContext, params: Record<string, unknown>): Probe {
  return ollamaCheck.create(ollamaCheck.params.parse(params), testCheckEnv({ dataDir: tempDir(t) }).env);
}

async function fakeOllama(t: TestContext, models: string[]): Promise<FakeOllamaServer> {
  const fake = await FakeOllamaServer.start({ models });
  t.after(() => fake.close());
  return fake;
}

test('ollama: up with every configured model pulled; "qwen2.5" matches qwen2.5:latest', async (t) => {
  const fake = await fakeOllama(t, ['qwen2.5:7b', 'llama3:8b', 'qwen2.5:latest']);
  const result = await probe(t, { host: fake.url, models: ['qwen2.5:7b'] }).run(runContext());
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, 'Ollama up, 3 models (qwen2.5:7b ok)');
  assert.deepEqual(result.details!.models, ['qwen2.5:7b', 'llama3:8b', 'qwen2.5:latest']);
  assert.deepEqual(result.details!.missing, []);
  assert.equal(result.details!.httpStatus, 200);
  assert.equal(typeof result.details!.latencyMs, 'number');
  assert.deepEqual(
    fake.requests().map((r) => `${r.method} ${r.path}`),
    ['GET /api/tags'],
  );

  const untagged = await probe(t, { host: fake.url, models: ['qwen2.5', 'llama3:8b'] }).run(runContext());
  assert.equal(untagged.message, 'Ollama up, 3 models (qwen2.5 ok, llama3:8b ok)');
  const none = await probe(t, { host: fake.url }).run(runContext());
  assert.equal(none.message, 'Ollama up, 3 models');

  // A reverse proxy's user:pass@ becomes Basic auth; the password never shows.
  const proxied = await probe(t, { host: fake.url.replace('http://', 'http://nightshift:pr0xy-pass@') }).run(runContext());
  assert.equal(proxied.ok, true, proxied.message);
  assert.equal(fake.requests().at(-1)!.headers.authorization, `Basic ${Buffer.from('nightshift:pr0xy-pass').toString('base64')}`);
  assert.equal(JSON.stringify(proxied).includes('pr0xy-pass'), false);
});

test('ollama: a configured model that is not pulled fails, naming what is there', async (t) => {
  const fake = await fakeOllama(t, ['llama3:8b']);
  const result = await probe(t, { host: fake.url, models: ['qwen2.5:7b'] }).run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.message, 'model qwen2.5:7b missing (have: llama3:8b)');
  assert.deepEqual(result.details!.missing, ['qwen2.5:7b']);
  // "llama3:8b" does not satisfy "llama3" (that means llama3:latest), and an empty server says so.
  const empty = await fakeOllama(t, []);
  const both = await probe(t, { host: empty.url, models: ['llama3', 'qwen2.5:7b'] }).run(runContext());
  assert.equal(both.message, 'models llama3, qwen2.5:7b missing (have: none)');
  const tagless = await probe(t, { host: fake.url, models: ['llama3'] }).run(runContext());
  assert.equal(tagless.message, 'model llama3 missing (have: llama3:8b)');
});

test('ollama: a server that is down fails with the connection error', async (t) => {
  const port = await closedPort();
  const result = await probe(t, { host: `127.0.0.1:${port}` }).run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  assert.equal(result.details!.errorCode, 'ECONNREFUSED');
  assert.equal(result.details!.host, `http://127.0.0.1:${port}`);
});

test('ollama: something else on the port, or a hanging server, fails clearly', async (t) => {
  let hang = false;
  const other = createHttpServer((req, res) => {
    if (hang) return; // Never answers: the check's timeout must end the run.
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>nginx welcome</html>');
  });
  other.listen(0, '127.0.0.1');
  await once(other, 'listening');
  t.after(() => {
    other.closeAllConnections();
    other.close();
  });
  const url = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  const wrong = await probe(t, { host: url }).run(runContext());
  assert.equal(wrong.ok, false);
  assert.equal(wrong.message, `${url}/api/tags did not answer with a model list (is this Ollama?)`);

  hang = true;
  const deadline = new AbortController();
  const pending = probe(t, { host: url }).run({ signal: deadline.signal, now: Date.now });
  setTimeout(() => deadline.abort(), 100);
  const aborted = await pending;
  assert.equal(aborted.ok, false);
  assert.match(aborted.message, /^no answer from Ollama at http:\/\/127\.0\.0\.1:\d+ after \d+ ms \(aborted\)$/);
});

test('ollama: addresses are read as OLLAMA_HOST is; credentials become Basic auth and are never shown', () => {
  assert.deepEqual(ollamaEndpoint('127.0.0.1'), { baseUrl: 'http://127.0.0.1:11434', display: 'http://127.0.0.1:11434' });
  assert.deepEqual(ollamaEndpoint(':11500'), { baseUrl: 'http://127.0.0.1:11500', display: 'http://127.0.0.1:11500' });
  assert.deepEqual(ollamaEndpoint('https://ollama.lan/'), { baseUrl: 'https://ollama.lan', display: 'https://ollama.lan' });
  const withAuth = ollamaEndpoint('https://me:s3cret-pass@ollama.lan/proxy');
  assert.equal(withAuth.baseUrl, 'https://ollama.lan/proxy');
  assert.equal(withAuth.authorization, `Basic ${Buffer.from('me:s3cret-pass').toString('base64')}`);
  assert.equal(ollamaCheck.params.parse({}).host, 'http://127.0.0.1:11434');
  assert.deepEqual(ollamaCheck.params.parse({}).models, []);
  assert.throws(() => ollamaCheck.params.parse({ host: 'ftp://x' }), /Ollama address/);
  assert.throws(() => ollamaCheck.params.parse({ model: 'typo' }), /model/);
});
