import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { NtfyChannel, parseNtfyReply, truncateUtf8, type NtfyChannelOptions } from '../../adapters/ntfy.js';
import { DeliveryError, type AnswerTarget, type CommandSummary, type Identity, type Inbound } from '../../src/chat/channel.js';
import { FakeNtfyServer, type NtfyMessage } from '../fakes/ntfy/server.js';
import { waitFor } from '../helpers/temp.js';

const TOKEN = 'tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2';
const TOPIC = 'nightshift-alerts';
const REPLY_TOPIC = 'nightshift-replies';
const COMMANDS: CommandSummary[] = ['status', 'help', 'mute', 'disable-surgery'].map((name) => ({ name, description: name, usage: `/${name}`, args: [] }));
const OPERATOR: Identity = { channel: 'ntfy', userId: `ntfy:${REPLY_TOPIC}` };

/** Where a test double of the core keeps what survives a restart: the cursor and the seen ids. */
interface CoreState {
  cursor: string | undefined;
  seen: Set<string>;
}

/** A recording Inbound: the core as the adapter sees it (commands and answers echo back a Reply). */
function recordingInbound(state: CoreState = { cursor: undefined, seen: new Set() }) {
  const commands: Array<{ text: string; from: Identity }> = [];
  const answers: Array<{ target: AnswerTarget; answer: 'yes' | 'no'; from: Identity }> = [];
  const savedCursors: string[] = [];
  const inbound: Inbound = {
    async command(text, from) {
      commands.push({ text, from });
      return { text: `ran ${text}` };
    },
    async answer(target, answer, from) {
      answers.push({ target, answer, from });
      return { text: answer === 'yes' ? 'Approved.' : 'Rejected.' };
    },
    firstSeen(updateId) {
      if (state.seen.has(updateId)) return false;
      state.seen.add(updateId);
      return true;
    },
    cursor: () => state.cursor,
    saveCursor(value) {
      state.cursor = value;
      savedCursors.push(value);
    },
  };
  return { inbound, commands, answers, savedCursors, state };
}

/** A pino logger writing JSON lines to memory, with no redaction, so a leaked token would show. */
function memoryLogger() {
  const lines: string[] = [];
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { log: pino({ level: 'debug' }, output), lines };
}

async function fakeNtfy(t: TestContext, options: Parameters<typeof FakeNtfyServer.start>[0] = {}) {
  const fake = await FakeNtfyServer.start({ keepaliveMs: 100, ...options });
  t.after(() => fake.close());
  return fake;
}

function channel(t: TestContext, fake: FakeNtfyServer, options: Partial<NtfyChannelOptions> = {}) {
  const { log, lines } = memoryLogger();
  const ntfy = new NtfyChannel({
    url: fake.url,
    topic: TOPIC,
    commands: COMMANDS,
    log,
    reconnect: { baseMs: 20, maxMs: 200 },
    idleTimeoutMs: 2_000,
    ...options,
  });
  t.after(() => ntfy.stop());
  return { ntfy, logLines: lines };
}

/** A channel reading replies, started, with its stream open on the fake. */
async function listening(t: TestContext, fake: FakeNtfyServer, core = recordingInbound(), options: Partial<NtfyChannelOptions> = {}) {
  const built = channel(t, fake, { replyTopic: REPLY_TOPIC, token: TOKEN, ...options });
  await built.ntfy.start(core.inbound);
  await waitFor(() => fake.subscriberCount(REPLY_TOPIC) === 1, { what: 'the reply stream to open' });
  return { ...built, core };
}

const replies = (fake: FakeNtfyServer) =>
  fake
    .messages(TOPIC)
    .filter((m) => m.title === 'Nightshift')
    .map((m) => m.message);

