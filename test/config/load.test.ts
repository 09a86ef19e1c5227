import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, parseConfig, parseListen } from '../../src/config/load.js';
import { parseDuration } from '../../src/util/duration.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp.js';
import { configProblems } from '../helpers/config-problems.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return [...err.problems];
  }
  assert.fail('expected the configuration to be rejected');
}

test('without a config file the embedded default patrols disk, memory and the bot itself', (t) => {
  const dir = tempDir(t);
  const config = loadConfig({ env: {}, cwd: dir });
  assert.equal(config.source, '(embedded default)');
  assert.deepEqual(
    config.checks.map((c) => [c.name, c.kind, c.intervalMs]),
    [
      ['disk-data', 'disk', 10_000],
      ['memory', 'memory', 10_000],
      ['self', 'self', 10_000],
    ],
  );
  assert.equal(config.dataDir, join(dir, 'data'));
  assert.deepEqual(config.http.listen, { host: '127.0.0.1', port: 8787 });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.checks[0]));
});

test('a file with every kind of mistake lists every bad field at once, with what was expected and found', () => {
  const yaml = `
patrol:
  interval: ten seconds
  concurency: 4
log:
  level: loud
checks:
  - name: disk
    kind: disk
    path: 42
  - name: mem
    kind: memroy
  - name: disk
    kind: memory
  - name: ok-one
    kind: memory
    minAvailablePercent: 150
`;
  const problems = problemsOf(() => parseConfig(yaml, 'nightshift.yml', {}, '/tmp'));
  const joined = problems.join('\n');
  assert.match(joined, /patrol\.interval: expected a duration .* found "ten seconds"/);
  assert.match(joined, /patrol\.concurency: unknown key/);
  assert.match(joined, /log\.level: expected one of .*"info".* found "loud"/);
  assert.match(joined, /checks\[0\]\.path: expected string, found number 42/);
  assert.match(joined, /checks\[1\]\.kind: expected one of disk, memory, self.*found "memroy"/);
  assert.match(joined, /checks\[3\]\.minAvailablePercent: expected number to be <=100, found number 150/);
  assert.equal(problems.length >= 6, true, joined);
});

test('duplicate check names are named with the place of the first one', () => {
  const yaml = `checks:\n  - {name: a, kind: memory}\n  - {name: a, kind: self}\n`;
  assert.deepEqual(
    problemsOf(() => parseConfig(yaml, 'f.yml', {}, '/')),
    ['checks[1].name: expected a unique check name, found "a" again (first at checks[0])'],
  );
});

test('${VAR} and ${VAR:-default} are filled from the environment; an unset variable is a named problem', () => {
  const yaml = `checks:\n  - name: d\n    kind: disk\n    path: \${STACK_DIR}/data\n  - name: e\n    kind: disk\n    path: \${OTHER:-/var}\n`;
  const config = parseConfig(yaml, 'f.yml', { STACK_DIR: '/srv/stack' }, '/');
  assert.equal(config.checks[0]!.params.path, '/srv/stack/data');
  assert.equal(config.checks[1]!.params.path, '/var');
  assert.deepEqual(
    problemsOf(() => parseConfig(yaml, 'f.yml', {}, '/')),
    ['checks[0].path: expected environment variable STACK_DIR to be set (used as ${STACK_DIR}), found it unset'],
  );
});

test('YAML syntax errors give the line', () => {
  const problems = problemsOf(() => parseConfig('patrol:\n  interval: 10s\n   bad: [\n', 'f.yml', {}, '/'));
  assert.match(problems[0]!, /^line \d+, column \d+: YAML syntax/);
});

test('environment overrides: NIGHTSHIFT_HTTP and NIGHTSHIFT_DATA_DIR, with a bad address named', () => {
  const config = parseConfig('http:\n  listen: 127.0.0.1:9000\n', 'f.yml', { NIGHTSHIFT_HTTP: '[::1]:9100', NIGHTSHIFT_DATA_DIR: 'state' }, '/srv');
  assert.deepEqual(config.http.listen, { host: '::1', port: 9100 });
  assert.equal(config.dataDir, '/srv/state');
  assert.deepEqual(
    problemsOf(() => parseConfig('', 'f.yml', { NIGHTSHIFT_HTTP: 'localhost' }, '/')),
    ['NIGHTSHIFT_HTTP (environment): expected host:port such as 127.0.0.1:8787, found "localhost"'],
  );
});

test('NIGHTSHIFT_CONFIG naming a missing file is an error, not a silent default', (t) => {
  const dir = tempDir(t);
  assert.match(problemsOf(() => loadConfig({ env: { NIGHTSHIFT_CONFIG: 'missing.yml' }, cwd: dir }))[0]!, /does not exist/);
  writeFileSync(join(dir, 'custom.yml'), 'checks:\n  - {name: m, kind: memory, interval: 2s, timeout: 500ms}\n');
  const config = loadConfig({ env: { NIGHTSHIFT_CONFIG: 'custom.yml' }, cwd: dir });
  assert.deepEqual([config.checks[0]!.intervalMs, config.checks[0]!.timeoutMs], [2000, 500]);
});

test('durations and listen addresses parse as documented', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5m'), 90_000);
  assert.equal(parseDuration(30), 30_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.deepEqual(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  assert.equal(parseListen('127.0.0.1:70000'), undefined);
});

test('a start grace a run or a restart could never wait out is named, with the setting to change', () => {
  const problems = configProblems(
    [
      'patrol: { healTimeout: 5s }',
      'checks:',
      '  - { name: db, kind: process, command: [node, db.js], startGrace: 10s, timeout: 5s, heal: [{ action: restart }] }',
      '  - { name: quick, kind: process, command: [node, q.js], timeout: 500ms }',
      '  - { name: fine, kind: process, command: [node, f.js], startGrace: 2s }',
    ].join('\n'),
  );
  assert.deepEqual(problems, [
    "checks[0].startGrace: expected the start grace (10s) to be shorter than the check's timeout (5s), found it is not; raise timeout or lower startGrace",
    'checks[0].startGrace: expected the start grace (10s) to be shorter than patrol.healTimeout (5s), found it is not; a restart waits for it',
    "checks[1].timeout: expected the start grace (1s, the default) to be shorter than the check's timeout (500ms), found it is not; raise timeout or lower startGrace",
  ]);
});
