import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { budgetCheck, formatMoney } from '../../src/checks/budget.js';
import type { CheckResult } from '../../src/checks/types.js';
import { refusalOf, runnableProbe } from '../helpers/check-env.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const budgetProbe = (t: TestContext, params: Record<string, unknown>, now?: () => number) => runnableProbe(t, budgetCheck, params, now);

function costLine(at: number | string, cost: unknown, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ts: at, model: 'gpt-x', cost, ...extra })}\n`;
}

const refusal = (params: Record<string, unknown>) => refusalOf(budgetCheck, params);

test('budget: the burn over the last hour fails above maxPerHour and passes below it', async (t) => {
  const path = join(tempDir(t), 'costs.jsonl');
  const now = Date.now();
  // Two hours ago is outside the hour; the three recent calls make $4.20.
  writeFileSync(path, costLine(now - 2 * HOUR, 30) + costLine(now - 50 * MINUTE, 1.5) + costLine(now - 20 * MINUTE, 1.5) + costLine(now - MINUTE, 1.2));
  const over = await budgetProbe(t, { jsonl: { path }, maxPerHour: 2 })();
  assert.equal(over.ok, false);
  assert.equal(over.message, 'burning $4.20/h (max $2/h)');
  assert.equal(over.details!.perHour, 4.2);
  const under = await budgetProbe(t, { jsonl: { path }, maxPerHour: 5 })();
  assert.equal(under.ok, true, under.message);
  assert.match(under.message, /^\$4\.20\/h, \$[\d,.]+ projected this month$/);
});

test('budget: the last 24 hours fail above maxPerDay, and the amount field may be nested text', async (t) => {
  const path = join(tempDir(t), 'costs.jsonl');
  const now = Date.now();
  const line = (at: number, usd: string) => `${JSON.stringify({ at: new Date(at).toISOString(), usage: { usd } })}\n`;
  writeFileSync(path, line(now - 30 * HOUR, '100') + line(now - 20 * HOUR, '35.5') + line(now - 3 * HOUR, '20'));
  const jsonl = { path, timeField: 'at', amountField: 'usage.usd' };
  const over = await budgetProbe(t, { jsonl, maxPerDay: 50, currency: 'EUR' })();
  assert.equal(over.ok, false);
  assert.equal(over.message, '55.50 EUR spent in the last 24h (max 50 EUR); now 0.00 EUR/h');
  assert.equal(over.details!.perDay, 55.5);
  const under = await budgetProbe(t, { jsonl, maxPerDay: 60, currency: 'EUR' })();
  assert.equal(under.ok, true, under.message);
  assert.match(under.message, /^0\.00 EUR\/h, 55\.50 EUR in the last 24h, [\d,.]+ EUR projected this month$/);
});

test('budget: the projected month is month-to-date plus the last 24h average for every hour left', async (t) => {
  const path = join(tempDir(t), 'costs.jsonl');
  const now = Date.UTC(2026, 0, 11, 0, 0, 0);
  let text = costLine(Date.UTC(2025, 11, 31, 23, 0) / 1000, 50); // December, unix seconds: not this month, not the last 24h
  for (let day = 1; day <= 9; day++) text += costLine(new Date(Date.UTC(2026, 0, day, 12)).toISOString(), 10); // $90, ISO text
  for (let hour = 0; hour < 24; hour++) text += costLine(Date.UTC(2026, 0, 10, hour, 30), 2); // $48 in the last 24h, unix ms
  writeFileSync(path, text);
  const result = await budgetProbe(t, { jsonl: { path }, maxMonth: 500 }, () => now)();
  // $138 so far + $2/h x 504 h (Jan 11 to Feb 1) = $1,146.
  assert.equal(result.ok, false);
  assert.equal(result.message, 'projected month $1,146 (max $500); now $2.00/h');
  assert.equal(result.details!.monthToDate, 138);
  assert.equal(result.details!.perDay, 48);
  assert.equal(result.details!.projectedMonth, 1146);
  assert.equal(result.details!.hoursLeftInMonth, 504);
  assert.equal(result.details!.monthStart, '2026-01-01T00:00:00.000Z');
  assert.equal(result.details!.partial, false);
  const roomy = await budgetProbe(t, { jsonl: { path }, maxMonth: 1200 }, () => now)();
  assert.equal(roomy.ok, true);
  assert.equal(roomy.message, '$2.00/h, $1,146 projected this month');
});

test('budget: early on the 1st the last 24h reach into last month, month-to-date does not; timeZone local follows TZ', async (t) => {
  const path = join(tempDir(t), 'costs.jsonl');
  const now = Date.UTC(2026, 1, 1, 3, 0, 0); // Feb 1, 03:00 UTC = Jan 31, 22:00 in New York
  writeFileSync(path, costLine(Date.UTC(2026, 0, 31, 12), 24) + costLine(Date.UTC(2026, 1, 1, 1), 6) + costLine(Date.UTC(2026, 0, 5), 100));
  const utc = await budgetProbe(t, { jsonl: { path }, maxMonth: 10_000 }, () => now)();
  assert.equal(utc.details!.perDay, 30);
  assert.equal(utc.details!.monthToDate, 6, 'only the February cost is this month in UTC');
  assert.equal(utc.details!.projectedMonth, 6 + (30 / 24) * (28 * 24 - 3));
  const savedTz = process.env.TZ;
  process.env.TZ = 'America/New_York';
  t.after(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });
  const local = await budgetProbe(t, { jsonl: { path }, maxMonth: 10_000, timeZone: 'local' }, () => now)();
  assert.equal(local.details!.monthStart, '2026-01-01T05:00:00.000Z', 'January began at midnight in New York');
  assert.equal(local.details!.monthToDate, 130, 'in New York it is still January');
  assert.equal(local.details!.hoursLeftInMonth, 2);
});

test('budget: bad JSON lines and records without a time or amount are counted, never fatal', async (t) => {
  const path = join(tempDir(t), 'costs.jsonl');
  const now = Date.now();
  writeFileSync(
    path,
    [
      costLine(now - 10 * MINUTE, 1).trim(),
      '{"ts": 17, "cost": ', // a torn line
      'not json at all',
      '[1, 2, 3]',
      'null',
      '',
      JSON.stringify({ ts: now - 5 * MINUTE }), // no cost
      JSON.stringify({ ts: 'yesterday-ish', cost: 3 }), // no readable time
      JSON.stringify({ ts: now - 2 * MINUTE, cost: '0.75' }), // digits as text count
    ].join('\n') + '\n',
  );
  const result = await budgetProbe(t, { jsonl: { path }, maxPerHour: 10 })();
  assert.equal(result.ok, true, result.message);
  assert.equal(result.details!.perHour, 1.75);
  assert.equal(result.details!.badLines, 4);
  assert.equal(result.details!.skippedRecords, 2);
  assert.equal(result.details!.records, 2);
});

test('budget: a month-to-date reaching past maxReadBytes is marked partial and the projection is a floor', async (t) => {
  const path = join(tempDir(t), 'costs.jsonl');
  const now = Date.UTC(2026, 0, 20, 12, 0);
  let text = '';
  // Three days of $1 calls each minute from Jan 2: far more than 4 KiB.
  for (let minute = 0; minute < 3 * 24 * 60; minute++) text += costLine(Date.UTC(2026, 0, 2) + minute * MINUTE, 1);
  text += costLine(now - 10 * MINUTE, 5);
  writeFileSync(path, text);
  const cut = await budgetProbe(t, { jsonl: { path }, maxMonth: 100, maxReadBytes: 4096 }, () => now)();
  assert.equal(cut.details!.partial, true);
  assert.ok((cut.details!.bytesRead as number) <= 4096);
  assert.equal(cut.details!.badLines, 0, 'the line the read began inside is dropped, not counted as bad');
  assert.ok((cut.details!.monthToDate as number) < 100, 'only the end of the file was read');
  assert.match(cut.message, /^projected month at least \$[\d,.]+ \(max \$100\); now \$5\.00\/h$/);
  const whole = await budgetProbe(t, { jsonl: { path }, maxMonth: 100 }, () => now)();
  assert.equal(whole.details!.partial, false);
  assert.equal(whole.details!.monthToDate, 3 * 24 * 60 + 5);
});

test('budget: after a rename rotation the earlier costs are read from <path>.1', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'costs.jsonl');
  const now = Date.UTC(2026, 0, 10, 12, 0);
  writeFileSync(`${path}.1`, costLine(Date.UTC(2026, 0, 3), 40) + costLine(Date.UTC(2026, 0, 8), 60));
  writeFileSync(path, costLine(now - 30 * MINUTE, 2));
  const result = await budgetProbe(t, { jsonl: { path }, maxMonth: 10_000 }, () => now)();
  assert.equal(result.details!.monthToDate, 102);
  assert.deepEqual(result.details!.files, [`${path}.1`, path]);
});

test('budget: a writer process appending while the check reads; a half-written line is never a bad line', async (t) => {
  const path = join(tempDir(t), 'costs.jsonl');
  writeFileSync(path, '');
  // Each record goes out in two writes with a pause between, so the reader often sees a line without its end.
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('node:fs');
       const [path, count] = process.argv.slice(1);
       let n = 0;
       const next = () => {
         if (n++ >= Number(count)) return;
         const line = JSON.stringify({ ts: Date.now(), cost: 0.5, call: n });
         fs.appendFileSync(path, line.slice(0, 12));
         setTimeout(() => { fs.appendFileSync(path, line.slice(12) + '\\n'); setTimeout(next, 5); }, 25);
       };
       next();`,
      path,
      '12',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => writer.once('exit', resolve));
  t.after(() => {
    if (writer.exitCode === null) writer.kill();
  });
  const run = budgetProbe(t, { jsonl: { path }, maxPerHour: 4 });
  const seen: CheckResult[] = [];
  const failing = await waitFor(
    async () => {
      const result = await run();
      seen.push(result);
      return result.ok ? undefined : result;
    },
    { timeoutMs: 10_000, intervalMs: 5, what: 'the burn to pass $4/h' },
  );
  assert.match(failing.message, /^burning \$(4\.50|5\.00|5\.50|6\.00)\/h \(max \$4\/h\)$/);
  assert.equal(seen[0]!.ok, true, 'the check read while the writer was still under the limit');
  for (const result of seen) assert.equal(result.details!.badLines, 0, `no half-written line counted as bad: ${result.message}`);
  await exited;
  const done = await run();
  assert.equal(done.details!.perHour, 6);
  assert.equal(done.details!.records, 12);
});