test('ntfy: an alert maps severity to priority and tags, with title, body, click URL and the Bearer token', async (t) => {
  const fake = await fakeNtfy(t, { token: TOKEN });
  const { ntfy } = channel(t, fake, { token: TOKEN });

  const delivery = await ntfy.send({
    severity: 'critical',
    title: 'worker is down',
    body: 'restart did not hold (3 in 10 min)',
    url: 'http://127.0.0.1:8787/incidents/7',
  });
  await ntfy.send({ severity: 'warning', title: 'disk at 91%' });
  await ntfy.send({ severity: 'info', title: 'worker recovered' });
  await ntfy.send({ severity: 'critical', kind: 'escalation', title: 'worker needs you' });
  await ntfy.send({ severity: 'warning', urgent: true, title: 'worker needs you (2nd time)' });
  await ntfy.send({ severity: 'info', kind: 'recovery', resolves: 'critical', title: 'worker recovered after 3m' });

  const [critical, warning, info, escalation, urgent, recovery] = fake.messages(TOPIC) as [
    NtfyMessage,
    NtfyMessage,
    NtfyMessage,
    NtfyMessage,
    NtfyMessage,
    NtfyMessage,
  ];
  assert.equal(delivery.platformId, critical.id);
  assert.match(critical.id, /^[A-Za-z0-9]{12}$/);
  assert.equal(critical.title, 'worker is down');
  assert.equal(critical.message, 'restart did not hold (3 in 10 min)');
  assert.equal(critical.priority, 4, 'a critical alert is high; max is kept for what needs someone now');
  assert.deepEqual(critical.tags, ['rotating_light']);
  assert.equal(critical.click, 'http://127.0.0.1:8787/incidents/7');
  assert.equal(warning.priority, undefined, "a warning is ntfy's default priority 3, which ntfy leaves out");
  assert.deepEqual(warning.tags, ['warning']);
  assert.equal(warning.message, 'disk at 91%', 'a message without a body shows its title as the text');
  assert.equal(info.priority, 2, 'info is low: no sound');
  assert.deepEqual(info.tags, ['white_check_mark']);
  assert.equal(escalation.priority, 5, 'a critical escalation is max');
  assert.equal(urgent.priority, 5, 'a re-sent, unacknowledged escalation is max');
  assert.equal(recovery.priority, 2, 'a recovery is low whatever recovered');
  const publishes = fake.requests().filter((r) => r.method === 'POST');
  assert.equal(publishes.length, 6);
  for (const request of publishes) {
    assert.equal(request.path, '/');
    assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
  }
});

test('ntfy: a question carries Approve/Reject http actions that POST the answer URLs, and shows the code', async (t) => {
  const fake = await fakeNtfy(t);
  const { ntfy } = channel(t, fake, { replyTopic: REPLY_TOPIC });
  const answerUrls = { yes: 'http://127.0.0.1:8787/answer/q7/yes?sig=abc', no: 'http://127.0.0.1:8787/answer/q7/no?sig=def' };

  await ntfy.send({
    severity: 'warning',
    title: 'May I analyse error patterns?',
    body: 'The worker failed 5 times today.',
    question: { questionId: 'q7', code: '4F7Q', yesLabel: 'Approve', noLabel: 'Reject', answerUrls },
  });

  const [message] = fake.messages(TOPIC) as [NtfyMessage];
  assert.equal(message.message, `The worker failed 5 times today.\n\nReply "yes 4F7Q" or "no 4F7Q" on ${REPLY_TOPIC}`);
  assert.deepEqual(message.actions, [
    { action: 'http', label: 'Approve', url: answerUrls.yes, method: 'POST', clear: true },
    { action: 'http', label: 'Reject', url: answerUrls.no, method: 'POST', clear: true },
  ]);
});

