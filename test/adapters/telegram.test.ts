import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Message } from 'grammy/types';
import { TelegramChannel, type TelegramChannelOptions } from '../../adapters/telegram.js';
import { DeliveryError, type AnswerTarget, type CommandSummary, type Identity, type Inbound, type OutgoingMessage } from '../../src/chat/channel.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { waitFor } from '../helpers/temp.js';
import type { Reply } from '../../src/chat/channel.js';

const OPERATOR = 5001;
const STRANGER = 666;
const COMMANDS: CommandSummary[] = [
  { name: 'status', description: 'One-line summary and details', usage: '/status', args: [] },
  { name: 'disable-surgery', description: 'Stop all self-repair now', usage: '/disable-surgery', args: [] },
  { name: 'help', description: 'List the commands', usage: '/help', args: [] },
];
const QUESTION: OutgoingMessage = {
  severity: 'warning',
  title: 'May I analyse error patterns?',
  body: 'worker failed 5 times today',
  question: { questionId: 'q7', code: '4F7Q', yesLabel: 'Approve', noLabel: 'Reject' },
};

/** A stand-in for the core: records every call, answers like it, refuses the stranger. */
class RecordingInbound implements Inbound {
  readonly commands: Array<{ text: string; from: Identity }> = [];
  readonly answers: Array<{ target: AnswerTarget; answer: 'yes' | 'no'; from: Identity }> = [];
  private readonly seen = new Set<string>();
  /** While set, command() waits for it: lets a test stop the adapter mid-update. */
  gate: Promise<void> | undefined;

  constructor(private readonly store: { cursor?: string } = {}) {}

  async command(text: string, from: Identity): Promise<Reply> {
    this.commands.push({ text, from });
    await this.gate;
    if (from.userId === String(STRANGER)) return { text: `You may not run ${text}.`, kind: 'refused' };
    return { text: `ran ${text}`, kind: 'answer' };
  }

  async answer(target: AnswerTarget, answer: 'yes' | 'no', from: Identity): Promise<Reply> {
    this.answers.push({ target, answer, from });
    if (from.userId === String(STRANGER)) return { text: 'You are not allowed to answer this.', kind: 'refused' };
    return { text: `Recorded: ${answer}`, kind: 'answer' };
  }

  firstSeen(updateId: string): boolean {
    if (this.seen.has(updateId)) return false;
    this.seen.add(updateId);
    return true;
  }

  cursor(): string | undefined {
    return this.store.cursor;
  }

  saveCursor(value: string): void {
    this.store.cursor = value;
  }
}

interface Harness {
  fake: FakeTelegram;
  channel: TelegramChannel;
  inbound: RecordingInbound;
  logs: () => Array<Record<string, unknown>>;
}

async function startFake(t: TestContext, token?: string): Promise<FakeTelegram> {
  const fake = await FakeTelegram.start({ chats: [OPERATOR], ...(token ? { token } : {}) });
  t.after(() => fake.close());
  return fake;
}

function makeChannel(t: TestContext, fake: FakeTelegram, overrides: Partial<TelegramChannelOptions> = {}) {
  // No secrets registered: the test proves the adapter itself keeps the token out of its lines.
  const { logger, lines } = createCapturedLogger(new Redactor());
  const channel = new TelegramChannel({
    token: fake.token,
    chatId: String(OPERATOR),
    apiRoot: fake.apiRoot,
    commands: COMMANDS,
    log: logger,
    retryDelayMs: { initial: 50, max: 400 },
    menuRetryDelayMs: { initial: 50, max: 400 },
    ...overrides,
  });
  t.after(() => channel.stop());
  return { channel, logs: lines };
}

async function harness(
  t: TestContext,
  options: {
    token?: string;
    inbound?: RecordingInbound;
    beforeStart?: (fake: FakeTelegram) => void;
    channel?: Partial<TelegramChannelOptions>;
  } = {},
): Promise<Harness> {
  const fake = await startFake(t, options.token);
  options.beforeStart?.(fake);
  const { channel, logs } = makeChannel(t, fake, options.channel);
  const inbound = options.inbound ?? new RecordingInbound();
  await channel.start(inbound);
  await waitFor(() => fake.calls('getUpdates').length > 0, { what: 'the first getUpdates' });
  return { fake, channel, inbound, logs };
}

function lastSent(fake: FakeTelegram): Message | undefined {
  return fake.sent().at(-1);
}

function repliesTo(fake: FakeTelegram, messageText: string): Message | undefined {
  return fake.sent().find((m) => m.reply_to_message?.text === messageText);
}

