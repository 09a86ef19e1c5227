import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { test, type TestContext } from 'node:test';
import { httpCheck } from '../../src/checks/http.js';
import type { Probe } from '../../src/checks/types.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';

function probe(t: TestContext, params: Record<string, unknown>): Probe {
  return httpCheck.create(httpCheck.params.parse(params), testCheckEnv({ dataDir: tempDir(t) }).env);
}
const ctx = () => ({ signal: new AbortController().signal, now: Date.now });

/** A real HTTP server on 127.0.0.1; `requests` records what it received. */
async function serve(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as { port: number };
  return { server, requests, port, url: `http://127.0.0.1:${port}` };
}

function reply(status: number, body: string, type = 'text/plain') {
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  };
}

test('http: a 200 is healthy, with status, latency and size as evidence', async (t) => {
  const { url, requests } = await serve(t, reply(200, 'all systems go'));
  const result = await probe(t, { url: `${url}/health` }).run(ctx());
  assert.equal(result.ok, true, result.message);
  assert.match(result.message, /^HTTP 200 after \d+ ms \(14 B\)$/);
  assert.equal(result.details!.httpStatus, 200);
  assert.equal(result.details!.bytes, 14);
  assert.equal(typeof result.details!.latencyMs, 'number');
  assert.equal(result.details!.url, `${url}/health`);
  assert.equal(result.details!.bodySnippet, undefined, 'a healthy answer carries no body snippet');
  assert.equal(requests[0]!.method, 'GET');
  assert.equal(requests[0]!.url, '/health');
});