test('ntfy: alert buttons become http actions POSTing their /act/ URLs, after any question buttons, at most 3', async (t) => {
  const fake = await fakeNtfy(t);
  const { ntfy } = channel(t, fake, { replyTopic: REPLY_TOPIC });
  const actions = [
    { label: 'Ack', command: '/ack 12' },
    { label: 'Silence 1h', command: '/silence web 1h' },
    { label: 'Heal now', command: '/heal web' },
    { label: 'Diagnose', command: '/diagnose web' },
  ];
  const actionUrls = actions.map((_, i) => `http://127.0.0.1:8787/act/t${i}.sig`);

  await ntfy.send({ severity: 'critical', title: 'web is DOWN', actions, actionUrls });
  await ntfy.send({ severity: 'critical', title: 'no URLs', actions });
  await ntfy.send({
    severity: 'warning',
    title: 'Both',
    actions,
    actionUrls,
    question: { questionId: 'q7', code: '4F7Q', yesLabel: 'Approve', noLabel: 'Reject', answerUrls: { yes: 'http://h/answer/y.s', no: 'http://h/answer/n.s' } },
  });

  const [alert, bare, both] = fake.messages(TOPIC) as [NtfyMessage, NtfyMessage, NtfyMessage];
  assert.deepEqual(alert.actions, [
    { action: 'http', label: 'Ack', url: actionUrls[0], method: 'POST', clear: true },
    { action: 'http', label: 'Silence 1h', url: actionUrls[1], method: 'POST', clear: true },
    { action: 'http', label: 'Heal now', url: actionUrls[2], method: 'POST', clear: true },
  ]);
  assert.equal(bare.actions, undefined, 'a button without a URL is not rendered');
  assert.deepEqual(
    both.actions?.map((a) => a.label),
    ['Approve', 'Reject', 'Ack'],
  );
});

test('ntfy: "yes 4f7q" on the reply topic answers by code, the reply is published and the cursor saved', async (t) => {
  const fake = await fakeNtfy(t, { token: TOKEN });
  const { core } = await listening(t, fake);

  const id = fake.publishAsUser(REPLY_TOPIC, 'yes 4f7q');
  await waitFor(() => core.state.cursor === id, { what: 'the answer to be handled' });

  assert.deepEqual(core.answers, [{ target: { code: '4F7Q' }, answer: 'yes', from: OPERATOR }]);
  assert.deepEqual(replies(fake), ['Approved.']);
  assert.equal(core.state.cursor, id);
  const subscribe = fake.subscribeRequests(REPLY_TOPIC).at(-1)!;
  assert.equal(subscribe.headers.authorization, `Bearer ${TOKEN}`, 'the stream carries the token too');
});

test('ntfy: command words run as commands; unknown text gets a usage hint; every message moves the cursor', async (t) => {
  const fake = await fakeNtfy(t);
  const { core } = await listening(t, fake, recordingInbound(), { token: undefined });

  const ids = ['status', '/mute worker 2h', 'Disable-Surgery', 'what is going on?', 'no'].map((text) => fake.publishAsUser(REPLY_TOPIC, text));
  await waitFor(() => replies(fake).length === 5 && core.state.cursor === ids.at(-1), { what: 'five replies and the last cursor' });

  assert.deepEqual(
    core.commands.map((c) => c.text),
    ['/status', '/mute worker 2h', '/disable-surgery'],
  );
  assert.deepEqual(core.commands[0]!.from, OPERATOR);
  assert.equal(core.answers.length, 0);
  const [status, mute, disable, hint, missingCode] = replies(fake);
  assert.equal(status, 'ran /status');
  assert.equal(mute, 'ran /mute worker 2h');
  assert.equal(disable, 'ran /disable-surgery');
  assert.match(hint!, /Reply "yes CODE" or "no CODE".*status, help, mute, disable-surgery/);
  assert.match(missingCode!, /"no CODE"/);
  assert.deepEqual(core.savedCursors.slice(-5), ids, 'the cursor is saved after each message, in order');
  for (const reply of fake.messages(TOPIC)) assert.equal(reply.priority, undefined, 'replies go out at info (default) priority');
});

