import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config-problems.js';

const env = { TZ: 'UTC' };

test('maintenance: absent is none; a window has its cron, duration in ms, matcher and reason', () => {
  assert.deepEqual(parseConfig('', 'test.yml', env, '/tmp').maintenance, []);
  const config = parseConfig(
    'maintenance:\n  - { name: backup, cron: "30 2 * * 0", duration: 45m, match: "db,severity:critical", reason: weekly dump }\n',
    'test.yml',
    env,
    '/tmp',
  );
  assert.deepEqual(config.maintenance, [{ name: 'backup', cron: '30 2 * * 0', durationMs: 2_700_000, match: 'db,severity:critical', reason: 'weekly dump' }]);
});

test('maintenance: every bad field of every window is named', () => {
  const problems = configProblems(
    'maintenance:\n' +
      '  - { name: a, cron: "every night", duration: 1h, match: db }\n' +
      '  - { name: b, cron: "0 0 3 * * *", duration: 30s, match: "team:web" }\n' +
      '  - { name: c, cron: "0 3 * * *", duration: 8d, match: db, when: never }\n',
  );
  assert.deepEqual(problems, [
    'maintenance[0].cron: expected a five-field cron expression such as "0 3 * * 0", found "every night"',
    'maintenance[1].cron: expected a five-field cron expression such as "0 3 * * 0", found "0 0 3 * * *"',
    'maintenance[1].duration: expected at least 1m (a window opens on a cron minute), found "30s"',
    'maintenance[1].match: expected a check name or glob (web-*), kind:<kind>, severity:critical|optional, or several joined by commas, found "team:web"',
    'maintenance[2].duration: expected at most 7d (a week), found "8d"',
    'maintenance[2].when: unknown key (not allowed here), found "never"',
  ]);
  assert.match(
    configProblems(
      'maintenance:\n  - { name: a, cron: "0 3 * * *", duration: 1h, match: db }\n  - { name: a, cron: "0 4 * * *", duration: 1h, match: db }\n',
    )[0]!,
    /^maintenance: expected each maintenance window to have its own name/,
  );
});

test('maintenance: a window that matches no check is valid, with a warning naming it', () => {
  const config = parseConfig(
    'maintenance:\n  - { name: backup, cron: "0 3 * * *", duration: 1h, match: "dbb" }\nchecks:\n  - { name: db, kind: tcp, host: 127.0.0.1, port: 5432 }\n',
    'test.yml',
    env,
    '/tmp',
  );
  assert.deepEqual(config.warnings, ['maintenance[0].match: "dbb" matches no check, so the window "backup" silences nothing']);
});
