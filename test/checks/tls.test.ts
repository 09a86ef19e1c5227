import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createServer, type TLSSocket } from 'node:tls';
import { tlsCheck } from '../../src/checks/tls.js';
import type { Probe } from '../../src/checks/types.js';
import { certificateAuthority, issueCertificate, opensslMissing, selfSignedCertificate } from '../helpers/certs.js';
import { testCheckEnv } from '../helpers/check-env.js';
import { closedPort } from '../helpers/net.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const DAY = 86_400_000;

function probe(t: TestContext, params: Record<string, unknown>): Probe {
  return tlsCheck.create(tlsCheck.params.parse(params), testCheckEnv({ dataDir: tempDir(t) }).env);
}
const ctx = () => ({ signal: new AbortController().signal, now: Date.now });

/** False (and the test skipped, saying why) when openssl cannot make the certificates. */
function canMakeCertificates(t: TestContext): boolean {
  const missing = opensslMissing();
  if (missing) t.skip(missing);
  return missing === undefined;
}

/**
 * A real TLS server on 127.0.0.1 presenting `cert` (a PEM chain). It records every connection: the SNI it
 * asked for, whether the handshake completed, and whether the client has hung up again.
 */
async function serveTls(t: TestContext, served: { key: string; cert: string }) {
  const handshakes: { servername: string | false | null; closed: boolean }[] = [];
  const server = createServer({ key: served.key, cert: served.cert }, (socket: TLSSocket) => {
    const seen = { servername: socket.servername, closed: false };
    handshakes.push(seen);
    socket.on('error', () => {
      // A client hanging up is not the server's problem here.
    });
    socket.on('close', () => (seen.closed = true));
  });
  const failedHandshakes: string[] = [];
  server.on('tlsClientError', (err) => failedHandshakes.push(err.message));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return { port: (server.address() as { port: number }).port, handshakes, failedHandshakes };
}

