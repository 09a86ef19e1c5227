import { PAGE_FILES } from '../status-page/assets.js';
import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Who may talk to Nightshift's HTTP server, as pure functions.
 *
 * DNS rebinding: a web page the operator opens can make the browser send
 * requests to 127.0.0.1 under the page's own host name. The server answers
 * only requests whose Host is one of its own names: an IP literal (a page
 * cannot rebind those), `localhost`, the names configured in
 * `http.allowedHosts` and the host of `chat.publicUrl`.
 */
export interface AccessPolicy {
  /** Host names (no port) accepted besides IP literals and localhost, lower case. */
  allowedHosts: ReadonlySet<string>;
  /** Bearer token every route but the open ones needs; undefined: none needed (loopback only). */
  token?: string;
  /** NIGHTSHIFT_AGENT_TOKEN: what POST /events needs (and the only thing it accepts); unset: the route is off. */
  agentToken?: string;
  /** NIGHTSHIFT_ALERTMANAGER_TOKEN: what POST /alertmanager needs; unset: the route is off. */
  alertmanagerToken?: string;
}

/** Routes that must answer without a token: supervisors' liveness probes, jobs' pings, signed ntfy buttons. */
export const OPEN_PATHS = [/^\/healthz$/, /^\/ping\//, /^\/answer\//, /^\/act\//];

/**
 * Routes other programs post to, each guarded by its own token instead of the
 * HTTP token (an agent's token reads no /status.json, the operator's opens no
 * door to fake events); without their token they are off, whatever the address.
 */
export const INGEST_PATHS = [/^\/events(\/|$)/, /^\/alertmanager$/];

/** Whether a path is an ingest route (its own token, checked by the route). */
export function isIngestPath(pathname: string): boolean {
  return INGEST_PATHS.some((pattern) => pattern.test(pathname));
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and "localhost": addresses no other machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/** The host name of a Host header value ("Example.lan:8787" → "example.lan", "[::1]:80" → "::1"); undefined when malformed. */
export function hostName(header: string): string | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/@]+))(?::\d{1,5})?$/.exec(header.trim());
  if (!match) return undefined;
  return (match[1] ?? match[2]!).toLowerCase().replace(/\.$/, '');
}

/** Whether a request's Host header names this server. */
export function hostAllowed(header: string | undefined, policy: AccessPolicy): boolean {
  if (header === undefined) return false;
  const name = hostName(header);
  if (name === undefined) return false;
  return isIP(name) !== 0 || name === 'localhost' || policy.allowedHosts.has(name);
}

/** Whether an Authorization header carries the token (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return false;
  return sameSecret(match[1]!, token);
}

/**
 * The status page's routes: a browser cannot send a bearer header, so with
 * the token set these also take HTTP Basic with the token as the password.
 */
export const PAGE_PATHS: ReadonlySet<string> = new Set([...PAGE_FILES.map((f) => f.path), '/overview.json', '/live']);

/** Whether a path is one of the status page's (Basic auth accepted besides the bearer token). */
export function isPagePath(pathname: string): boolean {
  return PAGE_PATHS.has(pathname);
}

/** The challenge that makes a browser ask for the user name and password (any name; the token is the password). */
export const BASIC_CHALLENGE = 'Basic realm="nightshift", charset="UTF-8"';

/** Whether an Authorization header is HTTP Basic with the token as the password, whatever the user name (compared in constant time). */
export function basicMatches(header: string | undefined, token: string): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  return sameSecret(decoded.slice(colon + 1), token);
}

/** Hashing first gives equal lengths, so the comparison time says nothing about the token. */
function sameSecret(given: string, token: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** Whether a path answers without the token. */
export function isOpenPath(pathname: string): boolean {
  return OPEN_PATHS.some((pattern) => pattern.test(pathname));
}

/** Where the HTTP server listens. */
export interface ListenAddress {
  host: string;
  port: number;
}
