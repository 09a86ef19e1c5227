import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { HttpServer, type HttpHandlers, type HttpServerOptions } from '../../src/http/server.js';
import { Metrics } from '../../src/http/metrics.js';
import { buildSummary } from '../../src/patrol/summary.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';

test('/healthz answers 503 once the patrol loop has not run within two intervals, and 200 again after', async (t) => {
  let alive = true;
  let built = 0;
  const summary = () => {
    built++;
    return buildSummary({ now: 10, startedAt: 0, lastPatrolAt: alive ? 10 : 0, patrolAlive: alive, checks: [], states: [] });
  };
  const server = new HttpServer({ log: createCapturedLogger(new Redactor()).logger });
  server.serve({ summary, patrolAlive: () => alive, metrics: new Metrics(summary) });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const url = `http://127.0.0.1:${port}`;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  alive = false;
  const stalled = await fetch(`${url}/healthz`);
  assert.equal(stalled.status, 503);
  assert.deepEqual(await stalled.json(), { ok: false, core: 'stalled', lastPatrolAt: 0, reason: 'the patrol loop has not run within two intervals' });
  const status = (await (await fetch(`${url}/status.json`)).json()) as { state: string; text: string };
  assert.equal(status.state, 'DOWN');
  assert.match(status.text, /^SUMMARY: DOWN {2}core=stalled/);
  const before = built;
  assert.match(await (await fetch(`${url}/metrics`)).text(), /nightshift_up 0/);
  assert.equal(built - before, 1, 'one summary per scrape, whatever the number of gauges');
  await fetch(`${url}/metrics`);
  assert.equal(built - before, 2, 'and a fresh one for the next scrape');
  alive = true;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
});

/** One request with full control of its headers (fetch does not let a test set Host). */
function rawRequest(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function makeServer(deps: Partial<HttpServerOptions & HttpHandlers> = {}) {
  const summary = () => buildSummary({ now: 10, startedAt: 0, lastPatrolAt: 10, patrolAlive: true, checks: [], states: [] });
  const { access, redactor, now, ...handlers } = deps;
  const server = new HttpServer({
    log: createCapturedLogger(new Redactor()).logger,
    ...(access ? { access } : {}),
    ...(redactor ? { redactor } : {}),
    ...(now ? { now } : {}),
  });
  server.serve({ summary, patrolAlive: () => true, metrics: new Metrics(summary), ...handlers });
  return server;
}

test('a request naming another Host (DNS rebinding from a web page) gets nothing; IP literals, localhost and configured names do', async (t) => {
  const server = makeServer({ access: { allowedHosts: new Set(['nightshift.tailnet.ts.net']) } });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const rebound = await rawRequest(port, '/status.json', { headers: { host: `evil.example:${port}` } });
  assert.equal(rebound.status, 421);
  assert.doesNotMatch(rebound.body, /SUMMARY/);
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `nightshift.tailnet.ts.net:${port}`]) {
    const ok = await rawRequest(port, '/status.json', { headers: { host } });
    assert.equal(ok.status, 200, host);
    assert.match(ok.body, /SUMMARY: OK/);
  }
});

test('with a token, everything but /healthz, /ping and /answer needs "Authorization: Bearer <token>"', async (t) => {
  const token = 'http-token-0123456789abcdef';
  const pings: string[] = [];
  const server = makeServer({
    access: { allowedHosts: new Set(), token },
    pings: { isExpected: (name) => name === 'backup', record: (name, kind) => void pings.push(`${name}:${kind}`) },
    answer: () => ({ status: 410, text: 'this button has expired' }),
  });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  for (const path of ['/status.json', '/metrics']) {
    const refused = await rawRequest(port, path);
    assert.equal(refused.status, 401, path);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="nightshift"');
    assert.equal((await rawRequest(port, path, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    assert.equal((await rawRequest(port, path, { headers: { authorization: `Bearer ${token}` } })).status, 200, path);
  }
  assert.equal((await rawRequest(port, '/healthz')).status, 200);
  assert.equal((await rawRequest(port, '/ping/backup', { method: 'POST' })).status, 200);
  assert.deepEqual(pings, ['backup:ping']);
  assert.equal((await rawRequest(port, '/answer/abc.def', { method: 'POST' })).status, 410, 'a signed button needs no bearer token');
});

test('HEAD works wherever GET does, without a body', async (t) => {
  const server = makeServer();
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  for (const path of ['/healthz', '/status.json', '/metrics']) {
    const head = await rawRequest(port, path, { method: 'HEAD' });
    assert.equal(head.status, 200, path);
    assert.equal(head.body, '');
  }
});

test('a flood of pings for one name is cut at 60 a minute (429, not stored), and a ping body is stored redacted', async (t) => {
  const bodies: string[] = [];
  const server = makeServer({ pings: { isExpected: () => true, record: (_name, _kind, _at, body) => void bodies.push(body ?? '') } });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const statuses: number[] = [];
  for (let i = 0; i < 100; i++)
    statuses.push((await rawRequest(port, '/ping/backup/fail', { method: 'POST', body: `pg_dump failed: password=hunter2 run ${i}` })).status);
  assert.equal(statuses.filter((s) => s === 200).length, 60);
  assert.equal(statuses.filter((s) => s === 429).length, 40);
  assert.equal(bodies.length, 60);
  assert.ok(bodies.every((b) => !b.includes('hunter2') && b.includes('password=[redacted:secret]')));
  // Another name has its own budget.
  assert.equal((await rawRequest(port, '/ping/other', { method: 'POST' })).status, 200);
});

test('/healthz answers 503 with the reason while the store cannot write, although the patrol runs', async (t) => {
  let problems: string[] = ['the database cannot be written since 2026-11-28T03:00:00.000Z (12 failed writes; last: SQLITE_FULL: database or disk is full)'];
  const server = makeServer({ problems: () => problems });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const degraded = await rawRequest(port, '/healthz');
  assert.equal(degraded.status, 503);
  assert.match((JSON.parse(degraded.body) as { reason: string }).reason, /cannot be written.*SQLITE_FULL/);
  problems = [];
  assert.equal((await rawRequest(port, '/healthz')).status, 200);
});