test('/status round trip: the core gets "/status" with who sent it, the user gets the reply under their message', async (t) => {
  // A webhook left by an old deployment must not block polling.
  const { fake, inbound } = await harness(t, { beforeStart: (f) => f.setWebhook('https://old.example/hook') });
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, fromName: 'Ada', text: '/status@nightshift_test_bot' });

  const reply = await waitFor(() => repliesTo(fake, '/status@nightshift_test_bot'), { what: 'the reply' });
  assert.equal(reply.text, 'ran /status');
  assert.deepEqual(inbound.commands, [
    { text: '/status', from: { channel: 'telegram', userId: String(OPERATOR), displayName: 'Ada', chatId: String(OPERATOR) } },
  ]);
  assert.equal(fake.calls('deleteWebhook').length, 1);
});

test('the command menu lists every command with Telegram names, and /disable_surgery reaches the core as /disable-surgery', async (t) => {
  const { fake, inbound } = await harness(t);
  // The menu is set beside polling, not before it.
  await waitFor(() => fake.commands().length > 0, { what: 'the command menu' });
  assert.deepEqual(fake.commands(), [
    { command: 'status', description: 'One-line summary and details' },
    { command: 'disable_surgery', description: 'Stop all self-repair now' },
    { command: 'help', description: 'List the commands' },
  ]);

  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/disable_surgery  right now' });
  // A command for another bot in a group is not ours.
  fake.pushMessage({ chatId: -100200, fromId: OPERATOR, text: '/status@other_bot' });
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/help' });
  await waitFor(() => inbound.commands.length >= 2, { what: 'two commands' });
  await waitFor(() => repliesTo(fake, '/help'), { what: 'the /help reply' });
  assert.deepEqual(
    inbound.commands.map((c) => c.text),
    ['/disable-surgery  right now', '/help'],
  );
});

test('a server without setMyCommands (404, then 400) never blocks polling: /status is answered and the menu failure is one warning', async (t) => {
  const { fake, inbound, logs } = await harness(t, {
    beforeStart: (f) =>
      f.failInTurn(
        'setMyCommands',
        { status: 404, description: 'Not Found: method not found' },
        { status: 400, description: 'Bad Request: BOT_COMMANDS_TOO_MUCH' },
      ),
  });
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/status' });
  const reply = await waitFor(() => repliesTo(fake, '/status'), { what: 'the /status reply' });
  assert.equal(reply.text, 'ran /status');
  assert.equal(inbound.commands.length, 1);

  // The 400 ends the background retries: the same list would be refused again.
  await waitFor(() => logs().find((l) => l['msg'] === 'telegram: command menu refused; no more retries'), { what: 'the end of the menu retries' });
  assert.equal(fake.calls('setMyCommands').length, 2);
  const named = logs().filter((l) => JSON.stringify(l).includes('setMyCommands'));
  const warnings = named.filter((l) => Number(l['level']) >= 40);
  assert.equal(warnings.length, 1, 'one warning for the menu, not one per attempt');
  assert.deepEqual([warnings[0]?.['method'], warnings[0]?.['errorCode'], warnings[0]?.['description']], ['setMyCommands', 404, 'Not Found: method not found']);
  assert.equal(warnings[0]?.['error'], 'setMyCommands: 404 Not Found: method not found');
  assert.equal(named.filter((l) => String(l['error']).includes('404')).length, 1);
  assert.ok(!JSON.stringify(logs()).includes('undefined'), 'no field is printed as "undefined"');
  assert.ok(!logs().some((l) => l['msg'] === 'telegram: polling failed' || String(l['msg']).includes('token was refused')));
});

test('a menu that fails for a while is set by a background retry, logged at info once it works', async (t) => {
  const { fake, logs } = await harness(t, {
    beforeStart: (f) => f.failInTurn('setMyCommands', { status: 502 }, { status: 404, description: 'Not Found' }),
  });
  await waitFor(() => logs().find((l) => l['msg'] === 'telegram: command menu set'), { what: 'the menu to be set' });
  assert.equal(fake.commands().length, COMMANDS.length);
  assert.equal(logs().filter((l) => l['level'] === 40).length, 1, 'only the first failure is a warning');
  assert.equal(logs().find((l) => l['msg'] === 'telegram: command menu set')?.['attempt'], 3);
});

