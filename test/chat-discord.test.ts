import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { App } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import { createCapturedLogger } from '../src/log/logger.js';
import { Redactor } from '../src/log/redact.js';
import { openDatabase } from '../src/store/database.js';
import { EventLog } from '../src/store/events.js';
import { FakeDiscord } from './fakes/discord/server.js';
import { tempDir, waitFor } from './helpers/temp.js';
import { DISCORD, platformEnv } from './helpers/platforms.js';

const { token: TOKEN, applicationId: APPLICATION, guildId: GUILD, channelId: CHANNEL } = DISCORD;
const OPERATORS = '1015000000000000010';
const ALICE = '1015000000000000100';
const MALLORY = '1015000000000000666';

/** A real bot in this process on the Discord fake (gateway + REST), through discord.js. */
async function startBot(t: TestContext) {
  const discord = await FakeDiscord.start({
    token: TOKEN,
    applicationId: APPLICATION,
    guildId: GUILD,
    channelId: CHANNEL,
    roles: [{ id: OPERATORS, name: 'operators' }],
    heartbeatIntervalMs: 2000,
  });
  const dataDir = tempDir(t);
  const env = platformEnv({ dataDir, discord: { apiUrl: discord.apiUrl } });
  const yaml = `chat:\n  groupWait: 0s\n  discord:\n    operators: { roles: ["${OPERATORS}"] }\nchecks: []\n`;
  const config = parseConfig(yaml, 'test.yml', env, dataDir);
  const redactor = new Redactor(Object.values(config.secrets));
  const { logger } = createCapturedLogger(redactor);
  const app = new App({ config, log: logger, redactor, stdin: new PassThrough(), stdout: new PassThrough() });
  await app.start();
  // The app stops while the fake still answers (discord.js cannot be stopped while it reconnects to a dead gateway).
  t.after(async () => {
    await app.stop();
    await discord.close();
  });
  await waitFor(() => discord.registeredCommands().length > 0, { what: 'slash commands registered' });
  const db = openDatabase(join(dataDir, 'nightshift.db'));
  t.after(() => db.close());
  return { app, discord, events: new EventLog(db) };
}

test('Discord: slash commands come from the one list; /status round trip; a stranger is refused', async (t) => {
  const bot = await startBot(t);
  const names = bot.discord.registeredCommands().map((c) => c.name);
  assert.deepEqual(names, [
    'status',
    'incidents',
    'ack',
    'mute',
    'silence',
    'silences',
    'unsilence',
    'heal',
    'disable-surgery',
    'enable-surgery',
    'consent',
    'diagnose',
    'diagnosis',
    'proposals',
    'approve',
    'reject',
    'apply',
    'repairs',
    'rollback',
    'regret',
    'flags',
    'score',
    'briefing',
    'help',
  ]);
  const id = bot.discord.sendSlashCommand({ name: 'status', userId: ALICE, roleIds: [OPERATORS] });
  await waitFor(() => bot.discord.callbacks(id).length === 1, { what: 'the interaction reply' });
  assert.match(String(bot.discord.callbacks(id)[0]!.data?.content), /^SUMMARY: OK/);

  const refused = bot.discord.sendSlashCommand({ name: 'disable-surgery', userId: MALLORY });
  await waitFor(() => bot.discord.callbacks(refused).length === 1, { what: 'the refusal' });
  const reply = bot.discord.callbacks(refused)[0]!;
  assert.match(String(reply.data?.content), /needs the operator role/);
  assert.equal(Number(reply.data?.flags ?? 0) & 64, 64, 'the refusal is ephemeral');
  assert.equal(bot.events.ofType('surgery.changed').length, 0);
  assert.equal(bot.events.ofType('chat.refused')[0]!.context.userId, MALLORY);
});

test('Discord: a question is posted with Approve/Reject; the button answers it; a 429 is waited out', async (t) => {
  const bot = await startBot(t);
  bot.discord.failNext(`POST /channels/${CHANNEL}/messages`, 1, { status: 429, retryAfter: 1 });
  const asked = Date.now();
  const question = bot.app.ask({ kind: 'test', subject: 'demo', title: 'May I restart the pipeline?' });
  const message = await waitFor(() => bot.discord.messages().find((m) => JSON.stringify(m.embeds).includes('May I restart the pipeline?')), {
    timeoutMs: 15_000,
    what: 'the question message',
  });
  assert.ok(JSON.stringify(message.components).includes(`q:${question.id}:yes`));
  assert.ok(Date.parse(message.timestamp) - asked >= 900, 'posted only after the 429 retry_after');
  const pressed = bot.discord.clickButton({ customId: `q:${question.id}:yes`, messageId: message.id, userId: ALICE, roleIds: [OPERATORS] });
  await waitFor(() => bot.events.ofType('question.answered').length === 1, { what: 'the answer' });
  assert.equal(bot.events.ofType('question.answered')[0]!.context.channel, 'discord');
  await waitFor(() => bot.discord.callbacks(pressed).length === 1, { what: 'the button response' });
  assert.match(JSON.stringify(bot.discord.callbacks(pressed)[0]!.data), /Recorded: yes/);
});
