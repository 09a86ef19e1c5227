import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TELLING_LINE_CHARS, tellingLine } from '../src/util/telling-line.js';

test('a FATAL line is chosen over the lines around it, and the first fatal one over later ones', () => {
  const stderr = [
    'LOG:  starting PostgreSQL 16',
    'FATAL:  could not bind IPv4 address "127.0.0.1": Address already in use',
    'FATAL:  shutting down',
    'LOG:  database system is shut down',
  ].join('\n');
  assert.deepEqual(tellingLine({ stderr }), { line: 'FATAL: could not bind IPv4 address "127.0.0.1": Address already in use', from: 'stderr' });
});

test('a Python traceback is quoted by its exception line, which says what happened', () => {
  const stderr = [
    'Traceback (most recent call last):',
    '  File "/srv/agent/main.py", line 12, in <module>',
    '    import torch',
    "ModuleNotFoundError: No module named 'torch'",
  ].join('\n');
  assert.deepEqual(tellingLine({ stderr }), { line: "ModuleNotFoundError: No module named 'torch'", from: 'stderr' });
});

test('a Go panic outranks an error line in another stream; errors outrank warnings', () => {
  assert.deepEqual(tellingLine({ stdout: 'level=error msg="retrying"', stderr: 'panic: runtime error: invalid memory address or nil pointer dereference' }), {
    line: 'panic: runtime error: invalid memory address or nil pointer dereference',
    from: 'stderr',
  });
  assert.deepEqual(tellingLine({ log: 'WARN disk at 91%\nERROR connect ECONNREFUSED 127.0.0.1:5432' }), {
    line: 'ERROR connect ECONNREFUSED 127.0.0.1:5432',
    from: 'log',
  });
  assert.deepEqual(tellingLine({ body: '<html>Warning: upstream slow</html>' }), { line: '<html>Warning: upstream slow</html>', from: 'body' });
});

test('evidence with nothing telling in it gives no line, and a long line is clipped', () => {
  assert.equal(tellingLine({ stderr: 'starting\nlistening on :8080\n' }), null);
  assert.equal(tellingLine({}), null);
  const long = tellingLine({ stderr: `ERROR ${'x'.repeat(500)}` })!;
  assert.equal(long.line.length, TELLING_LINE_CHARS);
  assert.ok(long.line.endsWith('…'));
});