test('http: a 503 fails with the status and the start of the body; expectStatus changes what passes', async (t) => {
  const { url, requests } = await serve(t, reply(503, 'upstream worker pool exhausted'));
  const failing = await probe(t, { url }).run(ctx());
  assert.equal(failing.ok, false);
  assert.match(failing.message, /^HTTP 503 after \d+ ms \(expected 200-399\)$/);
  assert.equal(failing.details!.httpStatus, 503);
  assert.equal(failing.details!.bodySnippet, 'upstream worker pool exhausted');

  const expected = await probe(t, { url, expectStatus: [200, 503], method: 'head' }).run(ctx());
  assert.equal(expected.ok, true, expected.message);
  assert.equal(requests[1]!.method, 'HEAD');
  const strict = await probe(t, { url, expectStatus: 200 }).run(ctx());
  assert.match(strict.message, /\(expected 200\)$/);
  assert.throws(() => httpCheck.params.parse({ url: 'ftp://example.org/' }), /http:\/\/ or https:\/\//);
});

test('http: bodyContains passes on a hit and fails on a miss', async (t) => {
  const { url } = await serve(t, reply(200, '<html>status: ready</html>', 'text/html'));
  assert.equal((await probe(t, { url, bodyContains: 'status: ready' }).run(ctx())).ok, true);
  const miss = await probe(t, { url, bodyContains: 'status: green' }).run(ctx());
  assert.equal(miss.ok, false);
  assert.match(miss.message, /^HTTP 200 after \d+ ms, body lacks "status: green"$/);
  assert.equal(miss.details!.bodySnippet, '<html>status: ready</html>');
});

test('http: jsonField must exist, and equal when asked', async (t) => {
  const document = { status: 'ok', queue: { depth: 0, workers: [{ name: 'a', alive: true }] } };
  const { url } = await serve(t, reply(200, JSON.stringify(document), 'application/json'));
  const exists = await probe(t, { url, jsonField: { path: 'queue.workers.0.alive' } }).run(ctx());
  assert.equal(exists.ok, true, exists.message);
  assert.equal((await probe(t, { url, jsonField: { path: 'queue.depth', equals: 0 } }).run(ctx())).ok, true);
  assert.equal((await probe(t, { url, jsonField: { path: 'queue.workers.0.alive', equals: true } }).run(ctx())).ok, true);

  const unequal = await probe(t, { url, jsonField: { path: 'status', equals: 'degraded' } }).run(ctx());
  assert.equal(unequal.ok, false);
  assert.match(unequal.message, /JSON field status is "ok", expected "degraded"$/);
  const typed = await probe(t, { url, jsonField: { path: 'queue.depth', equals: '0' } }).run(ctx());
  assert.equal(typed.ok, false, 'the number 0 is not the string "0"');
  const missing = await probe(t, { url, jsonField: { path: 'queue.workers.1.name' } }).run(ctx());
  assert.equal(missing.ok, false);
  assert.match(missing.message, /JSON field queue\.workers\.1\.name is missing$/);
});

test('http: jsonField on a body that is not JSON fails clearly', async (t) => {
  const { url } = await serve(t, reply(200, 'OK'));
  const result = await probe(t, { url, jsonField: { path: 'status' } }).run(ctx());
  assert.equal(result.ok, false);
  assert.match(result.message, /body is not JSON$/);
});

test('http: an answer slower than maxLatency fails as slow', async (t) => {
  const { url } = await serve(t, (_req, res) => {
    // The server takes its time; the test waits for the probe, not for a clock.
    setTimeout(() => res.end('late but fine'), 250);
  });
  const result = await probe(t, { url, maxLatency: '100ms' }).run(ctx());
  assert.equal(result.ok, false);
  assert.match(result.message, /^slow: \d+ ms > 100 ms$/);
  assert.ok((result.details!.latencyMs as number) >= 240, `latency ${String(result.details!.latencyMs)}`);
  assert.equal(result.details!.httpStatus, 200);
  const relaxed = await probe(t, { url, maxLatency: '10s' }).run(ctx());
  assert.equal(relaxed.ok, true, relaxed.message);
});

test('http: a refused connection fails with the socket error and its code', async (t) => {
  const { server, port } = await serve(t, reply(200, 'soon gone'));
  server.close();
  await once(server, 'close');
  const result = await probe(t, { url: `http://127.0.0.1:${port}/` }).run(ctx());
  assert.equal(result.ok, false);
  assert.equal(result.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  assert.equal(result.details!.errorCode, 'ECONNREFUSED');
  assert.equal(result.details!.httpStatus, undefined);
});

test('http: an abort ends a request the server never answers', async (t) => {
  const { server, url } = await serve(t, () => {
    // Never answers.
  });
  const controller = new AbortController();
  const arrived = once(server, 'request');
  const running = probe(t, { url }).run({ signal: controller.signal, now: Date.now });
  await arrived;
  const abortedAt = performance.now();
  controller.abort();
  const result = await running;
  assert.ok(performance.now() - abortedAt < 500, 'the run ends promptly after the abort');
  assert.equal(result.ok, false);
  assert.match(result.message, /^no answer from http:\/\/127\.0\.0\.1:\d+\/ after \d+ ms \(aborted\)$/);
  assert.equal(result.details!.errorCode, 'ABORTED');
});

test('http: headers are sent, and their secret values never appear in the result', async (t) => {
  const secret = 'sk-live-8f2b1c9d7e6a5b4c3d2e1f0a';
  const apiKey = 'key-5551234abcdef';
  // A misbehaving endpoint that echoes credentials back in an error page.
  const { url, requests } = await serve(t, (req, res) => {
    res.writeHead(401, { 'content-type': 'text/plain' });
    res.end(`rejected ${req.headers.authorization} and ${String(req.headers['x-api-key'])}`);
  });
  const result = await probe(t, { url, headers: { Authorization: `Bearer ${secret}`, 'X-Api-Key': apiKey } }).run(ctx());
  assert.equal(requests[0]!.headers.authorization, `Bearer ${secret}`);
  assert.equal(requests[0]!.headers['x-api-key'], apiKey);
  assert.equal(result.ok, false);
  assert.equal(result.details!.httpStatus, 401);
  const everything = JSON.stringify(result);
  assert.ok(!everything.includes(secret), everything);
  assert.ok(!everything.includes(apiKey), everything);
  assert.match(result.details!.bodySnippet as string, /^rejected \[redacted\] and \[redacted\]$/);
  // A value fetch would refuse is caught by the config schema, without quoting it.
  assert.throws(
    () => httpCheck.params.parse({ url, headers: { Authorization: `Bearer ${secret}\r\nX-Injected: 1` } }),
    (err: Error) => /line break/.test(err.message) && !err.message.includes(secret),
  );
});

test('http: URL credentials become Basic auth and are stripped, with secret query values, from the reported URL', async (t) => {
  const { port, requests } = await serve(t, reply(200, 'hello'));
  const result = await probe(t, { url: `http://monitor:hunter2-pass@127.0.0.1:${port}/status?token=abc123xyz&verbose=1` }).run(ctx());
  assert.equal(result.ok, true, result.message);
  assert.equal(requests[0]!.headers.authorization, `Basic ${Buffer.from('monitor:hunter2-pass').toString('base64')}`);
  assert.equal(requests[0]!.url, '/status?token=abc123xyz&verbose=1');
  assert.equal(result.details!.url, `http://127.0.0.1:${port}/status?token=***&verbose=1`);
  assert.ok(!JSON.stringify(result).includes('hunter2-pass'));
});

test('http: at most maxBodyBytes of the body are read', async (t) => {
  const { url } = await serve(t, reply(200, `${'x'.repeat(10_000)}needle`));
  const result = await probe(t, { url, maxBodyBytes: 1024, bodyContains: 'needle' }).run(ctx());
  assert.equal(result.ok, false);
  assert.equal(result.details!.bytes, 1024);
  assert.equal(result.details!.truncated, true);
  assert.match(result.message, /body lacks "needle" in its first 1\.0 KiB$/);
  const whole = await probe(t, { url, bodyContains: 'needle' }).run(ctx());
  assert.equal(whole.ok, true, whole.message);
  assert.equal(whole.details!.bytes, 10_006);
});

test('http: redirects are followed', async (t) => {
  const { url } = await serve(t, (req, res) => {
    if (req.url === '/old') {
      res.writeHead(302, { location: '/new' });
      res.end();
    } else res.end(`at ${req.url}`);
  });
  const result = await probe(t, { url: `${url}/old`, bodyContains: 'at /new' }).run(ctx());
  assert.equal(result.ok, true, result.message);
  assert.equal(result.details!.finalUrl, `${url}/new`);
});

test('http: credentials follow a redirect on the same origin, not one to another origin; a redirect loop fails', async (t) => {
  const other = await serve(t, reply(200, 'elsewhere'));
  const { url, requests } = await serve(t, (req, res) => {
    if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else if (req.url === '/away') res.writeHead(307, { location: `${other.url}/landed` }).end();
    else if (req.url === '/here') res.writeHead(301, { location: '/there' }).end();
    else res.end('there');
  });
  const headers = { Authorization: 'Bearer s3cr3t-token', 'X-Trace': 'kept' };

  const same = await probe(t, { url: `${url}/here`, headers, bodyContains: 'there' }).run(ctx());
  assert.equal(same.ok, true, same.message);
  assert.equal(requests.at(-1)!.headers.authorization, 'Bearer s3cr3t-token');

  const away = await probe(t, { url: `${url}/away`, headers, bodyContains: 'elsewhere' }).run(ctx());
  assert.equal(away.ok, true, away.message);
  assert.equal(away.details!.finalUrl, `${other.url}/landed`);
  assert.equal(other.requests.length, 1);
  assert.equal(other.requests[0]!.headers.authorization, undefined, 'the token is not handed to another origin');
  assert.equal(other.requests[0]!.headers['x-trace'], 'kept');

  const loop = await probe(t, { url: `${url}/loop` }).run(ctx());
  assert.equal(loop.ok, false);
  assert.equal(loop.message, 'more than 20 redirects');
  assert.equal(loop.details!.errorCode, 'TOO_MANY_REDIRECTS');
});

/** A health document shaped like a queue service's, served as JSON. */
const QUEUE_HEALTH = {
  queue: { depth: 1520, oldestSeconds: '42' },
  workers: [
    { name: 'w1', lag: 3 },
    { name: 'w2', lag: 45 },
  ],
  ratio: 0.25,
  status: 'ok',
  healthy: true,
  note: '12 items',
  'odd key': { 'it\'s "quoted"': 7 },
  $schema: { id: 'v2' },
};

async function serveQueueHealth(t: TestContext) {
  return serve(t, reply(200, JSON.stringify(QUEUE_HEALTH), 'application/json'));
}

test('http: jsonField lt, gt and between pass inside the bound and fail outside it with the value', async (t) => {
  const { url } = await serveQueueHealth(t);
  const run = async (jsonField: Record<string, unknown>) => probe(t, { url, jsonField }).run(ctx());

  const tooDeep = await run({ path: '$.queue.depth', lt: 1000 });
  assert.equal(tooDeep.ok, false);
  assert.match(tooDeep.message, /^HTTP 200 after \d+ ms, JSON field \$\.queue\.depth is 1520, expected < 1000$/);
  assert.equal(tooDeep.details!.jsonValue, 1520);
  const roomy = await run({ path: '$.queue.depth', lt: 2000 });
  assert.equal(roomy.ok, true, roomy.message);
  assert.equal(roomy.details!.jsonValue, 1520, 'a passing run carries the value as evidence too');
  assert.equal((await run({ path: '$.queue.depth', lt: 1520 })).ok, false, 'lt is strict');

  assert.equal((await run({ path: 'ratio', gt: 0.2 })).ok, true);
  const low = await run({ path: 'ratio', gt: 0.5 });
  assert.equal(low.ok, false);
  assert.match(low.message, /JSON field ratio is 0\.25, expected > 0\.5$/);

  assert.equal((await run({ path: '$.workers[1].lag', between: [0, 45] })).ok, true, 'between includes both ends');
  assert.equal((await run({ path: '$.workers[1].lag', between: [45, 45] })).ok, true);
  const lagging = await run({ path: '$.workers[1].lag', between: [0, 30] });
  assert.equal(lagging.ok, false);
  assert.match(lagging.message, /JSON field \$\.workers\[1\]\.lag is 45, expected between 0 and 30$/);
  const negative = await run({ path: '$.workers[0].lag', between: [-10, -1] });
  assert.match(negative.message, /is 3, expected between -10 and -1$/);
});

test('http: jsonField paths: dotted as before, and $.name, [index], [-1] and quoted keys', async (t) => {
  const { url } = await serveQueueHealth(t);
  const value = async (path: string) => {
    const result = await probe(t, { url, jsonField: { path } }).run(ctx());
    return result.ok ? result.details!.jsonValue : `failed: ${result.message}`;
  };
  assert.equal(await value('workers.1.name'), 'w2');
  assert.equal(await value('$.workers[1].name'), 'w2');
  assert.equal(await value('$.workers[-1].name'), 'w2');
  assert.equal(await value('$.workers[-2].lag'), 3);
  assert.equal(await value("$['odd key']['it\\'s \"quoted\"']"), 7);
  assert.equal(await value(`$["odd key"]["it's \\"quoted\\""]`), 7);
  assert.equal(await value("$['queue'].depth"), 1520);
  assert.equal(await value('$schema.id'), 'v2', 'a key starting with $ still works in the dotted form');
  assert.match(String(await value('$')), /^\{"queue":\{"depth":1520/, 'the whole document, as short JSON');
  // The JSON path is exact about types: a name does not index an array, an index does not name a key.
  assert.match(String(await value('$.workers.0')), /^failed: .*JSON field \$\.workers\.0 is missing$/);
  assert.match(String(await value("$.workers['0']")), /is missing$/);
  assert.match(String(await value('$.queue[0]')), /is missing$/);
  assert.match(String(await value('$.workers[2].lag')), /JSON field \$\.workers\[2\]\.lag is missing$/);
  assert.match(String(await value('$.workers[-3]')), /is missing$/);
  assert.match(String(await value('$.status.length')), /is missing$/, 'a string has no fields');
});

test('http: a numeric comparison on a missing or non-number field fails saying what it found', async (t) => {
  const { url } = await serveQueueHealth(t);
  const run = async (jsonField: Record<string, unknown>) => probe(t, { url, jsonField }).run(ctx());

  const quoted = await run({ path: '$.queue.oldestSeconds', lt: 60 });
  assert.equal(quoted.ok, true, `a string holding a number counts as that number: ${quoted.message}`);
  const quotedHigh = await run({ path: '$.queue.oldestSeconds', lt: 30 });
  assert.match(quotedHigh.message, /JSON field \$\.queue\.oldestSeconds is "42", expected < 30$/);

  const text = await run({ path: 'note', gt: 0 });
  assert.equal(text.ok, false);
  assert.match(text.message, /JSON field note is "12 items", expected a number > 0$/);
  assert.equal(text.details!.jsonValue, '12 items');
  const flag = await run({ path: '$.healthy', between: [0, 1] });
  assert.equal(flag.ok, false, 'true is not 1');
  assert.match(flag.message, /JSON field \$\.healthy is true, expected a number between 0 and 1$/);
  const object = await run({ path: '$.queue', lt: 5 });
  assert.match(object.message, /JSON field \$\.queue is \{"depth":1520,"oldestSeconds":"42"\}, expected a number < 5$/);

  const missing = await run({ path: '$.queue.length', lt: 5 });
  assert.equal(missing.ok, false);
  assert.match(missing.message, /JSON field \$\.queue\.length is missing$/);
  assert.equal(missing.details!.jsonValue, undefined);
});

test('http: bad jsonField params are refused with a clear message', () => {
  const refusal = (jsonField: Record<string, unknown>) => {
    const parsed = httpCheck.params.safeParse({ url: 'http://127.0.0.1:1/', jsonField });
    if (parsed.success) assert.fail(`accepted ${JSON.stringify(jsonField)}`);
    return parsed.error.issues.map((issue) => issue.message).join('; ');
  };
  assert.match(refusal({ path: 'a', lt: 1, gt: 0 }), /jsonField takes one comparison, found lt and gt \(for a range use between: \[min, max\]\)/);
  assert.match(refusal({ path: 'a', equals: 1, between: [0, 2] }), /found equals and between/);
  assert.match(refusal({ path: 'a', between: [10, 1] }), /between is \[min, max\] with min <= max/);
  assert.match(refusal({ path: 'a', between: [1] }), />=2 items/);
  assert.match(refusal({ path: 'a', lt: '1000' }), /expected number/);
  assert.match(refusal({ path: '$.workers[*].lag' }), /^JSON path "\$\.workers\[\*\]\.lag": wildcards are not supported at character 11 \(supported: /);
  assert.match(refusal({ path: '$.workers[?(@.lag > 5)]' }), /filters are not supported/);
  assert.match(refusal({ path: '$..lag' }), /recursive descent \(\.\.\) is not supported/);
  assert.match(refusal({ path: '$.workers[0:2]' }), /slices are not supported/);
  assert.match(refusal({ path: "$['unclosed" }), /the quoted key is not closed/);
  assert.match(refusal({ path: '$.a b' }), /unexpected " "; expected '\.' or '\['/);
  assert.match(refusal({ path: '$.' }), /expected a name after '\.'/);
  assert.match(refusal({ path: 'a', lessThan: 3 }), /lessThan/);
  // What stays accepted.
  assert.equal(httpCheck.params.safeParse({ url: 'http://127.0.0.1:1/', jsonField: { path: '$.a', between: [-1.5, 1.5] } }).success, true);
  assert.equal(httpCheck.params.safeParse({ url: 'http://127.0.0.1:1/', jsonField: { path: 'a.b.0.c', equals: 'x' } }).success, true);
});
