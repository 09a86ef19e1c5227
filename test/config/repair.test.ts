import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config-problems.js';
import { tempDir } from '../helpers/temp.js';

const env = { TZ: 'UTC' };
const check = (name: string) => `  - { name: ${name}, kind: file, path: /tmp/${name}.ok }\n`;

test('repair: absent is no targets; a target is resolved to its real folder, relative to the working directory', (t) => {
  assert.deepEqual(parseConfig('', 'test.yml', env, '/tmp').repair, {
    timeoutMs: 600_000,
    verifyPatrols: 3,
    maxFailures: 3,
    allowHosts: [],
    maxBackupBytes: 512 * 1024 * 1024,
    targets: [],
  });
  const cwd = tempDir(t);
  mkdirSync(join(cwd, 'agent'));
  symlinkSync(join(cwd, 'agent'), join(cwd, 'current'));
  const config = parseConfig(
    `repair:\n  allowHosts: [API.example.com, "*.example.org"]\n  targets:\n    - { name: agent, path: current, checks: [web], test: npm test, build: npm run build }\nchecks:\n${check('web')}`,
    'test.yml',
    env,
    cwd,
  );
  assert.deepEqual(config.repair.targets, [
    { name: 'agent', path: realpathSync(join(cwd, 'agent')), checks: ['web'], test: 'npm test', testReport: undefined, build: 'npm run build' },
  ]);
  assert.deepEqual(config.repair.allowHosts, ['api.example.com', '*.example.org']);
});

test('repair: every bad field of every target is named', (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, 'file.txt'), 'not a folder');
  const problems = configProblems(
    'repair:\n' +
      '  verifyPatrols: 0\n' +
      '  allowHosts: ["http://evil.example"]\n' +
      '  targets:\n' +
      `    - { name: a, path: ${join(cwd, 'missing')}, checks: [web, nope] }\n` +
      `    - { name: b, path: ${join(cwd, 'file.txt')}, checks: [web], testReport: ../report.xml }\n` +
      `    - { name: c, path: ${cwd}, checks: [], when: never }\n` +
      `checks:\n${check('web')}`,
  );
  assert.deepEqual(problems, [
    'repair.verifyPatrols: expected number to be >=1, found number 0',
    'repair.allowHosts[0]: expected a host name such as api.example.com or *.example.com, found "http://evil.example"',
    'repair.targets[2].checks: expected at least one check the target serves, found a list',
    'repair.targets[2].when: unknown key (not allowed here), found "never"',
  ]);
  const later = configProblems(
    'repair:\n  targets:\n' +
      `    - { name: a, path: ${join(cwd, 'missing')}, checks: [web, nope] }\n` +
      `    - { name: b, path: ${join(cwd, 'file.txt')}, checks: [web], testReport: ../report.xml }\n` +
      `    - { name: b, path: ${cwd}, checks: [web] }\n` +
      `checks:\n${check('web')}`,
  );
  assert.deepEqual(later, ['repair.targets: expected each repair target to have its own name, found a list']);
  const paths = configProblems(
    'repair:\n  targets:\n' +
      `    - { name: a, path: ${join(cwd, 'missing')}, checks: [web, nope] }\n` +
      `    - { name: b, path: ${join(cwd, 'file.txt')}, checks: [web], testReport: ../report.xml }\n` +
      `checks:\n${check('web')}`,
  );
  assert.deepEqual(paths, [
    `repair.targets[0].path: expected an existing folder, found nothing at ${join(cwd, 'missing')}`,
    'repair.targets[0].checks[1]: expected the name of a configured check, found "nope"',
    `repair.targets[1].path: expected a folder, found a file at ${join(cwd, 'file.txt')}`,
    'repair.targets[1].testReport: expected a path inside the target folder, found ../report.xml',
    'repair.targets[1].testReport: expected a test command to write it (repair.targets[1].test is unset)',
  ]);
});
