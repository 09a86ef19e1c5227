import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { buildSummary } from '../../src/patrol/summary.js';
import { Heartbeat } from '../../src/watchdog/heartbeat.js';
import { checkConfig } from '../helpers/check-config.js';
import { createEngine } from '../helpers/engine.js';
import { waitFor } from '../helpers/temp.js';

interface Ping {
  method: string;
  path: string;
  body: string;
}

/** A local stand-in for Healthchecks.io: records every request and answers `status`. */
async function pingServer(t: TestContext) {
  const pings: Ping[] = [];
  const state = { status: 200 };
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      pings.push({ method: req.method ?? '', path: req.url ?? '', body });
      res.writeHead(state.status, { 'content-type': 'text/plain' }).end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { pings, state, origin: `http://127.0.0.1:${port}` };
}

test('the heartbeat pings /start, then the base URL with the summary, and /fail once the patrol has stalled (DOWN)', async (t) => {
  const { pings, origin } = await pingServer(t);
  const { engine, clock, lines } = createEngine(t, [checkConfig('svc')]);
  const heartbeat = new Heartbeat({
    pingUrl: `${origin}/ping/check-key`,
    everyMs: 20,
    method: 'POST',
    timeoutMs: 2_000,
    summary: () => engine.summary(),
    log: createCapturedLogger(new Redactor()).logger,
  });
  t.after(() => heartbeat.stop());
  engine.patrol.start();
  heartbeat.start();

  await waitFor(() => pings.some((p) => p.path === '/ping/check-key/start'), { what: 'the /start ping' });
  assert.equal(pings[0]!.path, '/ping/check-key/start', 'the first ping is /start');
  const ok = await waitFor(() => pings.find((p) => p.path === '/ping/check-key'), { what: 'a ping to the base URL' });
  assert.equal(ok.method, 'POST');
  assert.match(ok.body, /^SUMMARY: (OK|DEGRADED) {2}core=active {2}checks=1/);
  assert.ok(!pings.some((p) => p.path.endsWith('/fail')), 'no /fail while the core is active');

  // The patrol stops waking: two intervals later the summary is DOWN (core stalled).
  await engine.patrol.stop();
  clock.advance(60_000);
  assert.equal(engine.summary().state, 'DOWN');
  const fail = await waitFor(() => pings.find((p) => p.path === '/ping/check-key/fail'), { what: 'a /fail ping' });
  assert.match(fail.body, /^SUMMARY: DOWN {2}core=stalled/);
  await heartbeat.stop();
  assert.ok(!JSON.stringify(lines()).includes('check-key'), 'the engine never logged the ping key');
});

test('a failing ping is logged (warn once, then debug), never thrown, with the origin only; GET sends no body', async (t) => {
  const { pings, state, origin } = await pingServer(t);
  const { logger, lines } = createCapturedLogger(new Redactor());
  state.status = 500;
  const summary = () => buildSummary({ now: 10, startedAt: 0, lastPatrolAt: 10, patrolAlive: true, checks: [], states: [] });
  const heartbeat = new Heartbeat({ pingUrl: `${origin}/secret-key`, everyMs: 20, method: 'GET', timeoutMs: 2_000, summary, log: logger });
  t.after(() => heartbeat.stop());
  heartbeat.start();

  const failed = (msg: RegExp) => lines().filter((l) => typeof l.msg === 'string' && msg.test(l.msg));
  await waitFor(() => failed(/ping failed again/).length >= 2, { what: 'repeated ping failures' });
  const warns = lines().filter((l) => l.level === 40);
  assert.equal(warns.length, 1, 'one warning for the run of failures');
  assert.equal(warns[0]!.origin, origin);
  assert.equal(warns[0]!.reason, 'HTTP 500');
  assert.ok(
    failed(/ping failed again/).every((l) => l.level === 20),
    'the rest at debug',
  );

  state.status = 200;
  await waitFor(() => failed(/works again/).length === 1, { what: 'the recovery line' });
  assert.ok(pings.every((p) => p.method === 'GET' && p.body === ''));
  assert.ok(pings.some((p) => p.path === '/secret-key'));
  assert.ok(!JSON.stringify(lines()).includes('secret-key'), 'the path (the key) is never logged');
  await heartbeat.stop();
  const count = pings.length;
  await heartbeat.tick();
  assert.equal(pings.length, count, 'nothing is sent after stop');
});

test('an unreachable ping URL is logged, not thrown', async () => {
  const { logger, lines } = createCapturedLogger(new Redactor());
  const summary = () => buildSummary({ now: 10, startedAt: 0, lastPatrolAt: 10, patrolAlive: true, checks: [], states: [] });
  const heartbeat = new Heartbeat({ pingUrl: 'http://127.0.0.1:1/k', everyMs: 60_000, method: 'POST', timeoutMs: 2_000, summary, log: logger });
  await heartbeat.tick();
  const warn = lines().find((l) => l.level === 40);
  assert.ok(warn, 'a warning');
  assert.match(String(warn.reason), /fetch failed/);
  await heartbeat.stop();
});
