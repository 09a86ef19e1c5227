import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { HttpServer } from '../../src/http/server.js';
import { Metrics } from '../../src/http/metrics.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { buildSummary } from '../../src/patrol/summary.js';
import type { Overview } from '../../src/status-page/overview.js';
import { startInProcess } from '../helpers/bot.js';
import { canaryToken } from '../helpers/canary.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const TOKEN = canaryToken('http');
const TIMEOUT = { timeout: 25_000 };

/** A real bot in this process with the HTTP token set and a `file` check (every 500 ms) on a file the test owns. */
async function startBot(t: TestContext, options: { token?: string; pathPart?: string } = {}) {
  const dir = tempDir(t);
  const watched = join(dir, options.pathPart ?? 'heartbeat.txt');
  writeFileSync(watched, 'alive\n');
  const bot = await startInProcess(t, {
    yaml: `
patrol: { interval: 1s }
checks:
  - name: heartbeat-file
    kind: file
    path: ${JSON.stringify(watched)}
    interval: 500ms
`,
    env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data'), ...(options.token ? { NIGHTSHIFT_HTTP_TOKEN: options.token } : {}) },
  });
  const [host, port] = [bot.http.slice(0, bot.http.lastIndexOf(':')), Number(bot.http.slice(bot.http.lastIndexOf(':') + 1))];
  return { ...bot, watched, host, port };
}

const basic = (password: string, user = 'me') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** An open GET /live as a plain HTTP client: its status, and the server-sent events as they arrive. */
interface LiveClient {
  status: number;
  headers: IncomingHttpHeaders;
  events: Array<{ event: string; data: string }>;
  comments: string[];
  req: ClientRequest;
  res: IncomingMessage;
}

function openLive(port: number, headers: Record<string, string> = {}): Promise<LiveClient> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/live', headers, agent: false }, (res) => {
      const client: LiveClient = { status: res.statusCode ?? 0, headers: res.headers, events: [], comments: [], req, res };
      let buffer = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trimStart()]));
          if (block.startsWith(':')) client.comments.push(block);
          else if (fields.event) client.events.push({ event: fields.event, data: fields.data ?? '' });
        }
      });
      res.on('error', () => undefined);
      resolve(client);
    });
    req.on('error', reject);
    req.end();
  });
}

test('with a token, the page takes HTTP Basic (the token as the password) and challenges a browser without it', TIMEOUT, async (t) => {
  // The token is in the watched file's path: the check's message quotes it, and the page must not show it.
  const bot = await startBot(t, { token: TOKEN, pathPart: `missing-${TOKEN}.txt` });
  rmSync(bot.watched);
  await waitFor(async () => (await get(bot.port, '/status.json', { authorization: `Bearer ${TOKEN}` })).body.includes('"status":"failing"'), {
    what: 'the check failing',
  });
  for (const path of ['/', '/page.js', '/page.css', '/overview.json', '/live']) {
    const refused = await get(bot.port, path);
    assert.equal(refused.status, 401, path);
    assert.equal(refused.headers['www-authenticate'], 'Basic realm="nightshift", charset="UTF-8"', path);
    assert.equal((await get(bot.port, path, { authorization: basic('wrong-token-0123456789') })).status, 401, `${path}: wrong password`);
    assert.equal(
      (await get(bot.port, path, { authorization: `Basic ${Buffer.from(TOKEN).toString('base64')}` })).status,
      401,
      `${path}: no user:password pair`,
    );
  }
  const pages: string[] = [];
  for (const [path, type] of [
    ['/', 'text/html; charset=utf-8'],
    ['/page.js', 'text/javascript; charset=utf-8'],
    ['/page.css', 'text/css; charset=utf-8'],
    ['/overview.json', 'application/json'],
  ] as const) {
    const ok = await get(bot.port, path, { authorization: basic(TOKEN, 'anyone') });
    assert.equal(ok.status, 200, path);
    assert.equal(ok.headers['content-type'], type, path);
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.match(String(ok.headers['content-security-policy']), /^default-src 'self'; script-src 'self'; style-src 'self';/);
    pages.push(ok.body);
    // The bearer token works too (curl, scripts).
    assert.equal((await get(bot.port, path, { authorization: `Bearer ${TOKEN}` })).status, 200, path);
  }
  assert.match(pages[0]!, /<script src="page.js" defer><\/script>/);
  assert.doesNotMatch(pages[0]!, /<script>|<script [^>]*>[^<]/, 'no inline script');
  const overview = JSON.parse(pages[3]!) as Overview;
  assert.equal(overview.checks[0]!.status, 'failing');
  assert.match(overview.checks[0]!.message ?? '', /^missing: .*missing-\[redacted/);
  const live = await openLive(bot.port, { authorization: basic(TOKEN) });
  t.after(() => live.req.destroy());
  assert.equal(live.status, 200);
  assert.equal(live.headers['content-type'], 'text/event-stream; charset=utf-8');
  await waitFor(() => live.events.length > 0, { what: 'the first overview on /live' });
  for (const body of [...pages, ...live.events.map((e) => e.data)]) assert.ok(!body.includes(TOKEN), 'the token never appears on the page');
  // Other routes still ask for the bearer token, not a password.
  const status = await get(bot.port, '/status.json', { authorization: basic(TOKEN) });
  assert.equal(status.status, 401);
  assert.equal(status.headers['www-authenticate'], 'Bearer realm="nightshift"');
  // The Host check stays: a rebound name gets nothing, whatever the credentials.
  assert.equal((await get(bot.port, '/', { authorization: basic(TOKEN), host: `evil.example:${bot.port}` })).status, 421);
});

test('on loopback without a token the page needs no login', TIMEOUT, async (t) => {
  const bot = await startBot(t);
  const page = await get(bot.port, '/');
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>Nightshift<\/title>/);
  const overview = JSON.parse((await get(bot.port, '/overview.json')).body) as Overview;
  assert.deepEqual(
    overview.checks.map((c) => c.name),
    ['heartbeat-file'],
  );
});

