import { connect } from 'node:net';

/** How long a port may take to connect and answer the first line. */
const PROBE_TIMEOUT_MS = 1_000;

/**
 * Whether a port speaks HTTP: sends one `GET /` and reads the status line.
 * Resolves with the status code, or undefined for anything else (no answer,
 * a banner, TLS, a closed connection). Never rejects; never follows a redirect.
 */
export function probeHttp(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<number | undefined> {
  return new Promise((resolve) => {
    let answer = '';
    let settled = false;
    const socket = connect({ host, port });
    const finish = (status: number | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      const hostHeader = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      socket.write(`GET / HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: nightshift-init\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: string) => {
      answer += chunk;
      const match = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(answer);
      if (match) finish(Number(match[1]));
      else if (answer.length >= 16 || answer.includes('\n')) finish(undefined);
    });
    socket.on('error', () => finish(undefined));
    socket.on('close', () => finish(undefined));
  });
}
