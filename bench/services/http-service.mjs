// The service the recovery benchmark kills: a small Node HTTP server on the port
// given as its first argument, answering GET /health with its pid.
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const server = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ pid: process.pid, uptimeMs: Math.round(process.uptime() * 1000) }));
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
