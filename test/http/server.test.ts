import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpServer } from '../../src/http/server.js';
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
  const server = new HttpServer({ log: createCapturedLogger(new Redactor()).logger, summary, patrolAlive: () => alive, metrics: new Metrics(summary) });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const url = `http://127.0.0.1:${port}`;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  alive = false;
  const stalled = await fetch(`${url}/healthz`);
  assert.equal(stalled.status, 503);
  assert.deepEqual(await stalled.json(), { ok: false, core: 'stalled', lastPatrolAt: 0 });
  const status = (await (await fetch(`${url}/status.json`)).json()) as { state: string; text: string };
  assert.equal(status.state, 'DOWN');
  assert.match(status.text, /^SUMMARY: DOWN  core=stalled/);
  const before = built;
  assert.match(await (await fetch(`${url}/metrics`)).text(), /nightshift_up 0/);
  assert.equal(built - before, 1, 'one summary per scrape, whatever the number of gauges');
  await fetch(`${url}/metrics`);
  assert.equal(built - before, 2, 'and a fresh one for the next scrape');
  alive = true;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
});