test('stop() cancels a pending menu retry', async (t) => {
  const { fake, channel, logs } = await harness(t, {
    beforeStart: (f) => f.failInTurn('setMyCommands', { status: 500 }),
    channel: { menuRetryDelayMs: { initial: 3_600_000, max: 3_600_000 } },
  });
  await waitFor(() => logs().find((l) => String(l['msg']).startsWith('telegram: could not set the command menu')), { what: 'the menu warning' });
  const started = Date.now();
  await channel.stop();
  assert.ok(Date.now() - started < 1000, `stop took ${Date.now() - started} ms`);
  assert.equal(fake.calls('setMyCommands').length, 1);
});

test('"yes" in reply to a question answers it; "yes" on its own gets a hint and answers nothing', async (t) => {
  const { fake, channel, inbound } = await harness(t);
  const { platformId } = await channel.send(QUESTION);
  assert.ok(platformId);

  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '  Yes ', replyTo: Number(platformId) });
  const confirmation = await waitFor(() => repliesTo(fake, '  Yes '), { what: 'the confirmation' });
  assert.equal(confirmation.text, 'Recorded: yes');
  assert.deepEqual(
    inbound.answers.map((a) => [a.target, a.answer]),
    [[{ replyTo: platformId }, 'yes']],
  );

  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: 'n' });
  const hint = await waitFor(() => repliesTo(fake, 'n'), { what: 'the hint' });
  assert.equal(hint.text, "Reply to the question's message with yes or no.");
  assert.equal(inbound.answers.length, 1);
});

test("a button press answers the question, answers the callback and removes the buttons; a stranger's press changes nothing", async (t) => {
  const { fake, channel, inbound } = await harness(t);
  const { platformId } = await channel.send(QUESTION);
  const messageId = Number(platformId);

  fake.pushCallback({ chatId: OPERATOR, fromId: STRANGER, data: 'q:q7:yes', messageId });
  await waitFor(() => fake.callbackAnswers().length === 1, { what: "the stranger's callback answer" });
  const refusal = fake.callbackAnswers()[0];
  assert.deepEqual([refusal?.text, refusal?.showAlert], ['You are not allowed to answer this.', true], 'the refusal is an alert to the presser alone');
  assert.equal(fake.sent().length, 1, 'nothing is posted to the chat for a refused press');
  assert.ok(fake.sent().find((m) => m.message_id === messageId)?.reply_markup, 'the buttons stay after a refused press');

  fake.pushCallback({ chatId: OPERATOR, fromId: OPERATOR, fromName: 'Ada', data: 'q:q7:no', messageId });
  await waitFor(() => fake.callbackAnswers().length === 2, { what: "the operator's callback answer" });
  assert.equal(fake.callbackAnswers()[1]!.text, 'Recorded: no');
  const confirmation = await waitFor(() => fake.sent().find((m) => m.text === 'Recorded: no'), { what: 'the confirmation in the chat' });
  assert.equal(confirmation.reply_to_message?.message_id, messageId);
  assert.equal(fake.sent().find((m) => m.message_id === messageId)?.reply_markup, undefined, 'the buttons are gone');
  assert.deepEqual(
    inbound.answers.map((a) => [a.target, a.answer, a.from.userId]),
    [
      [{ questionId: 'q7' }, 'yes', String(STRANGER)],
      [{ questionId: 'q7' }, 'no', String(OPERATOR)],
    ],
  );
});

test("alert buttons run their command as the presser typed it: Ack acks, the reply goes under the alert; a stranger's press is refused", async (t) => {
  const { fake, channel, inbound } = await harness(t);
  const { platformId } = await channel.send({
    severity: 'critical',
    title: 'web is down',
    actions: [
      { label: 'Ack', command: '/ack 12' },
      { label: 'Silence 1h', command: '/silence #12 1h' },
    ],
  });
  const messageId = Number(platformId);
  assert.deepEqual(lastSent(fake)?.reply_markup, {
    inline_keyboard: [
      [
        { text: 'Ack', callback_data: 'cmd:/ack 12' },
        { text: 'Silence 1h', callback_data: 'cmd:/silence #12 1h' },
      ],
    ],
  });

  fake.pushCallback({ chatId: OPERATOR, fromId: STRANGER, data: 'cmd:/ack 12', messageId });
  await waitFor(() => fake.callbackAnswers().length === 1, { what: "the stranger's callback answer" });
  assert.deepEqual([fake.callbackAnswers()[0]?.text, fake.callbackAnswers()[0]?.showAlert], ['You may not run /ack 12.', true]);
  assert.equal(fake.sent().length, 1, 'nothing is posted to the chat for a refused press');

  fake.pushCallback({ chatId: OPERATOR, fromId: OPERATOR, fromName: 'Ada', data: 'cmd:/ack 12', messageId });
  await waitFor(() => fake.callbackAnswers().length === 2, { what: "the operator's callback answer" });
  assert.equal(fake.callbackAnswers()[1]?.text, 'ran /ack 12');
  const confirmation = await waitFor(() => fake.sent().find((m) => m.text === 'ran /ack 12'), { what: 'the reply under the alert' });
  assert.equal(confirmation.reply_to_message?.message_id, messageId);
  assert.deepEqual(inbound.commands, [
    { text: '/ack 12', from: { channel: 'telegram', userId: String(STRANGER), displayName: 'User666', chatId: String(OPERATOR) } },
    { text: '/ack 12', from: { channel: 'telegram', userId: String(OPERATOR), displayName: 'Ada', chatId: String(OPERATOR) } },
  ]);
  assert.ok(fake.sent().find((m) => m.message_id === messageId)?.reply_markup, 'the alert keeps its buttons');
});

