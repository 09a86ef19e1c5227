import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config-problems.js';

const env = { TZ: 'UTC' };

test('watchdog: absent is off; present, every, method and timeout have defaults', () => {
  assert.equal(parseConfig('', 'test.yml', env, '/tmp').watchdog, null);
  const config = parseConfig('watchdog:\n  pingUrl: https://hc-ping.com/abc-123/\n', 'test.yml', env, '/tmp');
  assert.deepEqual(config.watchdog, { pingUrl: 'https://hc-ping.com/abc-123', everyMs: 60_000, method: 'POST', timeoutMs: 10_000 });
  const custom = parseConfig('watchdog: { pingUrl: "http://hc.lan:8000/ping/x", every: 30s, method: GET, timeout: 2s }\n', 'test.yml', env, '/tmp');
  assert.deepEqual(custom.watchdog, { pingUrl: 'http://hc.lan:8000/ping/x', everyMs: 30_000, method: 'GET', timeoutMs: 2_000 });
});

test('watchdog: a bad every, a missing or non-http pingUrl, a bad method are each named by field', () => {
  assert.deepEqual(configProblems('watchdog: { pingUrl: "https://hc-ping.com/x", every: soon }\n'), [
    'watchdog.every: expected a duration such as "10s", "5m", "4h" or a number of seconds, found "soon"',
  ]);
  const missing = configProblems('watchdog: { every: 1m }\n');
  assert.equal(missing.length, 1);
  assert.match(missing[0]!, /^watchdog\.pingUrl: expected an http:\/\/ or https:\/\/ URL .*found nothing$/);
  assert.match(configProblems('watchdog: { pingUrl: "ftp://hc.lan/x" }\n')[0]!, /^watchdog\.pingUrl: expected an http:\/\/ or https:\/\/ URL/);
  assert.match(configProblems('watchdog: { pingUrl: "https://hc-ping.com/x", method: PUT }\n')[0]!, /^watchdog\.method: expected one of "GET"\|"POST"/);
  assert.match(configProblems('watchdog: { pingUrl: "https://hc-ping.com/x", timeout: 0 }\n')[0]!, /^watchdog\.timeout: expected a duration longer than 0/);
  assert.match(configProblems('watchdog: { pingUrl: "https://hc-ping.com/x", pingurl: x }\n')[0]!, /^watchdog\.pingurl: unknown key/);
});