test('ntfy: a dropped stream resumes with since=<last id>; nothing is handled twice and nothing is lost', async (t) => {
  const fake = await fakeNtfy(t, { token: TOKEN });
  const { core } = await listening(t, fake);

  const first = fake.publishAsUser(REPLY_TOPIC, 'status');
  await waitFor(() => core.commands.length === 1, { what: 'the first command' });
  const subscribesBefore = fake.subscribeRequests(REPLY_TOPIC).length;

  fake.dropSubscribers();
  await waitFor(() => fake.subscribeRequests(REPLY_TOPIC).length > subscribesBefore && fake.subscriberCount(REPLY_TOPIC) === 1, { what: 'a reconnect' });
  assert.equal(fake.subscribeRequests(REPLY_TOPIC).at(-1)!.query.since, first);

  // Now a real outage: the server goes away, the operator replies meanwhile, the server comes back.
  await fake.down();
  const whileDown = fake.publishAsUser(REPLY_TOPIC, 'yes 4F7Q');
  await fake.up();
  await waitFor(() => core.answers.length === 1, { what: 'the answer sent during the outage' });
  const third = fake.publishAsUser(REPLY_TOPIC, 'help');
  await waitFor(() => core.state.cursor === third, { what: 'a command after the outage' });

  assert.deepEqual(
    core.commands.map((c) => c.text),
    ['/status', '/help'],
  );
  assert.deepEqual(
    core.answers.map((a) => a.target),
    [{ code: '4F7Q' }],
  );
  assert.ok(
    fake.subscribeRequests(REPLY_TOPIC).every((r) => r.query.since !== undefined),
    'every subscription resumes from a cursor',
  );
  assert.equal(core.state.cursor, third);
  assert.equal(core.savedCursors.filter((c) => c === whileDown).length, 1, 'the reply sent during the outage was handled once');
  assert.deepEqual(replies(fake), ['ran /status', 'Approved.', 'ran /help'], 'each reply answered exactly once');
});

test('ntfy: a restarted adapter resumes from the saved cursor, and a redelivered message is skipped', async (t) => {
  const fake = await fakeNtfy(t);
  const state: CoreState = { cursor: undefined, seen: new Set() };
  const before = await listening(t, fake, recordingInbound(state));
  const handled = fake.publishAsUser(REPLY_TOPIC, 'status');
  await waitFor(() => before.core.commands.length === 1, { what: 'the command before the restart' });
  await before.ntfy.stop();
  await waitFor(() => fake.subscriberCount(REPLY_TOPIC) === 0, { what: 'the old stream to close' });

  fake.publishAsUser(REPLY_TOPIC, 'mute worker 2h');
  const after = await listening(t, fake, recordingInbound(state));
  await waitFor(() => after.core.commands.length === 1, { what: 'the command sent while the bot was down' });
  assert.equal(fake.subscribeRequests(REPLY_TOPIC).at(-1)!.query.since, handled);
  assert.deepEqual(
    after.core.commands.map((c) => c.text),
    ['/mute worker 2h'],
  );
  await after.ntfy.stop();

  // A cursor the server no longer knows (its cache was wiped): ntfy sends everything; the seen ids stop a replay.
  state.cursor = 'UnknownId123';
  const replayed = await listening(t, fake, recordingInbound(state));
  const fresh = fake.publishAsUser(REPLY_TOPIC, 'help');
  await waitFor(() => replayed.core.state.cursor === fresh, { what: 'the cursor to reach the newest message' });
  assert.deepEqual(
    replayed.core.commands.map((c) => c.text),
    ['/help'],
    'old messages are not run again',
  );
});