test('an update Telegram delivers twice is handled once', async (t) => {
  const { fake, inbound, logs } = await harness(t);
  const updateId = fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/status' });
  await waitFor(() => repliesTo(fake, '/status'), { what: 'the first reply' });

  fake.redeliver(updateId);
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/help' });
  await waitFor(() => repliesTo(fake, '/help'), { what: 'the reply to the later message' });
  assert.deepEqual(
    inbound.commands.map((c) => c.text),
    ['/status', '/help'],
  );
  assert.equal(fake.sent().filter((m) => m.reply_to_message?.text === '/status').length, 1);
  assert.ok(logs().some((l) => l['updateId'] === updateId && String(l['msg']).includes('seen before')));
});

test('the offset is persisted: a new adapter resumes from it and nothing is handled twice across a restart', async (t) => {
  const fake = await startFake(t);
  const database: { cursor?: string } = {};
  const first = new RecordingInbound(database);
  let release!: () => void;
  first.gate = new Promise((resolve) => (release = resolve));
  const { channel: before } = makeChannel(t, fake);
  await before.start(first);

  const statusUpdate = fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/status' });
  await waitFor(() => first.commands.length === 1, { what: 'the first adapter to take /status' });
  // Stop while the update is in hand: its offset is saved, but Telegram never hears it confirmed.
  const stopping = before.stop();
  release();
  await stopping;
  assert.equal(database.cursor, String(statusUpdate + 1));
  assert.ok(
    fake.calls('getUpdates').every((c) => c.params['offset'] === undefined || Number(c.params['offset']) <= statusUpdate),
    'the first adapter never confirmed /status, so only the saved cursor can keep it from coming back',
  );

  const callsBefore = fake.calls('getUpdates').length;
  const second = new RecordingInbound(database);
  const { channel: after } = makeChannel(t, fake);
  await after.start(second);
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/help' });
  await waitFor(() => repliesTo(fake, '/help'), { what: 'the second adapter to answer /help' });
  assert.deepEqual(
    second.commands.map((c) => c.text),
    ['/help'],
  );
  assert.equal(fake.calls('getUpdates')[callsBefore]?.params['offset'], statusUpdate + 1);
});

test('send() of a question: bold title, escaped text, the code, and two buttons carrying the question id', async (t) => {
  const { fake, channel } = await harness(t);
  const { platformId } = await channel.send({
    severity: 'critical',
    title: 'worker <api> down & out',
    body: 'exit 1: &lt; is literal here',
    question: { questionId: 'q9', code: '4F7Q', yesLabel: 'Restart', noLabel: 'Leave it' },
  });
  const message = lastSent(fake);
  assert.equal(String(message?.message_id), platformId);
  assert.equal(message?.text, '🔴 worker <api> down & out\nexit 1: &lt; is literal here\n\nReply yes/no to this message · code 4F7Q');
  const text = message.text;
  const slices = (message?.entities ?? []).map((e) => [e.type, text.slice(e.offset, e.offset + e.length)]);
  assert.deepEqual(slices, [
    ['bold', 'worker <api> down & out'],
    ['code', '4F7Q'],
  ]);
  assert.deepEqual(message?.reply_markup, {
    inline_keyboard: [
      [
        { text: 'Restart', callback_data: 'q:q9:yes' },
        { text: 'Leave it', callback_data: 'q:q9:no' },
      ],
    ],
  });
});

