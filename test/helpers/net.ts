import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/** A port nothing listens on: bound on 127.0.0.1 once, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A TCP server on an ephemeral loopback port, closed when the test ends: the squatter on a service's port. */
export async function squatPort(t: TestContext): Promise<number> {
  const squatter = createServer();
  squatter.listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  t.after(() => squatter.close());
  return (squatter.address() as AddressInfo).port;
}
