import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { LiveFeed } from '../../src/status-page/live.js';
import { waitFor } from '../helpers/temp.js';

test('an idle stream gets a keepalive comment; a stalled client is dropped instead of piling up overviews', { timeout: 10_000 }, async (t) => {
  const listeners = new Set<() => void>();
  const errors: unknown[] = [];
  const big = JSON.stringify({ padding: 'x'.repeat(256 * 1024) });
  const feed = new LiveFeed({
    snapshot: () => big,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    keepaliveMs: 50,
    throttleMs: 0,
    maxBufferedBytes: 1024 * 1024,
    onError: (err) => void errors.push(err),
  });
  const server = createServer((req, res) => feed.accept(req, res, { 'cache-control': 'no-store' }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    feed.close();
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  const open = () =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/live', agent: false }, resolve);
      req.on('error', reject);
      req.end();
    });

  const reader = await open();
  let text = '';
  reader.setEncoding('utf8').on('data', (d: string) => (text += d));
  await waitFor(() => text.includes(': keepalive\n\n'), { what: 'a keepalive comment' });
  assert.match(text, /^retry: \d+\n\nevent: overview\ndata: \{"padding"/);
  reader.destroy();
  await waitFor(() => feed.size === 0, { what: 'the closed stream to be dropped' });

  // A client that never reads: its socket buffers fill, then the feed lets it go.
  const stalled = await open();
  stalled.pause();
  assert.equal(feed.size, 1);
  await waitFor(
    () => {
      for (const l of listeners) l();
      return feed.size === 0;
    },
    { what: 'the stalled client dropped', intervalMs: 10 },
  );
  stalled.destroy();
  assert.deepEqual(errors, []);
  assert.equal(listeners.size, 0, 'nobody watches: the feed stops listening');
});