test('ntfy: the first start ever ignores replies left on the topic by an earlier life, and keeps no gap', async (t) => {
  const fake = await fakeNtfy(t);
  const old = fake.publishAsUser(REPLY_TOPIC, 'disable-surgery');
  const { core, ntfy } = await listening(t, fake, recordingInbound(), { token: undefined });
  assert.equal(core.state.cursor, old, 'the cursor starts after the newest cached reply');

  fake.publishAsUser(REPLY_TOPIC, 'status');
  await waitFor(() => core.commands.length === 1, { what: 'the new command' });
  assert.deepEqual(
    core.commands.map((c) => c.text),
    ['/status'],
  );
  await ntfy.stop();

  // An empty topic: the cursor becomes "all", so a reply sent before the first message is not lost either.
  const empty = 'nightshift-empty';
  const core2 = recordingInbound();
  const { ntfy: ntfy2 } = channel(t, fake, { replyTopic: empty });
  await ntfy2.start(core2.inbound);
  await waitFor(() => fake.subscriberCount(empty) === 1, { what: 'the stream on the empty topic' });
  assert.equal(core2.state.cursor, 'all');
  await ntfy2.stop();
  fake.publishAsUser(empty, 'help');
  const { ntfy: ntfy3 } = channel(t, fake, { replyTopic: empty });
  await ntfy3.start(core2.inbound);
  await waitFor(() => core2.commands.length === 1, { what: 'the reply sent while the bot was down' });
  assert.deepEqual(
    core2.commands.map((c) => c.text),
    ['/help'],
  );
});

