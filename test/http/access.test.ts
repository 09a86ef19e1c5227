import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerMatches, hostAllowed, hostName, isLoopback, isOpenPath } from '../../src/http/access.js';

test('loopback: 127.0.0.0/8, ::1 and localhost are loopback; everything else is not', () => {
  for (const host of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.equal(isLoopback(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.5', '100.64.1.2', 'nightshift.lan', '128.0.0.1']) assert.equal(isLoopback(host), false, host);
});

test('Host names: IP literals and localhost always; other names only when configured (DNS rebinding gets nothing)', () => {
  const policy = { allowedHosts: new Set(['nightshift.tailnet.ts.net']) };
  for (const header of ['127.0.0.1:8787', 'localhost:8787', '[::1]:8787', '100.64.1.2', 'NightShift.Tailnet.ts.net:8787', 'nightshift.tailnet.ts.net.']) {
    assert.equal(hostAllowed(header, policy), true, header);
  }
  for (const header of [undefined, '', 'evil.example:8787', 'evil.example', '127.0.0.1.evil.example', 'user@127.0.0.1', 'a b']) {
    assert.equal(hostAllowed(header, policy), false, String(header));
  }
  assert.equal(hostName('[::1]:80'), '::1');
  assert.equal(hostName('Example.LAN:8787'), 'example.lan');
});

test('the bearer token is compared whole, and only /healthz, /ping and /answer are open without it', () => {
  const token = 'a-long-http-token-1234';
  assert.equal(bearerMatches(`Bearer ${token}`, token), true);
  assert.equal(bearerMatches(`bearer ${token}`, token), true);
  for (const header of [undefined, '', token, `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${token}`])
    assert.equal(bearerMatches(header, token), false, String(header));
  for (const path of ['/healthz', '/ping/backup', '/ping/backup/fail', '/answer/abc.def']) assert.equal(isOpenPath(path), true, path);
  for (const path of ['/status.json', '/metrics', '/', '/healthz/x', '/answerx']) assert.equal(isOpenPath(path), false, path);
});
