import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';

/** Local things for checks to look at, with counts of what the bot asked of them. */
export interface Targets {
  /** Ports of the HTTP servers (each answers 200 "ok" to any GET). */
  httpPorts: number[];
  /** Ports of the TCP servers (each accepts and waits for the client to close). */
  tcpPorts: number[];
  /** Absolute paths of the files, freshly written. */
  files: string[];
  /** HTTP requests answered so far. */
  readonly httpRequests: number;
  /** TCP connections accepted so far. */
  readonly tcpConnections: number;
  /** Closes every server and open connection. */
  stop(): Promise<void>;
}

export interface TargetOptions {
  httpServers: number;
  tcpServers: number;
  fileCount: number;
  /** Folder the files are written into (created if needed). */
  fileDir: string;
}

/** Starts HTTP and TCP servers on 127.0.0.1 (ephemeral ports) and writes the files, in this process. */
export async function startTargets(options: TargetOptions): Promise<Targets> {
  let httpRequests = 0;
  let tcpConnections = 0;
  const httpServers: HttpServer[] = [];
  const tcpServers: TcpServer[] = [];
  const sockets = new Set<Socket>();

  for (let i = 0; i < options.httpServers; i++) {
    const server = createHttpServer((req, res) => {
      httpRequests++;
      // Drain any request body so keep-alive connections stay usable.
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
    httpServers.push(server);
  }
  for (let i = 0; i < options.tcpServers; i++) {
    const server = createTcpServer((socket) => {
      tcpConnections++;
      sockets.add(socket);
      // The probe closes (or resets) at once; a reset is expected and not worth reporting.
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
      socket.resume();
    });
    tcpServers.push(server);
  }
  const listening = [...httpServers, ...tcpServers].map(async (server) => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  });
  const ports = await Promise.all(listening);

  mkdirSync(options.fileDir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < options.fileCount; i++) {
    const file = join(options.fileDir, `file-${i}.dat`);
    writeFileSync(file, `bench file ${i}\n`);
    files.push(file);
  }

  return {
    httpPorts: ports.slice(0, httpServers.length),
    tcpPorts: ports.slice(httpServers.length),
    files,
    get httpRequests() {
      return httpRequests;
    },
    get tcpConnections() {
      return tcpConnections;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        [...httpServers, ...tcpServers].map(
          (server) =>
            new Promise<void>((resolve) => {
              if ('closeAllConnections' in server) server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}
