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
import { FakeTelegram } from './fakes/telegram/server.js';
import { FakeNtfyServer } from './fakes/ntfy/server.js';
import { tempDir, waitFor } from './helpers/temp.js';
import { TELEGRAM_TOKEN as TOKEN, platformEnv } from './helpers/platforms.js';

const CHAT = -1001234567890;
const OPERATOR = 4242;
const STRANGER = 6666;

/** A real bot in this process, on the Telegram and ntfy fakes, through the real client libraries. */
async function startBot(t: TestContext, extraEnv: Record<string, string> = {}) {
  const telegram = await FakeTelegram.start({ token: TOKEN, chats: [CHAT] });
  const ntfy = await FakeNtfyServer.start();
  t.after(() => telegram.close());
  t.after(() => ntfy.close());
  const dataDir = tempDir(t);
  const env = {
    ...platformEnv({ dataDir, telegram: { apiRoot: telegram.apiRoot, chatId: CHAT }, ntfy: { url: ntfy.url, topic: 'ns-alerts', replyTopic: 'ns-replies' } }),
    ...extraEnv,
  };
  const yaml = `chat:\n  groupWait: 0s\n  telegram:\n    operators: [${OPERATOR}]\n  ntfy:\n    role: viewer\nchecks: []\n`;
  const config = parseConfig(yaml, 'test.yml', env, dataDir);
  const redactor = new Redactor(Object.values(config.secrets));
  const { logger, lines } = createCapturedLogger(redactor);
  const app = new App({ config, log: logger, redactor, stdin: new PassThrough(), stdout: new PassThrough() });
  const { http } = await app.start();
  t.after(() => app.stop());
  // Replies published before the first subscription are old news to a bot starting for the first time.
  await waitFor(() => ntfy.subscriberCount('ns-replies') > 0, { what: 'the ntfy reply subscription' });
  const db = openDatabase(join(dataDir, 'nightshift.db'));
  t.after(() => db.close());
  return { app, http, telegram, ntfy, events: new EventLog(db), db, lines };
}

const sentTexts = (telegram: FakeTelegram) => telegram.sent().map((m) => m.text ?? '');
const published = (ntfy: FakeNtfyServer) => ntfy.messages('ns-alerts').map((m) => `${m.title ?? ''}|${m.message ?? ''}`);

test('/status round trip on Telegram and ntfy', async (t) => {
  const bot = await startBot(t);
  bot.telegram.pushMessage({ chatId: CHAT, fromId: OPERATOR, text: '/status' });
  await waitFor(() => sentTexts(bot.telegram).some((text) => text.startsWith('SUMMARY: OK')), { what: 'the Telegram reply' });
  bot.ntfy.publishAsUser('ns-replies', 'status');
  await waitFor(() => published(bot.ntfy).some((m) => m.includes('SUMMARY: OK')), { what: 'the ntfy reply' });
});

