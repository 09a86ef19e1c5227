import { once } from 'node:events';
import { createServer } from 'node:net';

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