test('budget: costs from a SQLite query, opened read-only, with the since parameter bound', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'costs.db');
  const now = Date.now();
  const db = new Database(path);
  t.after(() => db.close());
  db.exec('CREATE TABLE api_calls (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, cost_usd REAL NOT NULL)');
  const insert = db.prepare('INSERT INTO api_calls (created_at, cost_usd) VALUES (?, ?)');
  insert.run(new Date(now - 40 * 86_400_000).toISOString(), 1000); // before since: the query leaves it out
  insert.run(new Date(now - 30 * MINUTE).toISOString(), 2.5);
  insert.run(new Date(now - 5 * MINUTE).toISOString(), 1.25);
  const query = 'SELECT created_at AS at, cost_usd AS amount FROM api_calls WHERE created_at >= :sinceIso -- only what the check needs';
  const over = await budgetProbe(t, { sqlite: { path, query }, maxPerHour: 3 })();
  assert.equal(over.ok, false);
  assert.equal(over.message, 'burning $3.75/h (max $3/h)');
  assert.equal(over.details!.rows, 2, 'the 40-day-old row was not returned');
  insert.run(new Date(now - 2 * HOUR).toISOString(), 0.5);
  const under = await budgetProbe(t, { sqlite: { path, query }, maxPerHour: 4 })();
  assert.equal(under.ok, true, under.message);
  assert.equal(under.details!.perDay, 4.25);

  const wrongColumns = await budgetProbe(t, { sqlite: { path, query: 'SELECT created_at, cost_usd FROM api_calls' }, maxPerHour: 3 })();
  assert.equal(wrongColumns.ok, false);
  assert.equal(wrongColumns.message, 'the budget query must return columns at and amount, found created_at, cost_usd');
  const missingTable = await budgetProbe(t, { sqlite: { path, query: 'SELECT at, amount FROM costs' }, maxPerHour: 3 })();
  assert.equal(missingTable.ok, false);
  assert.equal(missingTable.message, `budget query on ${path} failed: no such table: costs`);
  const missingDb = await budgetProbe(t, { sqlite: { path: join(dir, 'nope.db'), query }, maxPerHour: 3 })();
  assert.equal(missingDb.message, `missing: ${join(dir, 'nope.db')}`);
});

