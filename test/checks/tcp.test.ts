import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { tcpCheck } from '../../src/checks/tcp.js';
import type { Probe } from '../../src/checks/types.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { closedPort } from '../helpers/net.js';

function probe(t: TestContext, params: Record<string, unknown>): Probe {
  return tcpCheck.create(tcpCheck.params.parse(params), testCheckEnv({ dataDir: tempDir(t) }).env);
}
const ctx = () => ({ signal: new AbortController().signal, now: Date.now });

async function listeningPort(t: TestContext): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return { port: (server.address() as { port: number }).port, accepted: () => accepted };
}

test('tcp: a listening port is healthy and the connection is closed again', async (t) => {
  const { port, accepted } = await listeningPort(t);
  const result = await probe(t, { port }).run(ctx());
  assert.equal(result.ok, true, result.message);
  assert.match(result.message, new RegExp(`^127\\.0\\.0\\.1:${port} accepted a connection in \\d+ ms$`));
  assert.equal(typeof result.details!.latencyMs, 'number');
  assert.equal(result.details!.errorCode, undefined);
  await waitFor(() => accepted() === 1, { what: 'the server to see the connection' });
});

test('tcp: a closed port fails with ECONNREFUSED; a bad port is a config error', async (t) => {
  const port = await closedPort();
  const result = await probe(t, { host: '127.0.0.1', port }).run(ctx());
  assert.equal(result.ok, false);
  assert.equal(result.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  assert.equal(result.details!.errorCode, 'ECONNREFUSED');
  assert.throws(() => tcpCheck.params.parse({ port: 70000 }));
  assert.throws(() => tcpCheck.params.parse({ host: 'db' }), /port/);
});

test('tcp: an abort ends a connection attempt that the target never answers', async (t) => {
  // A listener whose process is blocked never accepts; once its accept queue (backlog 1: two
  // connections on Linux) is full, the kernel drops further SYNs and a connect hangs.
  const blocked = spawn(process.execPath, [
    '-e',
    `const s = require('node:net').createServer();
     s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       process.stdout.write(s.address().port + '\\n');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
     });`,
  ]);
  t.after(() => blocked.kill('SIGKILL'));
  const [portLine] = (await once(blocked.stdout, 'data')) as [Buffer];
  const port = Number(portLine.toString().trim());
  const fillers: Socket[] = [];
  t.after(() => fillers.forEach((socket) => socket.destroy()));
  for (let i = 0; i < 2; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    fillers.push(socket);
    await once(socket, 'connect');
  }

  const controller = new AbortController();
  let settled = false;
  const running = probe(t, { port })
    .run({ signal: controller.signal, now: Date.now })
    .finally(() => (settled = true));
  // Proving that nothing happens needs a window; no event marks "still waiting".
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(settled, false, 'the connection attempt should still be pending');
  const abortedAt = performance.now();
  controller.abort();
  const result = await running;
  assert.ok(performance.now() - abortedAt < 500, 'the run ends promptly after the abort');
  assert.equal(result.ok, false);
  assert.match(result.message, new RegExp(`^no connection to 127\\.0\\.0\\.1:${port} after \\d+ ms \\(aborted\\)$`));
  assert.equal(result.details!.errorCode, 'ABORTED');
});

test('tcp: an already aborted run does not connect at all', async (t) => {
  const { port, accepted } = await listeningPort(t);
  const controller = new AbortController();
  controller.abort();
  const result = await probe(t, { port }).run({ signal: controller.signal, now: Date.now });
  assert.equal(result.ok, false);
  assert.match(result.message, /aborted/);
  assert.equal(accepted(), 0);
});
