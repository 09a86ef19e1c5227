import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { App } from '../../src/app.js';
import { ManualClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { KeyValueStore } from '../../src/store/kv.js';
import { FakeNtfyServer } from '../fakes/ntfy/server.js';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { FakeDiscord } from '../fakes/discord/server.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { DISCORD, TELEGRAM_TOKEN as TOKEN, platformEnv } from '../helpers/platforms.js';

const CHAT = -1003;
// Monday 2026-01-05, in UTC (the tests' TZ).
const MONDAY = Date.UTC(2026, 0, 5);
const at = (day: number, hh: number, mm: number) => MONDAY + day * 86_400_000 + (hh * 60 + mm) * 60_000;

/** A bot started at a given (fake) time on a data dir, as a restart of Nightshift would be. */
async function startAt(t: TestContext, dataDir: string, now: number, env: Record<string, string> = {}) {
  const clock = new ManualClock(now);
  const config = parseConfig(
    'chat: { groupWait: 0s }\nchecks: []\n',
    't.yml',
    { NIGHTSHIFT_DATA_DIR: dataDir, NIGHTSHIFT_HTTP: '127.0.0.1:0', TZ: 'UTC', ...env },
    dataDir,
  );
  const stdout = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const app = new App({ config, log: createCapturedLogger(new Redactor()).logger, redactor: new Redactor(), stdin, stdout, clock });
  await app.start();
  t.after(() => app.stop());
  return { app, clock, stdin, output: () => out };
}

function briefingsSent(dataDir: string): Array<{ key: string; channel: string }> {
  const db = openDatabase(join(dataDir, 'nightshift.db'));
  try {
    return db.prepare("SELECT key, channel FROM outbox WHERE key LIKE 'briefing:%' ORDER BY id").all() as Array<{ key: string; channel: string }>;
  } finally {
    db.close();
  }
}

test('the briefing goes out once per day: not before 07:30, on start after a missed 07:30, never twice across restarts', async (t) => {
  const dataDir = tempDir(t);
  const early = await startAt(t, dataDir, at(0, 6, 0));
  assert.deepEqual(briefingsSent(dataDir), []);
  await early.app.stop();

  const late = await startAt(t, dataDir, at(0, 9, 15));
  await waitFor(() => /Briefing: 0 incidents/.test(late.output()), { what: 'the missed briefing, sent on start' });
  await waitFor(() => /Weekly report: 0 errors this week/.test(late.output()), { what: "Monday's weekly report" });
  await late.app.stop();

  const again = await startAt(t, dataDir, at(0, 11, 0));
  assert.doesNotMatch(again.output(), /Briefing:/);
  await again.app.stop();

  const tuesday = await startAt(t, dataDir, at(1, 7, 31));
  await waitFor(() => /Briefing:/.test(tuesday.output()), { what: "Tuesday's briefing" });
  assert.deepEqual(
    briefingsSent(dataDir).map((r) => r.key),
    ['briefing:daily:2026-01-05', 'briefing:weekly:2026-01-05', 'briefing:daily:2026-01-06'],
  );
  // On demand, any time, without counting as the day's briefing.
  tuesday.stdin.write('/briefing\n');
  await waitFor(() => (tuesday.output().match(/Briefing:/g) ?? []).length === 2, { what: '/briefing' });
  assert.equal(briefingsSent(dataDir).length, 3);
});

test('a fresh install started after 07:30 sends no briefing that day; the next morning it does', async (t) => {
  const dataDir = tempDir(t);
  const first = await startAt(t, dataDir, at(0, 9, 0));
  assert.deepEqual(briefingsSent(dataDir), []);
  await first.app.stop();
  const next = await startAt(t, dataDir, at(1, 7, 30));
  await waitFor(() => /Briefing:/.test(next.output()), { what: "the next morning's briefing" });
});

test('the briefing arrives on every channel, the lock-screen line first, details below', async (t) => {
  const telegram = await FakeTelegram.start({ token: TOKEN, chats: [CHAT] });
  const ntfy = await FakeNtfyServer.start();
  const discord = await FakeDiscord.start({ ...DISCORD, heartbeatIntervalMs: 5000 });

  const dataDir = tempDir(t);
  // Some history: a failing check yesterday and today.
  const seed = openDatabase(join(dataDir, 'nightshift.db'));
  const events = new EventLog(seed);
  for (let i = 0; i < 4; i++)
    events.append(at(0, 8, i), 'check.failed', 'worker', 'critical', {
      kind: 'process',
      message: `exited with code 1 after ${i + 3}s`,
      durationMs: 1,
      consecutiveFailures: i + 1,
    });
  events.append(at(1, 2, 0), 'check.failed', 'worker', 'critical', {
    kind: 'process',
    message: 'exited with code 1 after 9s',
    durationMs: 1,
    consecutiveFailures: 1,
  });
  // Nightshift has been running here since the day before.
  new KeyValueStore(seed).set('briefing.installed', String(at(0, 6, 0)));
  seed.close();
  const bot = await startAt(
    t,
    dataDir,
    at(1, 7, 45),
    platformEnv({
      dataDir,
      telegram: { apiRoot: telegram.apiRoot, chatId: CHAT },
      ntfy: { url: ntfy.url, topic: 'alerts' },
      discord: { apiUrl: discord.apiUrl },
    }),
  );
  // The bot stops before its servers close (stop is idempotent; startAt's own hook finds it stopped).
  t.after(async () => {
    await bot.app.stop();
    await Promise.all([telegram.close(), ntfy.close(), discord.close()]);
  });
  const onTelegram = await waitFor(() => telegram.sent().find((m) => m.text?.includes('Briefing:')), { what: 'the Telegram briefing' });
  const onNtfy = await waitFor(() => ntfy.messages('alerts').find((m) => m.title?.startsWith('Briefing:')), { what: 'the ntfy briefing' });
  assert.match(onNtfy.title!, /^Briefing: 0 incidents \(0 still open\), 0 heals \(0 held\), 0 escalations · errors 7d [▁▂▃▄▅▆▇█]{7}$/);
  assert.match(onNtfy.message, /top errors:\n {2}5× worker: exited with code 1 after <duration>/);
  assert.match(onNtfy.message, /errors per day \(7d\): \S{7} 0 0 0 0 0 4 1/);
  assert.match(onTelegram.text!, /SUMMARY: OK/);
  const onDiscord = await waitFor(() => discord.messages().find((m) => JSON.stringify(m.embeds).includes('Briefing:')), { what: 'the Discord briefing' });
  assert.match(String(onDiscord.embeds?.[0]?.title), /^Briefing: /);
  assert.match(String(onDiscord.embeds?.[0]?.description), /top errors:/);
  // Let discord.js finish logging in (registering commands) before the test stops it.
  await waitFor(() => discord.registeredCommands().length > 0, { what: 'the Discord login to finish' });
  assert.match(bot.output(), /Briefing:/);
});
