import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, rootCertificates, type PeerCertificate, type TLSSocket } from 'node:tls';
import { z } from 'zod';
import { formatDuration } from '../util/duration.js';
import { describeNetworkError } from '../util/network.js';
import type { CheckKind, CheckResult } from './types.js';

const params = z.strictObject({
  /** Host name or address to connect to. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port that speaks TLS. */
  port: z.number().int().min(1).max(65535).default(443),
  /**
   * The name sent as SNI and checked against the certificate. Default: `host` when it is a name;
   * for an address no SNI is sent and the certificate must name the address itself.
   */
  servername: z
    .string()
    .min(1)
    .refine((name) => isIP(name) === 0, { message: 'servername is a DNS name (SNI never carries an IP address); leave it out to check host' })
    .optional(),
  /** Fewer days left than this fails. */
  minDays: z.number().int().min(0).default(14),
  /** A PEM file of CA certificates to trust besides the public roots (a private CA, a self-signed certificate). */
  ca: z.string().min(1).optional(),
  /** When false, only the validity dates are judged: an untrusted or name-mismatched certificate passes. */
  verify: z.boolean().default(true),
});

type TlsParams = z.output<typeof params>;

const DAY_MS = 86_400_000;

/** OpenSSL's own wording for the verification codes an operator meets in practice. */
const VERIFY_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  CERT_HAS_EXPIRED: 'a certificate in its chain has expired',
  CERT_NOT_YET_VALID: 'a certificate in its chain is not yet valid',
  CERT_REVOKED: 'certificate revoked',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
  INVALID_CA: 'invalid CA certificate',
  INVALID_PURPOSE: 'unsupported certificate purpose',
  PATH_LENGTH_EXCEEDED: 'path length constraint exceeded',
};

/** Codes that mean "nobody you trust vouches for it": setting `ca` is the usual fix. */
const UNKNOWN_ISSUER = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
]);

/**
 * A TLS endpoint's certificate: days until it expires, and (unless `verify`
 * is false) whether it is trusted and names the host. The connection is closed
 * right after the handshake; nothing is sent.
 */
export const tlsCheck: CheckKind<TlsParams> = {
  kind: 'tls',
  description: "a TLS endpoint's certificate is trusted, names the host and has at least minDays left",
  params,
  create(p) {
    const sni = p.servername ?? (isIP(p.host) === 0 ? p.host : undefined);
    const expectedName = sni ?? p.host;
    const target = isIP(p.host) === 6 ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
    return {
      async run(ctx): Promise<CheckResult> {
        const base = { host: p.host, port: p.port, ...(sni !== undefined ? { servername: sni } : {}) };
        let trusted: string[] | undefined;
        if (p.ca !== undefined) {
          const loaded = await loadCa(p.ca);
          if ('problem' in loaded) return { ok: false, message: loaded.problem, details: { ...base, ca: p.ca } };
          trusted = [...rootCertificates, loaded.pem];
        }
        const handshake = await handshakeWith({ host: p.host, port: p.port, servername: sni, ca: trusted, target, signal: ctx.signal });
        if (!handshake.ok) return { ok: false, message: handshake.message, details: { ...base, ...handshake.details } };
        return judge(p, handshake, { expectedName, target, now: ctx.now(), base });
      },
    };
  },
};