test('ntfy: 429, 401, 403, 500 and a dead server become DeliveryErrors the outbox understands', async (t) => {
  const fake = await fakeNtfy(t, { token: TOKEN });
  const { ntfy, logLines } = channel(t, fake, { token: TOKEN });
  const alert = { severity: 'critical' as const, title: 'worker is down' };
  const deliveryError = async (what: string) => {
    const err = await ntfy.send(alert).then(
      () => assert.fail(`${what}: expected a DeliveryError`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DeliveryError, `${what}: ${String(err)}`);
    return err;
  };

  fake.failNext(1, { status: 429, retryAfterSeconds: 7 });
  const limited = await deliveryError('429 with Retry-After');
  assert.equal(limited.retryAfterMs, 7_000);
  assert.equal(limited.permanent, false);
  assert.match(limited.message, /HTTP 429 \(limit reached: too many requests/);

  fake.failNext(1, { status: 429 });
  const limitedNoHeader = await deliveryError('429 without Retry-After');
  assert.equal(limitedNoHeader.retryAfterMs, undefined);

  fake.failNext(1, { status: 500 });
  const serverError = await deliveryError('500');
  assert.equal(serverError.permanent, false);
  assert.equal(serverError.retryAfterMs, undefined);

  fake.failNext(1, { status: 401 });
  const unauthorized = await deliveryError('401');
  assert.equal(unauthorized.permanent, true);
  assert.match(unauthorized.message, /HTTP 401 \(unauthorized\)/);

  const { ntfy: wrongToken } = channel(t, fake, { token: 'tk_wrongwrongwrongwrongwrong1' });
  const forbidden = await wrongToken.send(alert).catch((e: unknown) => e);
  assert.ok(forbidden instanceof DeliveryError);
  assert.equal(forbidden.permanent, true);
  assert.match(forbidden.message, /HTTP 403/);

  await fake.down();
  // The first try may hit a pooled socket the server just dropped; the next finds nothing listening.
  const dropped = await deliveryError('server just went down');
  assert.equal(dropped.permanent, false);
  const refused = await deliveryError('server down');
  assert.equal(refused.permanent, false);
  assert.match(refused.message, /^ntfy publish failed: fetch failed: connect ECONNREFUSED/);
  await fake.up();
  assert.equal((await ntfy.send(alert)).platformId, fake.messages(TOPIC)[0]!.id, 'delivery works again once the server is back');
  assert.ok(!logLines.join('').includes(TOKEN), 'the token never reaches the log');
});

test('ntfy: with the server down at start, start() resolves at once and replies flow after it comes back', async (t) => {
  const fake = await fakeNtfy(t, { token: TOKEN });
  await fake.down();
  const core = recordingInbound();
  const { ntfy, logLines } = channel(t, fake, { replyTopic: REPLY_TOPIC, token: TOKEN });

  const started = Date.now();
  await ntfy.start(core.inbound);
  assert.ok(Date.now() - started < 200, 'start() does not wait for the server');
  await waitFor(() => logLines.filter((l) => l.includes('reconnecting')).length >= 3, { what: 'three failed attempts, each logged' });

  await fake.up();
  await waitFor(() => fake.subscriberCount(REPLY_TOPIC) === 1, { what: 'the stream after the server came back' });
  fake.publishAsUser(REPLY_TOPIC, 'status');
  await waitFor(() => core.commands.length === 1, { what: 'the command' });
  const warnings = logLines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
  assert.ok(
    warnings.every((l) => l.msg.includes('reconnecting')),
    'failures are logged once per attempt',
  );
  assert.ok(!logLines.join('').includes(TOKEN), 'the token never reaches the log');
});

test('ntfy: a refused token on the reply topic is logged as an error, never shown, and retried', async (t) => {
  const fake = await fakeNtfy(t, { token: TOKEN });
  const wrong = 'tk_wrongwrongwrongwrongwrong1';
  const core = recordingInbound();
  const { ntfy, logLines } = channel(t, fake, { replyTopic: REPLY_TOPIC, token: wrong });
  await ntfy.start(core.inbound);
  await waitFor(() => logLines.filter((l) => l.includes('"level":50')).length >= 2, { what: 'two refused attempts' });
  assert.match(
    logLines.find((l) => l.includes('"level":50'))!,
    /HTTP 403 \(forbidden\)/,
  );
  assert.equal(core.state.cursor, undefined, 'nothing was read, so no cursor was invented');
  assert.ok(!logLines.join('').includes(wrong), 'the token never reaches the log');
});

test('ntfy: lines split across chunks are reassembled; a stream gone silent is replaced', async (t) => {
  // Keepalives far apart and a short idle timeout: each stream goes silent after its first events.
  const fake = await fakeNtfy(t, { splitLinesMs: 15, keepaliveMs: 60_000 });
  const { core } = await listening(t, fake, recordingInbound(), { token: undefined, idleTimeoutMs: 300 });

  fake.publishAsUser(REPLY_TOPIC, 'mute worker 2h');
  await waitFor(() => core.commands.length === 1, { what: 'the command sent in two halves' });
  assert.deepEqual(
    core.commands.map((c) => c.text),
    ['/mute worker 2h'],
  );

  await waitFor(() => fake.subscribeRequests(REPLY_TOPIC).length >= 3, { what: 'idle streams to be replaced' });
  const last = fake.publishAsUser(REPLY_TOPIC, 'status');
  await waitFor(() => core.state.cursor === last, { what: 'the command after the reconnects' });
  assert.deepEqual(
    core.commands.map((c) => c.text),
    ['/mute worker 2h', '/status'],
    'nothing handled twice across reconnects',
  );
});

test('ntfy: stop() returns promptly and closes the stream', async (t) => {
  const fake = await fakeNtfy(t);
  const { ntfy } = await listening(t, fake, recordingInbound(), { token: undefined });
  const started = Date.now();
  await ntfy.stop();
  assert.ok(Date.now() - started < 500, `stop() took ${Date.now() - started} ms`);
  await waitFor(() => fake.subscriberCount() === 0, { what: 'the server to see the stream close' });
  const subscribes = fake.subscribeRequests().length;
  await new Promise((resolve) => setTimeout(resolve, 100)); // a window in which a reconnect would show; no event marks "nothing happened"
  assert.equal(fake.subscribeRequests().length, subscribes, 'no reconnect after stop()');
});

test('ntfy: reply parsing: answers need a code; command words with or without a slash; anything else is unknown', () => {
  const names = COMMANDS.map((c) => c.name);
  assert.deepEqual(parseNtfyReply('yes 4f7q', names), { kind: 'answer', answer: 'yes', code: '4F7Q' });
  assert.deepEqual(parseNtfyReply('  N   4F7Q ', names), { kind: 'answer', answer: 'no', code: '4F7Q' });
  assert.deepEqual(parseNtfyReply('approve 4F7Q', names), { kind: 'answer', answer: 'yes', code: '4F7Q' });
  assert.deepEqual(parseNtfyReply('reject 4F7Q', names), { kind: 'answer', answer: 'no', code: '4F7Q' });
  assert.deepEqual(parseNtfyReply('yes', names), { kind: 'missing-code', answer: 'yes' });
  assert.deepEqual(parseNtfyReply('/Status', names), { kind: 'command', text: '/status' });
  assert.deepEqual(parseNtfyReply('mute worker 2h', names), { kind: 'command', text: '/mute worker 2h' });
  assert.deepEqual(parseNtfyReply('yes please do it now', names), { kind: 'unknown' });
  assert.deepEqual(parseNtfyReply('reboot everything', names), { kind: 'unknown' });
  assert.deepEqual(parseNtfyReply('', names), { kind: 'unknown' });
});

test('ntfy: a long body is cut to fit one ntfy message (4 KiB), on a character boundary', async (t) => {
  const fake = await fakeNtfy(t);
  const { ntfy } = channel(t, fake);
  await ntfy.send({ severity: 'info', title: 'morning briefing', body: 'é'.repeat(5_000) });
  const [message] = fake.messages(TOPIC) as [NtfyMessage];
  assert.ok(Buffer.byteLength(message.message) <= 3_900, `${Buffer.byteLength(message.message)} bytes`);
  assert.match(message.message, /^é+…$/);
  assert.equal(truncateUtf8('short', 3_900), 'short');
});

test('fake ntfy: header publishing, poll=1 and since=<unix time> behave as ntfy documents', async (t) => {
  const fake = await fakeNtfy(t);
  const response = await fetch(`${fake.url}/${TOPIC}`, {
    method: 'PUT',
    headers: {
      Title: 'Backup done',
      Priority: 'high',
      Tags: 'floppy_disk, white_check_mark',
      Click: 'https://example.com/b',
      Actions: 'http, Retry, https://example.com/retry, method=PUT, clear=true; view, Open, https://example.com/o',
    },
    body: 'backup of /srv finished',
  });
  const published = (await response.json()) as NtfyMessage;
  assert.equal(published.event, 'message');
  assert.deepEqual(fake.messages(TOPIC), [published]);
  assert.equal(published.title, 'Backup done');
  assert.equal(published.priority, 4);
  assert.deepEqual(published.tags, ['floppy_disk', 'white_check_mark']);
  assert.equal(published.click, 'https://example.com/b');
  assert.deepEqual(published.actions, [
    { action: 'http', label: 'Retry', url: 'https://example.com/retry', method: 'PUT', clear: true },
    { action: 'view', label: 'Open', url: 'https://example.com/o', clear: false },
  ]);

  const poll = async (query: string) => (await (await fetch(`${fake.url}/${TOPIC}/json?poll=1&${query}`)).text()).trim().split('\n').filter(Boolean);
  assert.equal((await poll('since=all')).length, 1);
  assert.equal((await poll(`since=${published.time}`)).length, 1);
  assert.equal((await poll(`since=${published.time + 1}`)).length, 0);
  assert.equal((await poll(`since=${published.id}`)).length, 0);
  const invalid = await fetch(`${fake.url}/${TOPIC}`, { method: 'POST', headers: { Priority: '9' }, body: 'x' });
  assert.equal(invalid.status, 400);
  assert.equal(((await invalid.json()) as { code: number }).code, 40007);
});

test('ntfy: replyTopic equal to topic is refused (replies would loop)', () => {
  assert.throws(() => new NtfyChannel({ url: 'http://127.0.0.1:1', topic: 'x', replyTopic: 'x', commands: [], log: pino({ level: 'silent' }) }), /must differ/);
});
