import { connect } from 'node:net';

/** One request as a program on the network may send it, Content-Length lies included. */
export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** What Content-Length claims, when it is not the body's length; undefined sends the true length. */
  claimedLength?: number | undefined;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const RESPONSE_HEAD = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n/;

/**
 * Sends `request` over a fresh TCP connection and reads the answer until the
 * server closes it (`connection: close`). A body shorter than claimed is
 * followed by a half-close, as a client that gave up would; the answer is
 * then whatever the server does about it (undefined: it closed without one).
 */
export async function rawRequest(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawResponse | undefined> {
  const length = request.claimedLength ?? request.body.length;
  const head = [
    `${request.method} ${request.path} HTTP/1.1`,
    ...Object.entries({ connection: 'close', ...request.headers, 'content-length': String(length) }).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${request.method} ${request.path}`));
    }, timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    // A reset after the answer (the server closing while the lie is still unread) is not a failure of the server.
    socket.on('error', () => {});
  });
  socket.write(head);
  socket.end(request.body);
  await closed;
  const answer = Buffer.concat(chunks);
  const headEnd = answer.indexOf('\r\n\r\n');
  const match = headEnd < 0 ? null : RESPONSE_HEAD.exec(answer.subarray(0, headEnd + 4).toString('latin1'));
  if (!match) return undefined;
  const headers = Object.fromEntries(
    match[2]!
      .split('\r\n')
      .filter(Boolean)
      .map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
  );
  const rest = answer.subarray(headEnd + 4);
  return { status: Number(match[1]), headers, body: (headers['transfer-encoding'] === 'chunked' ? dechunk(rest) : rest).toString('utf8') };
}

/** The body of a chunked answer: hex sizes, each chunk on its own line, a 0 chunk at the end. */
function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    const size = eol < 0 ? 0 : parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