async function loadCa(path: string): Promise<{ pem: string } | { problem: string }> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: `cannot read ca file ${path}: ${code ?? (err as Error).message}` };
  }
  // Node would quietly trust nothing from a file without a PEM certificate; the operator must hear of the mistake.
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return { problem: `ca file ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  return { pem };
}

interface Handshake {
  ok: true;
  certificate: PeerCertificate;
  /** OpenSSL's verification code, null when the chain is trusted. */
  verifyCode: string | null;
  protocol: string | null;
  latencyMs: number;
}

type HandshakeFailure = { ok: false; message: string; details: Record<string, unknown> };

function handshakeWith(options: {
  host: string;
  port: number;
  servername: string | undefined;
  ca: string[] | undefined;
  target: string;
  signal: AbortSignal;
}): Promise<Handshake | HandshakeFailure> {
  const { signal, target } = options;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, message: `aborted before connecting to ${target}`, details: { latencyMs: 0, errorCode: 'ABORTED' } });
      return;
    }
    let socket: TLSSocket;
    try {
      socket = connect({
        host: options.host,
        port: options.port,
        ...(options.servername !== undefined ? { servername: options.servername } : {}),
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
        // Trust and name are judged after the handshake, so an untrusted certificate still shows its dates.
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
    } catch (err) {
      // A CA file Node cannot parse fails here, before any connection.
      resolve({
        ok: false,
        message: `cannot use the ca file: ${(err as Error).message}`,
        details: { latencyMs: 0, errorCode: (err as NodeJS.ErrnoException).code },
      });
      return;
    }
    let connected = false;
    let settled = false;
    const finish = (result: Handshake | HandshakeFailure) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (result.ok) hangUp(socket);
      else socket.destroy();
      resolve(result);
    };
    const onAbort = () => {
      const latencyMs = elapsed();
      const what = connected ? 'no TLS handshake with' : 'no connection to';
      finish({ ok: false, message: `${what} ${target} after ${latencyMs} ms (aborted)`, details: { latencyMs, errorCode: 'ABORTED' } });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => (connected = true));
    socket.once('secureConnect', () => {
      const verifyCode = socket.authorizationError ? String(socket.authorizationError) : null;
      finish({ ok: true, certificate: socket.getPeerCertificate(), verifyCode, protocol: socket.getProtocol(), latencyMs: elapsed() });
    });
    // `on`, not `once`: an error after the result is settled must still have a listener, or it would crash the bot.
    socket.on('error', (err) => {
      const { message, code } = describeNetworkError(err);
      // After the TCP connect, the error is the handshake's (a plain-text port, a TLS version nobody shares).
      const text = connected ? `TLS handshake with ${target} failed: ${message}` : message;
      finish({ ok: false, message: text, details: { latencyMs: elapsed(), errorCode: code } });
    });
  });
}

/** How long a polite close may take before the socket is simply destroyed. */
const HANG_UP_MS = 1000;

/**
 * Ends the connection with a close_notify after the client's last handshake message is out: a plain destroy
 * right after a TLS 1.3 handshake drops that message, and the server logs a failed handshake on every patrol.
 */
function hangUp(socket: TLSSocket): void {
  const timer = setTimeout(() => socket.destroy(), HANG_UP_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end();
}

function judge(
  p: TlsParams,
  handshake: Handshake,
  { expectedName, target, now, base }: { expectedName: string; target: string; now: number; base: Record<string, unknown> },
): CheckResult {
  const cert = handshake.certificate;
  if (!cert.raw || !cert.valid_to) {
    return { ok: false, message: `${target} completed a TLS handshake without a certificate`, details: { ...base, latencyMs: handshake.latencyMs } };
  }
  const validTo = Date.parse(cert.valid_to);
  const validFrom = Date.parse(cert.valid_from);
  const msLeft = validTo - now;
  const names = certificateNames(cert);
  const nameError = checkServerIdentity(expectedName, cert);
  const details: Record<string, unknown> = {
    ...base,
    daysLeft: wholeDays(msLeft),
    validTo: new Date(validTo).toISOString(),
    validFrom: new Date(validFrom).toISOString(),
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    altNames: names,
    fingerprint256: cert.fingerprint256,
    serialNumber: cert.serialNumber,
    protocol: handshake.protocol,
    latencyMs: handshake.latencyMs,
    verified: p.verify,
    trusted: handshake.verifyCode === null,
    ...(handshake.verifyCode !== null ? { verifyError: handshake.verifyCode } : {}),
    nameMatches: nameError === undefined,
  };
  const subject = `certificate for ${expectedName}`;
  const fail = (message: string): CheckResult => ({ ok: false, message, details });

  // The leaf's own dates come first: OpenSSL reports only one code, and an expired leaf hides any other.
  if (msLeft <= 0) return fail(`${subject} expired ${describeSpan(-msLeft)} ago (${formatDate(validTo, -msLeft < DAY_MS)})`);
  if (validFrom > now) return fail(`${subject} is not valid until ${formatDate(validFrom, true)} (its notBefore is in the future)`);
  if (p.verify && handshake.verifyCode !== null) {
    const code = handshake.verifyCode;
    const reason = VERIFY_REASONS[code] ?? code.toLowerCase().replaceAll('_', ' ');
    const hint = UNKNOWN_ISSUER.has(code) && p.ca === undefined ? '; set ca to the PEM file of its CA to trust it' : '';
    return fail(`${subject} is not trusted: ${reason} (${code})${hint}`);
  }
  if (p.verify && nameError !== undefined) {
    return fail(`${subject} does not cover that name (it names ${listNames(names)})`);
  }
  if (msLeft < p.minDays * DAY_MS) {
    return fail(`${subject} expires in ${describeSpan(msLeft)} (${formatDate(validTo, msLeft < DAY_MS)}; min ${p.minDays})`);
  }
  return { ok: true, message: `${subject} valid for ${describeSpan(msLeft, 'more ')} (until ${formatDate(validTo, false)})`, details };
}

/** Whole days, rounded toward zero: 3 days and 5 hours ago is -3. */
function wholeDays(ms: number): number {
  const days = Math.trunc(ms / DAY_MS);
  return days === 0 ? 0 : days;
}

/** "82 days", "1 day" ("82 more days" with `more`); under a day, "5h 12m" ("5h 12m more"). */
function describeSpan(ms: number, more = ''): string {
  const days = Math.floor(ms / DAY_MS);
  if (days === 0) return more ? `${formatDuration(ms)} ${more.trim()}` : formatDuration(ms);
  return days === 1 ? `1 ${more}day` : `${days} ${more}days`;
}

/** "2026-12-12"; with the time when the span is short enough for hours to matter. */
function formatDate(ms: number, withTime: boolean): string {
  const iso = new Date(ms).toISOString();
  return withTime ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso.slice(0, 10);
}

/** "CN=localhost, O=Acme": the parts of a subject or issuer in the order the certificate gives them. */
function distinguishedName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .flatMap(([key, value]) => (Array.isArray(value) ? value.map((one) => `${key}=${String(one)}`) : [`${key}=${String(value)}`]))
    .join(', ');
}

/** The names a certificate is for: its subjectAltName entries ("DNS:localhost, IP Address:127.0.0.1"), else its CN. */
function certificateNames(cert: PeerCertificate): string[] {
  if (cert.subjectaltname) {
    return cert.subjectaltname
      .split(', ')
      .map((entry) => entry.replace(/^(DNS|IP Address):/, ''))
      .filter((entry) => entry !== '');
  }
  const cn = (cert.subject as Record<string, unknown> | undefined)?.CN;
  return typeof cn === 'string' ? [cn] : [];
}

const LISTED_NAMES = 5;

function listNames(names: string[]): string {
  if (names.length === 0) return 'no name at all';
  const shown = names.slice(0, LISTED_NAMES).join(', ');
  return names.length > LISTED_NAMES ? `${shown} and ${names.length - LISTED_NAMES} more` : shown;
}
