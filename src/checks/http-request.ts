import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What one exchange (redirects followed) came back with. */
export interface HttpAnswer {
  status: number;
  /** At most `maxBodyBytes` of the body. */
  bytes: Buffer;
  /** The body was longer than `maxBodyBytes`; the rest was not downloaded. */
  truncated: boolean;
  /** The URL that answered (differs from the one asked when a redirect was followed). */
  finalUrl: URL;
  redirected: boolean;
}

export interface HttpRequestOptions {
  method: string;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
  maxBodyBytes: number;
}

/** As fetch: at most this many redirects are followed. */
const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that carry credentials: not sent on to another origin by a redirect (as fetch does for authorization). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/**
 * One HTTP(S) request with redirects followed, on Node's own http module.
 * The http check runs this every few seconds per endpoint: fetch (undici,
 * web streams) cost about 3 ms of CPU and, loaded, 12 to 19 MiB of memory
 * more than this for the same exchange (bench:idle). Errors are the socket's
 * own (ECONNREFUSED, ECONNRESET, HPE_*, an AbortError when `signal` fires).
 */
export async function requestFollowingRedirects(url: URL, options: HttpRequestOptions): Promise<HttpAnswer> {
  let current = url;
  let method = options.method;
  let headers: Record<string, string> = { ...options.headers };
  for (let redirects = 0; ; redirects++) {
    const response = await send(current, method, headers, options.signal);
    const location = response.headers.location;
    if (!REDIRECT_STATUSES.has(response.statusCode ?? 0) || location === undefined) {
      const body = await readLimited(response, options.maxBodyBytes);
      return { status: response.statusCode ?? 0, ...body, finalUrl: current, redirected: redirects > 0 };
    }
    // The redirect's own body is not wanted; dropping it frees the socket.
    response.resume();
    if (redirects === MAX_REDIRECTS) throw Object.assign(new Error(`more than ${MAX_REDIRECTS} redirects`), { code: 'TOO_MANY_REDIRECTS' });
    const next = new URL(location, current);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw Object.assign(new Error(`redirected to a ${next.protocol} URL`), { code: 'BAD_REDIRECT' });
    }
    if (next.origin !== current.origin) headers = withoutCredentials(headers);
    // 303, and 301/302 after a POST, become a GET without a body (what browsers and fetch do).
    if (response.statusCode === 303 || ((response.statusCode === 301 || response.statusCode === 302) && method === 'POST')) method = 'GET';
    current = next;
  }
}

function send(url: URL, method: string, headers: OutgoingHttpHeaders, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers, signal }, resolve);
    request.once('error', reject);
    request.end();
  });
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  const kept = { ...headers };
  for (const name of CREDENTIAL_HEADERS) delete kept[name];
  return kept;
}

/** Reads at most `limit` bytes of the body, then closes the connection instead of downloading the rest. */
function readLimited(response: IncomingMessage, limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      const room = limit - total;
      if (chunk.length > room) {
        chunks.push(chunk.subarray(0, room));
        total += room;
        response.off('data', onData);
        response.destroy();
        resolve({ bytes: Buffer.concat(chunks, total), truncated: true });
        return;
      }
      chunks.push(chunk);
      total += chunk.length;
    };
    response.on('data', onData);
    response.once('end', () => resolve({ bytes: Buffer.concat(chunks, total), truncated: false }));
    // After a truncation (destroy) the promise is settled already and this is a no-op.
    response.once('error', reject);
  });
}
