import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { tempDir, waitFor } from '../helpers/temp.js';
import { startInProcess } from '../helpers/bot.js';

/** A bot with one failing check that has a heal step, driven through its console. */
async function consoleBot(t: TestContext) {
  const dataDir = tempDir(t);
  const missing = join(dataDir, 'missing', 'spool');
  const yaml = `chat: { groupWait: 0s }\nchecks:\n  - name: spool\n    kind: file\n    path: ${JSON.stringify(missing)}\n    heal:\n      - action: create-dir\n        path: ${JSON.stringify(missing)}\n    maxHeals: { count: 0, window: 15m }\n`;
  return startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: dataDir } });
}

test('/incidents, /ack, /mute, /heal on the console', async (t) => {
  const bot = await consoleBot(t);
  // maxHeals 0: healing is exhausted from the start, so the escalation is the one announcement.
  await waitFor(() => /spool needs you/.test(bot.output()), { what: 'the escalation' });
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
  // Healed: the incident closes, and /incidents --recent lists it.
  await waitFor(() => bot.events.ofType('incident.closed').length === 1, { what: 'the incident to close' });
  assert.match(
    await bot.run('/incidents --recent', /closed in the last 24h/),
    new RegExp(`1 incident closed in the last 24h:\\n#${id} spool \\(critical\\) .* back after `),
  );
});

test('/disable-surgery is immediate and survives; /enable-surgery; /consent shows it; /approve has nothing yet', async (t) => {
  const bot = await consoleBot(t);
  assert.match(await bot.run('/disable-surgery', /Surgery disabled/), /no repair will start/);
  assert.match(await bot.run('/consent', /surgery:/), /surgery: disabled \(by .* on console/);
  assert.match(await bot.run('/enable-surgery', /Surgery enabled/), /Surgery enabled/);
  assert.match(await bot.run('/approve p1', /No such proposal/), /No such proposal: p1/);
  assert.match(await bot.run('/reject', /Usage/), /Usage: \/reject <id>/);
  assert.deepEqual(
    bot.events.ofType('surgery.changed').map((e) => e.context.enabled),
    [false, true],
  );
});
