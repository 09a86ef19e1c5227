import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config-problems.js';
import { tempDir } from '../helpers/temp.js';

const env = { TZ: 'UTC' };
const check = (name: string) => `  - { name: ${name}, kind: file, path: /tmp/${name}.ok }\n`;

/** The problems a configuration read from `cwd` is rejected with. */
const problemsIn = (yaml: string, cwd: string) => configProblems(yaml, env, cwd);

test('watch: absent is nothing listed every 30 s; repos and files resolve to their real paths from the working directory', (t) => {
  assert.deepEqual(parseConfig('', 'test.yml', env, '/tmp').watch, { intervalMs: 30_000, repos: [], files: [] });
  const cwd = tempDir(t);
  mkdirSync(join(cwd, 'releases', 'api-2.4.1'), { recursive: true });
  symlinkSync(join(cwd, 'releases', 'api-2.4.1'), join(cwd, 'current'));
  writeFileSync(join(cwd, 'shared.env'), 'A=1\n');
  const config = parseConfig(
    `watch:\n  interval: 1m\n  repos:\n    - { name: api, path: current, checks: [web] }\n  files:\n    - { path: shared.env }\nchecks:\n${check('web')}`,
    'test.yml',
    env,
    cwd,
  );
  assert.deepEqual(config.watch, {
    intervalMs: 60_000,
    repos: [{ name: 'api', path: realpathSync(join(cwd, 'releases', 'api-2.4.1')), checks: ['web'] }],
    files: [{ path: realpathSync(join(cwd, 'shared.env')), checks: [] }],
  });
});

test('watch: every bad field is named: unknown keys, a bad interval and name', () => {
  assert.deepEqual(
    configProblems('watch:\n  interval: 1ms\n  every: 5s\n  repos:\n    - { name: "bad name", path: /tmp, branch: main }\n  files:\n    - { checks: [] }\n'),
    [
      'watch.interval: expected at least 100ms (the shortest interval), found "1ms"',
      'watch.repos[0].name: expected a name of letters, digits, ".", "_" or "-" (max 64), found "bad name"',
      'watch.repos[0].branch: unknown key (not allowed here), found "main"',
      'watch.files[0].path: expected string, found nothing',
      'watch.every: unknown key (not allowed here), found "5s"',
    ],
  );
});

test('watch: unknown checks, missing or wrong folders and files, duplicate names and folders are each named', (t) => {
  const cwd = tempDir(t);
  mkdirSync(join(cwd, 'api'));
  mkdirSync(join(cwd, 'worker'));
  writeFileSync(join(cwd, 'file.txt'), 'not a folder');
  const problems = problemsIn(
    'repair:\n  targets:\n    - { name: worker, path: worker, checks: [web] }\n' +
      'watch:\n  repos:\n' +
      '    - { name: api, path: api, checks: [web, nope] }\n' +
      '    - { name: api, path: file.txt }\n' +
      '    - { name: gone, path: missing }\n' +
      '    - { name: worker, path: api }\n' +
      '    - { name: worker-again, path: worker }\n' +
      '  files:\n' +
      '    - { path: file.txt, checks: [nope] }\n' +
      '    - { path: ./file.txt }\n' +
      '    - { path: api }\n' +
      '    - { path: absent.env }\n' +
      `checks:\n${check('web')}`,
    cwd,
  );
  assert.deepEqual(problems, [
    'watch.repos[0].checks[1]: expected the name of a configured check, found "nope"',
    'watch.repos[1].name: expected a name of its own (repair targets are watched already), found "api" again (first at watch.repos[0])',
    'watch.repos[1].path: expected a folder, found a file at file.txt',
    'watch.repos[2].path: expected an existing folder, found nothing at missing',
    'watch.repos[3].name: expected a name of its own (repair targets are watched already), found "worker" again (first at repair.targets[0])',
    'watch.repos[3].path: expected a folder not watched already, found the folder of watch.repos[0]',
    'watch.repos[4].path: expected a folder not watched already, found the folder of repair.targets[0] ("worker")',
    'watch.files[0].checks[0]: expected the name of a configured check, found "nope"',
    'watch.files[1].path: expected a file not listed already, found the same file as watch.files[0]',
    'watch.files[2].path: expected a file, found a folder at api',
    'watch.files[3].path: expected an existing file, found nothing at absent.env',
  ]);
});