test('/live sends an overview on connect and a fresh one after a run; the 21st stream gets 503 until one closes', TIMEOUT, async (t) => {
  const bot = await startBot(t);
  const first = await openLive(bot.port);
  t.after(() => first.req.destroy());
  assert.equal(first.status, 200);
  await waitFor(() => first.events.length >= 1, { what: 'the overview on connect' });
  assert.equal(first.events[0]!.event, 'overview');
  const initial = JSON.parse(first.events[0]!.data) as Overview;
  assert.equal(initial.checks[0]!.name, 'heartbeat-file');
  // Break the file: the run that notices it is followed by an overview saying so.
  rmSync(bot.watched);
  await waitFor(() => first.events.some((e) => (JSON.parse(e.data) as Overview).checks[0]!.status === 'failing'), {
    what: 'an overview with the check failing',
    timeoutMs: 5_000,
  });
  const clients = [first];
  for (let i = 1; i < 20; i++) {
    const client = await openLive(bot.port);
    t.after(() => client.req.destroy());
    assert.equal(client.status, 200, `stream ${i + 1}`);
    clients.push(client);
  }
  const refused = await get(bot.port, '/live');
  assert.equal(refused.status, 503);
  assert.match(refused.body, /too many open live views \(20\)/);
  // Every open stream is fed: the 20th gets its overview on connect like the first.
  await waitFor(() => clients.every((c) => c.events.length > 0), { what: 'an overview on every stream' });
  clients.pop()!.req.destroy();
  const again = await waitFor(
    async () => {
      const client = await openLive(bot.port);
      if (client.status === 200) return client;
      client.req.destroy();
      return undefined;
    },
    { what: 'a slot freed by the closed stream' },
  );
  t.after(() => again.req.destroy());
  assert.equal(again.status, 200);
});

test(
  'the live feed builds one overview per throttle window for all streams, listens only while someone watches, and ends streams on close',
  TIMEOUT,
  async (t) => {
    const listeners = new Set<() => void>();
    let built = 0;
    const summary = () => buildSummary({ now: 10, startedAt: 0, lastPatrolAt: 10, patrolAlive: true, checks: [], states: [] });
    const server = new HttpServer({ log: createCapturedLogger(new Redactor()).logger, maxLiveClients: 3 });
    server.serve({
      summary,
      patrolAlive: () => true,
      metrics: new Metrics(summary),
      overview: () => ({ built: ++built }) as unknown as Overview,
      live: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    });
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    t.after(() => server.close());
    const a = await openLive(port);
    const b = await openLive(port);
    await waitFor(() => a.events.length === 1 && b.events.length === 1, { what: 'the overviews on connect' });
    assert.equal(listeners.size, 1, 'one subscription to the bot, whatever the number of streams');
    const before = built;
    for (let i = 0; i < 50; i++) for (const l of listeners) l();
    await waitFor(() => a.events.length === 2 && b.events.length === 2, { what: 'the folded overview' });
    assert.equal(built - before, 1, 'fifty runs in one tick: one overview, sent to both');
    assert.equal(a.events[1]!.data, b.events[1]!.data);
    a.req.destroy();
    b.req.destroy();
    await waitFor(() => listeners.size === 0, { what: 'the subscription to end with the last stream' });
    const c = await openLive(port);
    await waitFor(() => c.events.length === 1, { what: 'a new stream' });
    const ended = new Promise<void>((resolve) => c.res.on('end', () => resolve()).on('close', () => resolve()));
    await server.close();
    await ended;
    assert.equal(listeners.size, 0);
  },
);
