import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { tempDir, waitFor } from '../helpers/temp.js';

/** A bot driven through its console, the same command path every chat adapter uses. */
async function consoleBot(t: TestContext) {
  const dataDir = tempDir(t);
  const missing = join(dataDir, 'missing', 'spool');
  const yaml = `chat: { groupWait: 0s }\nchecks:\n  - name: spool\n    kind: file\n    path: ${JSON.stringify(missing)}\n    heal:\n      - action: create-dir\n        path: ${JSON.stringify(missing)}\n    maxHeals: { count: 0, window: 15m }\n`;
  const config = parseConfig(yaml, 'test.yml', { NIGHTSHIFT_DATA_DIR: dataDir, NIGHTSHIFT_HTTP: '127.0.0.1:0', TZ: 'UTC' }, dataDir);
  const redactor = new Redactor();
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let output = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  const app = new App({ config, log: createCapturedLogger(redactor).logger, redactor, stdin, stdout });
  await app.start();
  t.after(() => app.stop());
  const db = openDatabase(join(dataDir, 'nightshift.db'));
  t.after(() => db.close());
  let mark = 0;
  /** Types a command and returns what the console printed in answer. */
  const run = async (line: string, expect: RegExp) => {
    mark = output.length;
    stdin.write(`${line}\n`);
    await waitFor(() => expect.test(output.slice(mark)), { what: `the answer to ${line}` });
    return output.slice(mark);
  };
  return { run, events: new EventLog(db), db, output: () => output };
}

test('/incidents, /ack, /mute, /heal on the console', async (t) => {
  const bot = await consoleBot(t);
  await waitFor(() => /spool is failing/.test(bot.output()), { what: 'the incident alert' });
  const list = await bot.run('/incidents', /open incident/);
  const id = /#(\d+) spool/.exec(list)![1];
  assert.match(await bot.run(`/ack ${id}`, /acknowledged/), new RegExp(`Incident #${id} acknowledged`));
  assert.match(await bot.run('/incidents', /open incident/), /\[acked by /);
  assert.match(await bot.run('/ack 9999', /No open incident/), /No open incident #9999/);
  assert.match(await bot.run('/mute spool 2h', /muted/), /spool muted for 2h/);
  assert.match(await bot.run('/mute nosuch 2h', /No check/), /No check named "nosuch"/);
  assert.match(await bot.run('/mute spool soon', /Usage/), /Usage: \/mute <check> <duration>/);
  // maxHeals 0 keeps the patrol from healing; /heal is the operator's decision and runs anyway.
  assert.match(await bot.run('/heal spool', /create-dir/), /spool: create-dir ok: created/);
  assert.equal(bot.events.ofType('heal.requested').length, 1);
});

test('/disable-surgery is immediate and survives; /enable-surgery; /consent shows it; /approve has nothing yet', async (t) => {
  const bot = await consoleBot(t);
  assert.match(await bot.run('/disable-surgery', /Surgery disabled/), /no repair will start/);
  assert.match(await bot.run('/consent', /surgery:/), /surgery: disabled \(by .* on console/);
  assert.match(await bot.run('/enable-surgery', /Surgery enabled/), /Surgery enabled/);
  assert.match(await bot.run('/approve p1', /No such proposal/), /No such proposal: p1/);
  assert.match(await bot.run('/reject', /Usage/), /Usage: \/reject <id>/);
  assert.deepEqual(bot.events.ofType('surgery.changed').map((e) => e.context.enabled), [false, true]);
});
