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

test('/silence, /silences, /unsilence on the console: by glob, listed with what it covers, ended early; bad input changes nothing', async (t) => {
  const bot = await consoleBot(t);
  assert.match(
    await bot.run('/silence sp* 2h disk swap tonight', /Silence #/),
    /Silence #1 set for 2h: sp\* \(spool\) keeps running and recording, without alerts or heals\. \/unsilence 1 ends it\./,
  );
  assert.match(await bot.run('/silences', /active silence/), /1 active silence:\n#1 sp\* \(spool\) for 2h more, by .*: disk swap tonight/);
  assert.match(await bot.run('/silence nosuch* 2h', /matches no check/), /"nosuch\*" matches no check/);
  assert.match(await bot.run('/silence kind:file', /Usage/), /Usage: \/silence <matcher> <duration> \[reason\]/);
  assert.match(await bot.run('/silence team:x 1h', /unknown field/), /unknown field "team"/);
  assert.match(await bot.run('/unsilence 7', /No active silence/), /No active silence #7/);
  assert.equal(bot.events.ofType('silence.added').length, 1, 'refused silences are not stored');
  assert.match(await bot.run('/unsilence 1', /ended/), /Silence #1 \(sp\*\) ended/);
  assert.match(await bot.run('/silences', /No active/), /^No active silences\.$/m);
  assert.deepEqual(
    bot.events.ofType('silence.removed').map((e) => e.context.silenceId),
    [1],
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