/** A CA in a temp folder and a leaf it signed, valid from an hour ago until `notAfter`. */
function caAndLeaf(t: TestContext, notAfter: Date, options: { altNames?: string[]; notBefore?: Date } = {}) {
  const dir = tempDir(t);
  const authority = certificateAuthority(dir);
  const leaf = issueCertificate(authority, { notAfter, ...options });
  return { authority, leaf, dir };
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

test('tls: a certificate from a trusted CA with months left is healthy, with its evidence', async (t) => {
  if (!canMakeCertificates(t)) return;
  const notAfter = Date.now() + 82 * DAY + 6 * 3_600_000;
  const { authority, leaf } = caAndLeaf(t, new Date(notAfter));
  const { port, handshakes, failedHandshakes } = await serveTls(t, leaf);

  const result = await probe(t, { port, ca: authority.certPath }).run(ctx());
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, `certificate for 127.0.0.1 valid for 82 more days (until ${isoDay(notAfter)})`);
  const details = result.details!;
  assert.equal(details.daysLeft, 82);
  assert.equal(details.validTo, new Date(Math.floor(notAfter / 1000) * 1000).toISOString());
  assert.equal(details.subject, 'CN=localhost');
  assert.equal(details.issuer, 'CN=Nightshift Test CA');
  assert.deepEqual(details.altNames, ['localhost', '127.0.0.1']);
  assert.match(details.fingerprint256 as string, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(details.trusted, true);
  assert.equal(details.nameMatches, true);
  assert.equal(details.servername, undefined, 'no SNI for an address');
  // The probe only shakes hands: the server sees one connection, closed again.
  await waitFor(() => handshakes.length === 1 && handshakes[0]!.closed, { what: 'the probe to hang up' });
  assert.equal(handshakes[0]!.servername, false);
  assert.deepEqual(failedHandshakes, [], 'the probe completes the handshake before it hangs up, so the server logs no error');

  const named = await probe(t, { host: 'localhost', port, ca: authority.certPath }).run(ctx());
  assert.equal(named.ok, true, named.message);
  assert.match(named.message, /^certificate for localhost valid for 82 more days/);
  await waitFor(() => handshakes.length === 2, { what: 'the second handshake' });
  assert.equal(handshakes[1]!.servername, 'localhost', 'a host name is sent as SNI');
});

test('tls: a certificate expiring within minDays fails with the days left and the date', async (t) => {
  if (!canMakeCertificates(t)) return;
  const notAfter = Date.now() + 5 * DAY + 6 * 3_600_000;
  const { authority, leaf } = caAndLeaf(t, new Date(notAfter));
  const { port } = await serveTls(t, leaf);

  const soon = await probe(t, { host: 'localhost', port, ca: authority.certPath }).run(ctx());
  assert.equal(soon.ok, false);
  assert.equal(soon.message, `certificate for localhost expires in 5 days (${isoDay(notAfter)}; min 14)`);
  assert.equal(soon.details!.daysLeft, 5);
  const relaxed = await probe(t, { host: 'localhost', port, ca: authority.certPath, minDays: 5 }).run(ctx());
  assert.equal(relaxed.ok, true, relaxed.message);
  assert.equal(relaxed.message, `certificate for localhost valid for 5 more days (until ${isoDay(notAfter)})`);
});

test('tls: a self-signed certificate made with -days 5 fails minDays by its own clock, even with verify off', async (t) => {
  if (!canMakeCertificates(t)) return;
  const self = selfSignedCertificate(tempDir(t), { days: 5 });
  const { port } = await serveTls(t, self);
  // -days 5 ends five days after openssl ran, a moment ago: strictly fewer than 5 whole days are left.
  const result = await probe(t, { port, verify: false }).run(ctx());
  assert.equal(result.ok, false);
  assert.match(result.message, /^certificate for 127\.0\.0\.1 expires in 4 days \(\d{4}-\d{2}-\d{2}; min 14\)$/);
  assert.equal(result.details!.daysLeft, 4);
});

test('tls: an expired certificate fails with how long ago, whether or not it is trusted', async (t) => {
  if (!canMakeCertificates(t)) return;
  const notAfter = Date.now() - 3 * DAY - 2 * 3_600_000;
  const { authority, leaf } = caAndLeaf(t, new Date(notAfter), { notBefore: new Date(Date.now() - 90 * DAY) });
  const { port } = await serveTls(t, leaf);

  const expected = `certificate for 127.0.0.1 expired 3 days ago (${isoDay(notAfter)})`;
  const trusted = await probe(t, { port, ca: authority.certPath }).run(ctx());
  assert.equal(trusted.ok, false);
  assert.equal(trusted.message, expected);
  assert.equal(trusted.details!.daysLeft, -3);
  const unverified = await probe(t, { port, verify: false, minDays: 0 }).run(ctx());
  assert.equal(unverified.ok, false, 'verify: false still judges expiry');
  assert.equal(unverified.message, expected);
});

test('tls: a certificate whose validity has not begun fails with its start', async (t) => {
  if (!canMakeCertificates(t)) return;
  const notBefore = Date.now() + 2 * DAY;
  const { authority, leaf } = caAndLeaf(t, new Date(Date.now() + 400 * DAY), { notBefore: new Date(notBefore) });
  const { port } = await serveTls(t, leaf);
  const result = await probe(t, { port, ca: authority.certPath }).run(ctx());
  assert.equal(result.ok, false);
  const start = new Date(Math.floor(notBefore / 60_000) * 60_000).toISOString();
  assert.equal(
    result.message,
    `certificate for 127.0.0.1 is not valid until ${start.slice(0, 10)} ${start.slice(11, 16)} UTC (its notBefore is in the future)`,
  );
});

test('tls: an untrusted certificate fails with the reason unless its CA is given or verify is off', async (t) => {
  if (!canMakeCertificates(t)) return;
  const dir = tempDir(t);
  const self = selfSignedCertificate(dir, { days: 365 });
  const { port } = await serveTls(t, self);

  const untrusted = await probe(t, { port }).run(ctx());
  assert.equal(untrusted.ok, false);
  assert.equal(
    untrusted.message,
    'certificate for 127.0.0.1 is not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT); set ca to the PEM file of its CA to trust it',
  );
  assert.equal(untrusted.details!.trusted, false);
  assert.equal(untrusted.details!.verifyError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  assert.equal(untrusted.details!.daysLeft, 364, 'the dates are read even from an untrusted certificate');

  const pinned = await probe(t, { port, ca: self.certPath }).run(ctx());
  assert.equal(pinned.ok, true, pinned.message);
  assert.match(pinned.message, /^certificate for 127\.0\.0\.1 valid for 364 more days/);
  const unverified = await probe(t, { port, verify: false }).run(ctx());
  assert.equal(unverified.ok, true, unverified.message);

  // A server that sends its whole chain up to a private root: the root is what nobody trusts.
  const { leaf, authority } = caAndLeaf(t, new Date(Date.now() + 200 * DAY));
  const chain = await serveTls(t, { key: leaf.key, cert: leaf.cert + authority.cert });
  const privateRoot = await probe(t, { port: chain.port }).run(ctx());
  assert.equal(privateRoot.ok, false);
  assert.match(privateRoot.message, /is not trusted: self-signed certificate in certificate chain \(SELF_SIGNED_CERT_IN_CHAIN\)/);
  // Another CA's file does not vouch for it either; and then the hint about ca is no help.
  const otherCa = certificateAuthority(dir, 'Some Other CA');
  const wrongCa = await probe(t, { port: chain.port, ca: otherCa.certPath }).run(ctx());
  assert.equal(wrongCa.ok, false);
  assert.match(wrongCa.message, /is not trusted: .*\(SELF_SIGNED_CERT_IN_CHAIN\)$/);
});

test('tls: a certificate for another name fails unless verify is off; SNI carries servername', async (t) => {
  if (!canMakeCertificates(t)) return;
  const { authority, leaf } = caAndLeaf(t, new Date(Date.now() + 90 * DAY));
  const { port, handshakes } = await serveTls(t, leaf);

  const wrong = await probe(t, { port, servername: 'api.example.lan', ca: authority.certPath }).run(ctx());
  assert.equal(wrong.ok, false);
  assert.equal(wrong.message, 'certificate for api.example.lan does not cover that name (it names localhost, 127.0.0.1)');
  assert.equal(wrong.details!.nameMatches, false);
  assert.equal(wrong.details!.trusted, true);
  await waitFor(() => handshakes.length === 1, { what: 'the handshake' });
  assert.equal(handshakes[0]!.servername, 'api.example.lan');

  const unverified = await probe(t, { port, servername: 'api.example.lan', verify: false }).run(ctx());
  assert.equal(unverified.ok, true, unverified.message);
  assert.match(unverified.message, /^certificate for api\.example\.lan valid for 89 more days/);
});

test('tls: a refused port, a plain-text port and an unreadable ca file fail with the reason', async (t) => {
  const refusedPort = await closedPort();
  const refused = await probe(t, { port: refusedPort }).run(ctx());
  assert.equal(refused.ok, false);
  assert.equal(refused.message, `connect ECONNREFUSED 127.0.0.1:${refusedPort}`);
  assert.equal(refused.details!.errorCode, 'ECONNREFUSED');

  // An HTTP server answering on the port where TLS was expected.
  const plain = createTcpServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  t.after(() => plain.close());
  const plainPort = (plain.address() as { port: number }).port;
  const notTls = await probe(t, { port: plainPort }).run(ctx());
  assert.equal(notTls.ok, false);
  assert.match(notTls.message, new RegExp(`^TLS handshake with 127\\.0\\.0\\.1:${plainPort} failed: .+`));

  const dir = tempDir(t);
  const missing = await probe(t, { port: refusedPort, ca: join(dir, 'nope.pem') }).run(ctx());
  assert.equal(missing.ok, false);
  assert.equal(missing.message, `cannot read ca file ${join(dir, 'nope.pem')}: ENOENT`);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const notPem = await probe(t, { port: refusedPort, ca: garbage }).run(ctx());
  assert.equal(notPem.ok, false);
  assert.match(notPem.message, /^ca file .*garbage\.pem holds no PEM certificate/);
});

test('tls: an abort ends a handshake the server never answers', async (t) => {
  const sockets: Socket[] = [];
  // Accepts TCP and never says a word of TLS.
  const silent = createTcpServer((socket) => sockets.push(socket));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    sockets.forEach((socket) => socket.destroy());
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const controller = new AbortController();
  const running = probe(t, { port }).run({ signal: controller.signal, now: Date.now });
  await waitFor(() => sockets.length === 1, { what: 'the probe to connect' });
  const abortedAt = performance.now();
  controller.abort();
  const result = await running;
  assert.ok(performance.now() - abortedAt < 500, 'the run ends promptly after the abort');
  assert.equal(result.ok, false);
  assert.match(result.message, new RegExp(`^no TLS handshake with 127\\.0\\.0\\.1:${port} after \\d+ ms \\(aborted\\)$`));
  assert.equal(result.details!.errorCode, 'ABORTED');
});

test('tls: bad params are refused with a clear message', () => {
  assert.throws(() => tlsCheck.params.parse({ servername: '10.0.0.5' }), /servername is a DNS name/);
  assert.throws(() => tlsCheck.params.parse({ port: 0 }), /port/);
  assert.throws(() => tlsCheck.params.parse({ minDays: -1 }), /minDays/);
  assert.throws(() => tlsCheck.params.parse({ host: 'db', sni: 'db' }), /sni/);
  assert.deepEqual(tlsCheck.params.parse({}), { host: '127.0.0.1', port: 443, minDays: 14, verify: true });
});
