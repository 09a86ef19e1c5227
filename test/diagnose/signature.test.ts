import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failureSignature, MAX_SIGNATURE_LENGTH, normalizeError } from '../../src/diagnose/signature.js';

test('two occurrences of one failure get one signature: latencies, pids, counts, times and ids fold', () => {
  const pairs: Array<[string, string]> = [
    ['HTTP 503 after 120 ms (expected 200-299)', 'HTTP 503 after 9 ms (expected 200-299)'],
    ['exited with code 1 after 3m 12s', 'exited with code 1 after 45s'],
    ['no answer from http://127.0.0.1:8080/health after 5000 ms (aborted)', 'no answer from http://10.0.0.7:8081/health after 5001 ms (aborted)'],
    ['pid 4242 would not stop, even after SIGKILL', 'pid 77 would not stop, even after SIGKILL'],
    ['error spike: 42 errors in the last 5m (max 10)', 'error spike: 317 errors in the last 5m (max 10)'],
    [
      'request 3f2a9c1e-7b4d-4e2a-9f00-1234567890ab failed at 2025-01-06T03:12:45.123Z',
      'request 0b1c2d3e-aaaa-4bbb-8ccc-000000000001 failed at 2025-01-07T11:00:00Z',
    ],
    ['container 4f9a2c1be80d exited', 'container 0c3d9e7a1f22 exited'],
    ['missing: /tmp/nightshift-abc123/db.pid', 'missing: /tmp/nightshift-Zq9x01/db.pid'],
    ['job "nightly 2025-01-06" failed', 'job "nightly 2025-01-07" failed'],
    ['log is 12.3 MiB (max 10.0 MiB)', 'log is 980 KiB (max 10.0 MiB)'],
    ['disk 91.5% full', 'disk 97% full'],
    ['segfault at 0x7ffd5e8c', 'segfault at 0x0000aa10'],
    ['timed out after 5s at 03:12:45', 'timed out after 5.5 s at 23:59:01'],
  ];
  for (const [a, b] of pairs) assert.equal(normalizeError(a), normalizeError(b), `${a} / ${b}`);
});

test('what carries meaning stays: HTTP statuses, exit codes, signals, error names and words', () => {
  assert.equal(normalizeError('HTTP 503 after 120 ms (expected 200-299)'), 'HTTP 503 after <duration> (expected <n>-<n>)');
  assert.notEqual(normalizeError('HTTP 503 after 5 ms'), normalizeError('HTTP 502 after 5 ms'));
  assert.equal(normalizeError('HTTP/1.1 502 Bad Gateway after 1.5s'), 'HTTP/1.1 502 Bad Gateway after <duration>');
  assert.equal(normalizeError('upstream said status code 404; status: 500'), 'upstream said status code 404; status: 500');
  assert.notEqual(normalizeError('exit 1'), normalizeError('exit 137'));
  assert.equal(normalizeError('exited with code 137 after 2h 1m'), 'exited with code 137 after <duration>');
  assert.equal(normalizeError('exit status 2'), 'exit status 2');
  assert.equal(normalizeError('killed by SIGKILL after 45s'), 'killed by SIGKILL after <duration>');
  assert.equal(normalizeError('connect ECONNREFUSED 127.0.0.1:5432'), 'connect ECONNREFUSED <ip>:<n>');
  assert.equal(normalizeError('worker3 failed sha256 check over ipv4'), 'worker3 failed sha256 check over ipv4');
  assert.equal(normalizeError("can't open db's socket 'main'"), 'can\'t open db\'s socket "…"');
});

test('sizes, tmp paths, quotes and whitespace fold into readable placeholders', () => {
  assert.equal(normalizeError('/data 93% full (max 90%), 1.2 GiB free'), '/data <n>% full (max <n>%), <size> free');
  assert.equal(normalizeError('missing: /var/tmp/run-88/x.lock, then /dev/shm/q1'), 'missing: <tmp>, then <tmp>');
  assert.equal(normalizeError('body lacks "ready" and `ok`'), 'body lacks "…" and "…"');
  assert.equal(normalizeError('  Traceback:\n    File "w.py", line 12\n  KeyError  '), 'Traceback: File "…", line <n> KeyError');
  assert.equal(normalizeError(''), '');
});

test('normalising is stable: idempotent, and long messages are cut to a bounded signature', () => {
  const messages = [
    'HTTP 503 after 120 ms (expected 200-299)',
    'request 3f2a9c1e-7b4d-4e2a-9f00-1234567890ab failed at 2025-01-06T03:12:45.123Z from 10.1.2.3',
    'missing: /tmp/a/b "q" 0xff 1.5 GiB 3m 2s',
    `stderr: ${'E'.repeat(50)} ${'line 42 failed\n'.repeat(100)}`,
  ];
  for (const m of messages) {
    const once = normalizeError(m);
    assert.equal(normalizeError(once), once, m.slice(0, 40));
    assert.ok(once.length <= MAX_SIGNATURE_LENGTH);
  }
  assert.ok(normalizeError(messages[3]!).endsWith('…'));
});

test('the failure signature is the check and its normalised error', () => {
  assert.equal(failureSignature('api-1', 'HTTP 502 after 31 ms'), 'api-1: HTTP 502 after <duration>');
  assert.equal(failureSignature('api-1', 'HTTP 502 after 31 ms'), failureSignature('api-1', 'HTTP 502 after 7 ms'));
  assert.notEqual(failureSignature('api-1', 'HTTP 502 after 31 ms'), failureSignature('api-2', 'HTTP 502 after 31 ms'));
});

test('normalising is fast: 100,000 realistic messages in well under a second', () => {
  const samples = [
    'HTTP 502 after 31 ms (expected 200-299)',
    'exited with code 1 after 3m 12s',
    'error spike: 177 errors in the last 5m (max 10)',
    'no answer from http://127.0.0.1:11434/api/tags after 5000 ms (aborted)',
    '/data 93% full (max 90%), 1.2 GiB free',
  ];
  const started = performance.now();
  let length = 0;
  for (let i = 0; i < 100_000; i++) length += normalizeError(`${samples[i % samples.length]!} #${i}`).length;
  const ms = performance.now() - started;
  assert.ok(length > 0);
  assert.ok(ms < 1_000, `took ${Math.round(ms)} ms`);
});