test('budget: a missing cost log fails with its path', async (t) => {
  const path = join(tempDir(t), 'costs.jsonl');
  const result = await budgetProbe(t, { jsonl: { path }, maxPerHour: 1 })();
  assert.equal(result.ok, false);
  assert.equal(result.message, `missing: ${path}`);
  appendFileSync(path, costLine(Date.now(), 0.25));
  assert.equal((await budgetProbe(t, { jsonl: { path }, maxPerHour: 1 })()).ok, true);
});

test('budget: bad params are refused with a clear message', () => {
  const path = '/srv/costs.jsonl';
  assert.deepEqual(refusal({ jsonl: { path } }), ['expected at least one limit (maxPerHour, maxPerDay or maxMonth): without one the check can never fail']);
  assert.deepEqual(refusal({ maxPerHour: 1 }), ['expected a cost source: jsonl: { path } or sqlite: { path, query }']);
  assert.deepEqual(refusal({ jsonl: { path }, sqlite: { path, query: 'SELECT 1 AS at, 1 AS amount' }, maxPerHour: 1 }), [
    'expected either jsonl or sqlite, not both',
  ]);
  const sqlite = (query: string) => refusal({ sqlite: { path: '/srv/costs.db', query }, maxPerHour: 1 });
  assert.deepEqual(sqlite('DELETE FROM api_calls'), ['expected a single SELECT statement: it starts with DELETE']);
  assert.deepEqual(sqlite('SELECT at, amount FROM c; DROP TABLE c'), ['expected a single SELECT statement: found more than one statement']);
  assert.deepEqual(sqlite('WITH old AS (SELECT id FROM c) DELETE FROM c WHERE id IN old'), [
    'expected a single SELECT statement: the WITH clause leads to DELETE',
  ]);
  // A ';' or a keyword inside a string or a comment is not a statement of its own.
  assert.equal(
    budgetCheck.params.safeParse({ sqlite: { path: '/srv/costs.db', query: "SELECT at, amount FROM c WHERE note <> 'x; DELETE' /* ; */;" }, maxPerHour: 1 })
      .success,
    true,
  );
  assert.equal(
    budgetCheck.params.safeParse({ sqlite: { path: '/srv/costs.db', query: 'WITH r AS (SELECT * FROM c) SELECT at, amount FROM r' }, maxPerHour: 1 }).success,
    true,
  );
  assert.deepEqual(refusal({ jsonl: { path }, maxPerHour: 0 }), ['Too small: expected number to be >0']);
});

test('budget: amounts read as people read them', () => {
  assert.equal(formatMoney(4.2, '$'), '$4.20');
  assert.equal(formatMoney(1630.4, '$'), '$1,630');
  assert.equal(formatMoney(0.0031, '$'), '$0.0031');
  assert.equal(formatMoney(2, '$', 'limit'), '$2');
  assert.equal(formatMoney(12.5, 'EUR'), '12.50 EUR');
  assert.equal(formatMoney(3, '€'), '€3.00');
});