test('a pending question is answered by a Telegram "yes" reply; later answers are told it was decided', async (t) => {
  const bot = await startBot(t);
  const question = bot.app.ask({ kind: 'test', subject: 'demo', title: 'May I analyse error patterns?' });
  const asked = await waitFor(() => bot.telegram.sent().find((m) => m.text?.includes('May I analyse')), { what: 'the question on Telegram' });
  await waitFor(() => bot.db.prepare('SELECT 1 FROM question_messages WHERE channel = ? AND platform_id = ?').get('telegram', String(asked.message_id)), {
    what: 'the message link',
  });
  assert.equal(JSON.stringify(asked.reply_markup).includes(`q:${question.id}:yes`), true);
  // Not a reply: a hint, and nothing changes.
  bot.telegram.pushMessage({ chatId: CHAT, fromId: OPERATOR, text: 'yes' });
  await waitFor(() => sentTexts(bot.telegram).some((x) => /Reply to the question's message/.test(x)), { what: 'the hint' });
  assert.equal(bot.events.ofType('question.answered').length, 0);
  bot.telegram.pushMessage({ chatId: CHAT, fromId: OPERATOR, text: 'yes', replyTo: asked.message_id });
  await waitFor(() => sentTexts(bot.telegram).some((x) => x.startsWith('Recorded: yes')), { what: 'the recorded answer' });
  const [answered] = bot.events.ofType('question.answered');
  assert.equal(answered!.context.channel, 'telegram');
  assert.equal(answered!.context.answer, 'yes');
  // The same question answered again from the phone: already decided, nothing changes.
  bot.ntfy.publishAsUser('ns-replies', `no ${question.code}`);
  await waitFor(() => published(bot.ntfy).some((m) => m.includes('Already answered: yes')), { what: 'the already-answered reply' });
  assert.equal(bot.events.ofType('question.answered').length, 1);
});

test('a Telegram button and an ntfy action button answer questions; a used button does nothing', async (t) => {
  const bot = await startBot(t);
  const first = bot.app.ask({ kind: 'test', subject: 'a', title: 'First question?' });
  const message = await waitFor(() => bot.telegram.sent().find((m) => m.text?.includes('First question?')), { what: 'the first question' });
  bot.telegram.pushCallback({ chatId: CHAT, fromId: OPERATOR, data: `q:${first.id}:no`, messageId: message.message_id });
  await waitFor(() => bot.events.ofType('question.answered').some((e) => e.context.questionId === first.id && e.context.answer === 'no'), {
    what: 'the button answer',
  });

  const second = bot.app.ask({ kind: 'test', subject: 'b', title: 'Second question?' });
  const push = await waitFor(() => bot.ntfy.messages('ns-alerts').find((m) => m.title === 'Second question?'), { what: 'the push' });
  const approve = push.actions!.find((a) => a.label === 'Approve')!;
  assert.equal(approve.method, 'POST');
  const pressed = await fetch(approve.url!, { method: 'POST' });
  assert.equal(pressed.status, 200);
  assert.match(await pressed.text(), /^Recorded: yes/);
  assert.equal(bot.events.ofType('question.answered').find((e) => e.context.questionId === second.id)!.context.channel, 'ntfy');
  const again = await fetch(approve.url!, { method: 'POST' });
  assert.equal(again.status, 410);
  assert.match(await again.text(), /already used/);
  assert.equal((await fetch(approve.url!)).status, 405, 'a GET (link preview) never answers');
});

test('an unauthorised user is refused politely, audited, and nothing changes; a second refusal within the window is counted, not answered', async (t) => {
  const bot = await startBot(t);
  bot.telegram.pushMessage({ chatId: CHAT, fromId: STRANGER, text: '/disable-surgery' });
  await waitFor(() => sentTexts(bot.telegram).some((x) => /needs the operator role.*Nothing was changed/.test(x)), { what: 'the refusal' });
  const question = bot.app.ask({ kind: 'test', subject: 'c', title: 'Third question?' });
  const message = await waitFor(() => bot.telegram.sent().find((m) => m.text?.includes('Third question?')), { what: 'the question' });
  const answered = bot.telegram.callbackAnswers().length;
  bot.telegram.pushCallback({ chatId: CHAT, fromId: STRANGER, data: `q:${question.id}:yes`, messageId: message.message_id });
  // The button's spinner is stopped, with no text: the stranger was already told within this window.
  const [pressed] = await waitFor(() => (bot.telegram.callbackAnswers().length > answered ? bot.telegram.callbackAnswers().slice(answered) : undefined), {
    what: 'the button press answered',
  });
  assert.equal(pressed!.text, undefined);
  assert.deepEqual(
    bot.events.ofType('chat.refused').map((e) => [e.context.userId, e.context.what]),
    [[String(STRANGER), '/disable-surgery']],
  );
  assert.equal(bot.events.ofType('surgery.changed').length, 0);
  assert.equal(bot.events.ofType('question.answered').length, 0);
  // ntfy replies may run viewer commands only (configured role), and never answer without the code.
  bot.ntfy.publishAsUser('ns-replies', 'disable-surgery');
  await waitFor(() => published(bot.ntfy).some((m) => /needs the operator role/.test(m)), { what: 'the ntfy refusal' });
  assert.equal(bot.events.ofType('surgery.changed').length, 0);
  assert.equal(bot.events.ofType('chat.refused').length, 2, 'ntfy is another sender');
});

test('a stranger sending 200 refused commands gets one answer and adds one row', async (t) => {
  const bot = await startBot(t);
  for (let i = 0; i < 200; i++) bot.telegram.pushMessage({ chatId: CHAT, fromId: STRANGER, text: i % 2 ? '/disable-surgery' : '/heal web' });
  // Updates are handled in order: once the operator's /status is answered, all 200 were handled.
  bot.telegram.pushMessage({ chatId: CHAT, fromId: OPERATOR, text: '/status' });
  await waitFor(() => sentTexts(bot.telegram).some((text) => text.startsWith('SUMMARY:')), {
    timeoutMs: 60_000,
    what: "the operator's answer after the flood",
  });
  assert.equal(sentTexts(bot.telegram).filter((x) => /Nothing was changed/.test(x)).length, 1, 'answered once');
  assert.equal(bot.events.ofType('chat.refused').length, 1, 'recorded once');
  assert.equal(bot.events.ofType('surgery.changed').length, 0);
});

test("guessing a question's code on the ntfy reply topic: locked out after 5 wrong codes, then even the right code is refused", async (t) => {
  const bot = await startBot(t);
  const question = bot.app.ask({ kind: 'test', subject: 'e', title: 'Guess me?' });
  const push = await waitFor(() => bot.ntfy.messages('ns-alerts').find((m) => m.title === 'Guess me?'), { what: 'the question push' });
  assert.match(push.message ?? '', new RegExp(`yes ${question.code}`));
  assert.match(question.code, /^[A-Z2-9]{8}$/);
  for (let i = 0; i < 300; i++) bot.ntfy.publishAsUser('ns-replies', `yes ${(i * 7919).toString(36).toUpperCase().padStart(8, 'Q')}`);
  bot.ntfy.publishAsUser('ns-replies', `yes ${question.code}`);
  bot.ntfy.publishAsUser('ns-replies', 'status');
  await waitFor(() => published(bot.ntfy).some((m) => m.startsWith('Nightshift|SUMMARY')), {
    timeoutMs: 60_000,
    what: 'the reply to status after the guesses',
  });
  assert.equal(bot.events.ofType('question.answered').length, 0, 'the right code after the lock-out changed nothing');
  assert.equal(bot.events.ofType('chat.locked_out').length, 1);
  const replies = published(bot.ntfy).filter((m) => m.startsWith('Nightshift|'));
  assert.equal(replies.filter((m) => /No question has the code/.test(m)).length, 4, 'four wrong codes answered, then silence');
  assert.equal(replies.filter((m) => /Too many wrong codes/.test(m)).length, 1);
  // The lock-out is announced on every channel.
  await waitFor(() => sentTexts(bot.telegram).some((text) => /5 wrong answer codes from ntfy:ns-replies/.test(text)), {
    what: 'the lock-out alert on Telegram',
  });
  assert.ok(bot.ntfy.messages('ns-alerts').some((m) => /5 wrong answer codes/.test(m.title ?? '')));
});

test('a 429 with retry_after is honoured before the message is retried', async (t) => {
  const bot = await startBot(t);
  bot.telegram.failNext('sendMessage', 1, { status: 429, retryAfter: 2 });
  const asked = Date.now();
  bot.app.ask({ kind: 'test', subject: 'd', title: 'Rate limited question?' });
  const delivered = await waitFor(() => bot.telegram.sent().find((m) => m.text?.includes('Rate limited question?')), {
    timeoutMs: 15_000,
    what: 'the retried message',
  });
  assert.ok(delivered.date * 1000 >= asked + 1_000, 'delivered only after the retry_after wait');
  const retries = bot.lines().filter((l) => l.msg === 'delivery failed; will retry' && l.channel === 'telegram');
  assert.equal(retries[0]!.retryInMs, 2000);
});

test('an ntfy subscription that drops reconnects from the last id and handles no reply twice', async (t) => {
  const bot = await startBot(t);
  bot.ntfy.publishAsUser('ns-replies', 'status');
  const replies = () => published(bot.ntfy).filter((m) => m.startsWith('Nightshift|SUMMARY'));
  await waitFor(() => replies().length === 1, { what: 'the first reply' });
  bot.ntfy.dropSubscribers();
  bot.ntfy.publishAsUser('ns-replies', 'consent');
  await waitFor(() => published(bot.ntfy).some((m) => m.includes('surgery: enabled')), { timeoutMs: 15_000, what: 'the reply after reconnecting' });
  const resumed = bot.ntfy.subscribeRequests('ns-replies').at(-1)!;
  assert.match(resumed.path + JSON.stringify(resumed.query ?? ''), /since/);
  assert.equal(replies().length, 1, 'the first reply was not handled again');
});

test('a channel down for 60 s then back: every queued message is delivered once, in order; the others never wait', async (t) => {
  const bot = await startBot(t);
  await bot.telegram.down();
  const titles = ['Outage 1?', 'Outage 2?', 'Outage 3?', 'Outage 4?', 'Outage 5?'];
  for (const title of titles) bot.app.ask({ kind: 'test', subject: 'outage', title });
  // ntfy is not held up by Telegram being down.
  await waitFor(() => titles.every((title) => bot.ntfy.messages('ns-alerts').some((m) => m.title === title)), { what: 'ntfy deliveries during the outage' });
  // The outage itself is the input of this scenario: 60 s of Telegram refusing connections.
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  assert.equal(bot.telegram.sent().filter((m) => m.text?.includes('Outage')).length, 0);
  await bot.telegram.up();
  await waitFor(() => bot.telegram.sent().filter((m) => m.text?.includes('Outage')).length === titles.length, {
    timeoutMs: 90_000,
    what: 'every queued message after the outage',
  });
  const delivered = bot.telegram
    .sent()
    .filter((m) => m.text?.includes('Outage'))
    .map((m) => titles.find((title) => m.text!.includes(title)));
  assert.deepEqual(delivered, titles, 'once each, in order');
});
