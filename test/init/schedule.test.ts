import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NameRegistry, toCheckName } from '../../src/init/names.js';
import { compactDuration, longestGapMs } from '../../src/init/schedule.js';
import { parseCrontab, programOf } from '../../src/init/sources/cron.js';

const M = 60_000;
const H = 60 * M;
const D = 24 * H;

test('cron schedules: the longest gap between two runs, for steps, lists, ranges, names and macros', { timeout: 5_000 }, () => {
  const cases: Array<[string, number | undefined]> = [
    ['*/5 * * * *', 5 * M],
    ['* * * * *', M],
    ['0 * * * *', H],
    ['15,45 * * * *', 30 * M],
    ['0 3 * * *', D],
    ['0 3,15 * * *', 12 * H],
    ['0 9 * * 1-5', 3 * D],
    ['0 9 * * mon,thu', 4 * D],
    ['30 2 * * 0', 7 * D],
    ['30 2 * * 7', 7 * D],
    ['0 0 1 * *', 31 * D],
    ['0 0 1 jan *', 366 * D],
    ['0 0 1,15 * 1', 7 * D], // day of month OR day of week, as cron reads both
    ['@daily', D],
    ['@hourly', H],
    ['@reboot', undefined],
    ['61 * * * *', undefined],
    ['* * *', undefined],
    ['*/0 * * * *', undefined],
  ];
  for (const [schedule, gap] of cases) assert.equal(longestGapMs(schedule), gap, schedule);
  assert.deepEqual([5 * M, D, 64 * H, 90 * M, 1500].map(compactDuration), ['5m', '1d', '64h', '90m', '1500ms']);
});

test('crontab lines and job names: variables and comments skipped, programs named without their arguments', () => {
  assert.deepEqual(parseCrontab('SHELL=/bin/bash\n# x\n\n*/5 * * * * a b\n@weekly c\n1 2 3\n'), [
    { schedule: '*/5 * * * *', command: 'a b' },
    { schedule: '@weekly', command: 'c' },
  ]);
  assert.equal(programOf('cd /srv && python3 /srv/jobs/backup.py --token=abc'), 'backup.py');
  assert.equal(programOf('PGPASSWORD=x /usr/bin/pg_dump db > /b.sql'), 'pg_dump');
  assert.equal(programOf('timeout 30 /srv/a.sh'), 'a.sh');
});

test('check names: invalid characters replaced, clashes numbered', () => {
  assert.equal(toCheckName('/stack api!'), 'stack-api');
  const names = new NameRegistry();
  names.reserve('self');
  assert.equal(names.claim(['self', 'self-pm2']), 'self-pm2');
  assert.equal(names.claim(['api']), 'api');
  assert.equal(names.claim(['api']), 'api-2');
  assert.equal(names.claim(['***'], 'port-80'), 'port-80');
  assert.equal(names.claim(['x'.repeat(80)]).length, 64);
});
