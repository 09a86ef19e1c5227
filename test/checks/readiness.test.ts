import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { runCommand } from '../../src/exec.js';
import { describeStillStarting, mostTellingLine, probeReadiness, readyParam, startGraceParam, watchStartup } from '../../src/checks/readiness.js';
import { closedPort, squatPort } from '../helpers/net.js';

/** An HTTP server on an ephemeral loopback port, closed (with its connections) when the test ends; its port. */
async function httpServer(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.close();
    server.closeAllConnections();
  });
  return (server.address() as AddressInfo).port;
}

test('readiness params: a port (host defaults to loopback) or an http(s) URL without credentials; anything else is refused clearly', () => {
  assert.deepEqual(readyParam.parse({ port: 8080 }), { port: 8080, host: '127.0.0.1' });
  assert.deepEqual(readyParam.parse({ port: 5432, host: 'db.local' }), { port: 5432, host: 'db.local' });
  assert.deepEqual(readyParam.parse({ http: 'http://127.0.0.1:8080/health' }), { http: 'http://127.0.0.1:8080/health' });
  assert.equal(readyParam.parse(undefined), undefined);
  for (const bad of [
    { port: 0 },
    { port: 70_000 },
    { http: 'ftp://127.0.0.1/' },
    { http: 'http://user:pw@127.0.0.1/health' },
    { port: 80, http: 'http://x/' },
    {},
  ]) {
    const parsed = readyParam.safeParse(bad);
    assert.equal(parsed.success, false, JSON.stringify(bad));
  }
  assert.match(readyParam.safeParse({ tcp: 80 }).error!.message, /expected \{ port: 8080 \} \(host optional\) or \{ http:/);
  assert.equal(startGraceParam.parse(undefined), 1000);
  assert.equal(startGraceParam.parse('250ms'), 250);
  assert.equal(startGraceParam.safeParse('0s').success, false);
});

test('readiness probe: a listening port is ready, a closed one says why', async (t) => {
  const port = await squatPort(t);
  assert.deepEqual(await probeReadiness({ port, host: '127.0.0.1' }), { ready: true });
  const closed = await probeReadiness({ port: await closedPort(), host: '127.0.0.1' });
  assert.equal(closed.ready, false);
  assert.match((closed as { why: string }).why, /ECONNREFUSED/);
});

test('readiness probe: only a 2xx answer is ready; a redirect is not followed; a server that never answers is given up on in time', async (t) => {
  const okPort = await httpServer(t, (_req, res) => res.writeHead(204).end());
  assert.deepEqual(await probeReadiness({ http: `http://127.0.0.1:${okPort}/health` }), { ready: true });

  const warming = await httpServer(t, (_req, res) => res.writeHead(503).end('warming up'));
  assert.deepEqual(await probeReadiness({ http: `http://127.0.0.1:${warming}/health` }), { ready: false, why: 'HTTP 503' });

  let followed = false;
  const elsewhere = await httpServer(t, (_req, res) => {
    followed = true;
    res.writeHead(200).end();
  });
  const redirecting = await httpServer(t, (_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${elsewhere}/` }).end());
  assert.deepEqual(await probeReadiness({ http: `http://127.0.0.1:${redirecting}/health` }), { ready: false, why: 'HTTP 302' });
  assert.equal(followed, false, 'a readiness probe goes to the configured address only');

  const hanging = await httpServer(t, () => {
    // Never answers: a service stuck in its start-up.
  });
  const started = performance.now();
  const answer = await probeReadiness({ http: `http://127.0.0.1:${hanging}/health` }, undefined, 200);
  assert.deepEqual(answer, { ready: false, why: 'no answer in time' });
  assert.ok(performance.now() - started < 1500, `the probe took ${Math.round(performance.now() - started)} ms`);
});

test('start-up watch: started after the grace, gone as soon as the service ends, ready first when it answers, starting when the signal fires', async (t) => {
  const never = new AbortController().signal;
  let up = true;
  const stillUp = () => (up ? undefined : 'exited');

  const graceful = await watchStartup({ graceMs: 200, upForMs: 0, stillUp, pollMs: 50, signal: never });
  assert.equal(graceful.state, 'started');
  assert.ok(graceful.upMs >= 200, `started after ${graceful.upMs} ms`);

  // Already up longer than the grace (a service Nightshift found running): started at once.
  assert.deepEqual(await watchStartup({ graceMs: 200, upForMs: 5000, stillUp, pollMs: 50, signal: never }), { state: 'started', via: 'grace', upMs: 5000 });

  setTimeout(() => (up = false), 100);
  const gone = await watchStartup({ graceMs: 5000, upForMs: 0, stillUp, pollMs: 20, signal: never });
  assert.equal(gone.state, 'gone');
  assert.equal((gone as { gone: string }).gone, 'exited');
  assert.ok(gone.upMs < 1000, `noticed after ${gone.upMs} ms`);

  up = true;
  const port = await squatPort(t);
  const ready = await watchStartup({ graceMs: 5000, ready: { port, host: '127.0.0.1' }, upForMs: 0, stillUp, pollMs: 20, signal: never });
  assert.equal(ready.state, 'started');
  assert.equal((ready as { via: string }).via, 'ready');

  const waiting = await watchStartup({ graceMs: 10_000, upForMs: 4000, stillUp, pollMs: 20, signal: AbortSignal.timeout(100) });
  assert.equal(waiting.state, 'starting');
  assert.match(describeStillStarting(waiting.upMs, 10_000), /^still starting \(up 4s of a 10s start grace\)$/);
  assert.equal(describeStillStarting(9_990, 10_000), 'still starting (up 9s of a 10s start grace)', 'never claims the whole grace');
});

test('most telling line: the error a dying Node or Python service printed, not its stack frames or runtime banner', async (t) => {
  const port = await squatPort(t);
  const nodeCrash = await runCommand([process.execPath, '-e', `require('node:net').createServer().listen(${port}, '127.0.0.1')`], { env: process.env });
  assert.equal(nodeCrash.exitCode, 1);
  assert.equal(mostTellingLine(nodeCrash.stderr), `Error: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);

  const python = await runCommand(['python3', '-c', `import socket; socket.socket().bind(('127.0.0.1', ${port}))`], { env: process.env });
  if (python.spawnError) t.diagnostic('python3 not installed: its traceback is not checked');
  else assert.equal(mostTellingLine(python.stderr), 'OSError: [Errno 98] Address already in use');

  assert.equal(mostTellingLine('starting\nFATAL: could not open config /etc/app.yml\n'), 'FATAL: could not open config /etc/app.yml');
  assert.equal(mostTellingLine('loading\nconnect ECONNREFUSED 127.0.0.1:5432\nshutting down\n'), 'connect ECONNREFUSED 127.0.0.1:5432');
  assert.equal(mostTellingLine('just some output\nbye\n'), 'bye');
  assert.equal(mostTellingLine(''), '');
  assert.ok(mostTellingLine(`Error: ${'x '.repeat(500)}`).length <= 200);
});