test('send() failures: 429 carries retry_after in ms, 401 is permanent, an unreachable server is a plain DeliveryError', async (t) => {
  const { fake, channel } = await harness(t);
  const alert: OutgoingMessage = { severity: 'info', title: 'hello' };

  fake.failNext('sendMessage', 1, { status: 429, retryAfter: 2 });
  await assert.rejects(channel.send(alert), (err: unknown) => err instanceof DeliveryError && err.retryAfterMs === 2000 && !err.permanent);

  fake.failNext('sendMessage', 1, { status: 401 });
  await assert.rejects(channel.send(alert), (err: unknown) => err instanceof DeliveryError && err.permanent && err.retryAfterMs === undefined);

  await fake.down();
  await assert.rejects(channel.send(alert), (err: unknown) => err instanceof DeliveryError && !err.permanent && !String(err.message).includes(fake.token));
  await fake.up();

  assert.ok((await channel.send(alert)).platformId, 'the channel works again once Telegram does');
  assert.equal(fake.sent().length, 1);
});

test('polling survives Telegram going down: it keeps retrying, picks up what came while it was down, and never logs the token', async (t) => {
  // A token the redactor's patterns do not recognise, so only the adapter's own care keeps it out of the logs.
  const { fake, inbound, logs } = await harness(t, { token: '4242:fake-secret-x' });
  await fake.down();
  await waitFor(() => logs().filter((l) => l['msg'] === 'telegram: polling failed').length >= 3, { what: 'three failed polls', timeoutMs: 10_000 });
  await fake.up();
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/status' });

  await waitFor(() => inbound.commands.length === 1, { what: 'the command after recovery', timeoutMs: 10_000 });
  assert.ok(logs().some((l) => l['msg'] === 'telegram: polling recovered'));
  const failure = logs().find((l) => l['msg'] === 'telegram: polling failed');
  assert.equal(failure?.['level'], 40, 'failures are warnings');
  assert.match(String(failure?.['error']), /getUpdates/);
  assert.ok(!JSON.stringify(logs()).includes('fake-secret'), 'the token never reaches the log');
});

test('a 429 while polling waits retry_after, then carries on', async (t) => {
  const { fake, inbound, logs } = await harness(t);
  fake.failNext('getUpdates', 1, { status: 429, retryAfter: 1 });
  // This answers the poll in flight; the poll after it is the one refused.
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/status' });
  await waitFor(() => logs().find((l) => l['msg'] === 'telegram: rate limited while polling'), { what: 'the rate-limit warning' });
  const limitedAt = Date.now();
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/help' });
  await waitFor(() => inbound.commands.length === 2, { what: 'the command after the rate limit' });
  assert.ok(Date.now() - limitedAt >= 900, `waited only ${Date.now() - limitedAt} ms`);
  assert.equal(logs().find((l) => l['msg'] === 'telegram: rate limited while polling')?.['retryInMs'], 1000);
});

test('a wrong token stops polling with one error instead of retrying forever', async (t) => {
  const fake = await startFake(t);
  const { channel, logs } = makeChannel(t, fake, { token: '111111:not-the-right-token' });
  await channel.start(new RecordingInbound());
  await waitFor(() => logs().some((l) => l['level'] === 50), { what: 'the error line' });
  await channel.stop();
  assert.equal(logs().filter((l) => l['level'] === 50).length, 1);
  assert.match(String(logs().find((l) => l['level'] === 50)?.['msg']), /token was refused/);
  assert.equal(logs().filter((l) => l['msg'] === 'telegram: polling failed').length, 0);
  assert.equal(fake.calls().length, 0, 'nothing got past the token check');
});

test('two pollers on one token: the conflict is logged as a warning and updates still get handled', async (t) => {
  const { fake, inbound, logs } = await harness(t);
  const { channel: twin, logs: twinLogs } = makeChannel(t, fake);
  const twinInbound = new RecordingInbound();
  await twin.start(twinInbound);
  const conflict = await waitFor(() => [...logs(), ...twinLogs()].find((l) => l['msg'] === 'telegram: another poller or a webhook holds this bot token'), {
    what: 'the 409 warning',
  });
  assert.equal(conflict['level'], 40);
  fake.pushMessage({ chatId: OPERATOR, fromId: OPERATOR, text: '/status' });
  await waitFor(() => inbound.commands.length + twinInbound.commands.length === 1, { what: 'one of them to handle /status' });
});

test('stop() returns promptly in the middle of a long poll', async (t) => {
  const { fake, channel } = await harness(t);
  const polls = fake.calls('getUpdates').length;
  assert.equal(fake.calls('getUpdates').at(-1)?.params['timeout'], 25, 'a real long poll is in flight');
  const started = Date.now();
  await channel.stop();
  assert.ok(Date.now() - started < 1000, `stop took ${Date.now() - started} ms`);
  assert.equal(fake.calls('getUpdates').length, polls, 'no poll after stop');
});
