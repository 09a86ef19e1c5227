// A supervised service for process-check tests: answers GET /health on an
// ephemeral 127.0.0.1 port and announces "pid <pid> port <port>" on stdout.
// It stops cleanly on SIGTERM, as a well-behaved daemon does.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const healthy = req.url === '/health';
  res.writeHead(healthy ? 200 : 404, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify(healthy ? { ok: true, pid: process.pid } : { error: 'not found' }));
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`pid ${process.pid} port ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
