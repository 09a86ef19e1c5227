import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DiscordChannel, commandText, parseButtonId, renderMessage, slashCommandDefinitions } from '../../adapters/discord.js';
import { DeliveryError, type AnswerTarget, type CommandSummary, type Identity, type Inbound, type OutgoingMessage } from '../../src/chat/channel.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { FakeDiscord } from '../fakes/discord/server.js';
import { DISCORD } from '../helpers/platforms.js';
import { waitFor } from '../helpers/temp.js';
import type { Reply } from '../../src/chat/channel.js';

// Shaped like a real bot token, so both the literal and the pattern redaction would catch a leak.
const TOKEN = DISCORD.token;
const APPLICATION = '1015000000000000001';
const GUILD = '1015000000000000002';
const CHANNEL = '1015000000000000003';
const OPERATORS = '1015000000000000010';
const NEW_ROLE = '1015000000000000011';
const ALICE = '1015000000000000100';
const MESSAGES_ROUTE = `POST /channels/${CHANNEL}/messages`;
const EPHEMERAL = 64;

const COMMANDS: CommandSummary[] = [
  { name: 'status', description: 'One line: is everything fine?', usage: '/status', args: [] },
  {
    name: 'mute',
    description: 'Silence a check for a while',
    usage: '/mute <check> <duration> [note]',
    args: [
      { name: 'check', description: 'Check name', required: true },
      { name: 'duration', description: 'How long, e.g. 2h', required: true },
      { name: 'note', description: 'Why', required: false },
    ],
  },
  { name: 'disable-surgery', description: 'Stop all self-repair now. '.repeat(6), usage: '/disable-surgery', args: [] },
];

type CommandHandler = (text: string, from: Identity) => Promise<Reply> | Reply;
type AnswerHandler = (target: AnswerTarget, answer: 'yes' | 'no', from: Identity) => Promise<Reply> | Reply;

/** A stand-in for the core: records calls, answers through the given handlers, de-duplicates like the store. */
function recordingInbound(handlers: { command?: CommandHandler; answer?: AnswerHandler } = {}) {
  const commands: Array<{ text: string; from: Identity }> = [];
  const answers: Array<{ target: AnswerTarget; answer: 'yes' | 'no'; from: Identity }> = [];
  const seen = new Set<string>();
  const inbound: Inbound = {
    async command(text, from) {
      commands.push({ text, from });
      return (await handlers.command?.(text, from)) ?? { text: `ok: ${text}` };
    },
    async answer(target, answer, from) {
      answers.push({ target, answer, from });
      return (await handlers.answer?.(target, answer, from)) ?? { text: `Answered ${answer}.` };
    },
    firstSeen(updateId) {
      if (seen.has(updateId)) return false;
      seen.add(updateId);
      return true;
    },
    cursor: () => undefined,
    saveCursor: () => {
      throw new Error('the Discord adapter keeps no cursor');
    },
  };
  return { inbound, commands, answers };
}

interface Harness {
  fake: FakeDiscord;
  channel: DiscordChannel;
  recorded: ReturnType<typeof recordingInbound>;
  logLines: () => Array<Record<string, unknown>>;
}

async function connect(
  t: TestContext,
  options: {
    handlers?: Parameters<typeof recordingInbound>[0];
    fakeDownAtStart?: boolean;
    token?: string;
    /** Runs before start(), e.g. to inject failures; the test then waits for registration itself. */
    beforeStart?: (fake: FakeDiscord) => void;
    /** Error lines the test expects (and checks itself). */
    allowErrors?: boolean;
  } = {},
): Promise<Harness> {
  const fake = await FakeDiscord.start({
    token: TOKEN,
    applicationId: APPLICATION,
    guildId: GUILD,
    channelId: CHANNEL,
    roles: [{ id: OPERATORS, name: 'operators' }],
    heartbeatIntervalMs: 2000,
  });
  if (options.fakeDownAtStart) await fake.down();
  options.beforeStart?.(fake);
  const { logger, lines } = createCapturedLogger(new Redactor([TOKEN]));
  const channel = new DiscordChannel({
    token: options.token ?? TOKEN,
    applicationId: APPLICATION,
    guildId: GUILD,
    channelId: CHANNEL,
    apiUrl: fake.apiUrl,
    commands: COMMANDS,
    log: logger,
    retryDelayMs: { initial: 50, max: 400 },
  });
  t.after(async () => {
    await channel.stop();
    await fake.close();
    // An error line means an interaction or registration failed somewhere the assertions did not look.
    if (!options.token && !options.allowErrors)
      assert.deepEqual(
        lines().filter((l) => Number(l.level) >= 50),
        [],
        'no error was logged',
      );
  });
  const recorded = recordingInbound(options.handlers);
  await channel.start(recorded.inbound);
  if (!options.fakeDownAtStart && !options.token && !options.beforeStart)
    await waitFor(() => fake.registeredCommands().length === COMMANDS.length, { timeoutMs: 5000, what: 'slash commands registered' });
  return { fake, channel, recorded, logLines: lines };
}

const question = (questionId: string): OutgoingMessage => ({
  severity: 'warning',
  title: 'Fix proposed for worker crash loop',
  body: 'Root cause: the queue directory is missing.',
  question: { questionId, code: '4F7Q', yesLabel: 'Approve', noLabel: 'Reject' },
});

function buttonsOf(message: { components?: unknown[] }): Array<{ custom_id?: string; style?: number; label?: string }> {
  return (message.components ?? []).flatMap((row) => (row as { components: Array<{ custom_id?: string; style?: number; label?: string }> }).components);
}

test('logs in with the Guilds intent only and registers the slash commands from the command list', async (t) => {
  const { fake, logLines } = await connect(t);
  const registered = fake.registeredCommands();
  assert.deepEqual(registered.map((c) => c.name).sort(), ['disable-surgery', 'mute', 'status']);
  const mute = registered.find((c) => c.name === 'mute')!;
  assert.deepEqual(
    mute.options?.map((o) => [o.name, o.type, 'required' in o ? o.required : undefined]),
    [
      ['check', 3, true],
      ['duration', 3, true],
      ['note', 3, false],
    ],
  );
  assert.ok(registered.find((c) => c.name === 'disable-surgery')!.description.length <= 100);
  const stats = fake.gatewayStats();
  assert.equal(stats.identifies, 1);
  assert.deepEqual(stats.intents, [1], 'GUILDS only: no privileged intents');
  assert.ok(
    fake.requests().every((r) => r.status !== 401),
    'every bot request carried the token',
  );
  assert.ok(!JSON.stringify(logLines()).includes(TOKEN), 'the token never reaches the log');
});

test('/status: the reply text comes back as the interaction response, with who asked', async (t) => {
  const { fake, recorded } = await connect(t, { handlers: { command: () => ({ text: 'SUMMARY: OK  core=active  stale=0  failing=0  heals_24h=3' }) } });
  const id = fake.sendSlashCommand({ name: 'status', userId: ALICE, username: 'alice', roleIds: [OPERATORS] });
  const callback = await waitFor(() => fake.callbacks(id)[0], { what: 'the /status reply' });
  assert.equal(callback.type, 4);
  assert.equal(callback.status, 204);
  assert.equal(callback.data?.content, 'SUMMARY: OK  core=active  stale=0  failing=0  heals_24h=3');
  assert.ok(!(Number(callback.data?.flags ?? 0) & EPHEMERAL), 'an answer is public');
  assert.ok(callback.elapsedMs < 3000);
  assert.deepEqual(recorded.commands, [
    { text: '/status', from: { channel: 'discord', userId: ALICE, displayName: 'alice', chatId: GUILD, groups: [OPERATORS] } },
  ]);
});

test('options are passed in the command’s argument order; refusals and usage errors are private', async (t) => {
  const { fake, recorded } = await connect(t, {
    handlers: {
      command: (text) =>
        text.startsWith('/mute') ? { kind: 'refused', text: 'Sorry, /mute needs the operator role.' } : { kind: 'usage', text: 'Usage: /status' },
    },
  });
  // A role created after login reaches discord.js's cache through GUILD_ROLE_CREATE before the interaction.
  const mute = fake.sendSlashCommand({
    name: 'mute',
    options: { note: 'too noisy tonight', duration: '2h', check: 'worker' },
    userId: ALICE,
    roleIds: [NEW_ROLE],
  });
  const status = fake.sendSlashCommand({ name: 'status', userId: ALICE });
  await waitFor(() => fake.callbacks(mute).length > 0 && fake.callbacks(status).length > 0, { what: 'both replies' });
  assert.equal(recorded.commands[0]!.text, '/mute worker 2h too noisy tonight');
  assert.deepEqual(recorded.commands[0]!.from.groups, [NEW_ROLE]);
  assert.deepEqual(recorded.commands[1]!.from.groups, [], 'no roles besides @everyone');
  for (const id of [mute, status]) {
    const [callback] = fake.callbacks(id);
    assert.equal(callback!.type, 4);
    assert.equal(Number(callback!.data?.flags) & EPHEMERAL, EPHEMERAL);
  }
  assert.equal(fake.callbacks(mute)[0]!.data?.content, 'Sorry, /mute needs the operator role.');
});

test('a handler slower than 2 s is deferred within Discord’s 3 s, then the reply is edited in', async (t) => {
  const late = (ms: number, reply: Reply) => new Promise<Reply>((resolve) => setTimeout(() => resolve(reply), ms));
  const { fake } = await connect(t, {
    handlers: {
      command: (text) => (text.startsWith('/status') ? late(2500, { text: 'SUMMARY: OK (slow)' }) : late(2500, { kind: 'refused', text: 'Not you.' })),
    },
  });
  const slow = fake.sendSlashCommand({ name: 'status', userId: ALICE });
  const slowRefusal = fake.sendSlashCommand({ name: 'disable-surgery', userId: ALICE });
  await waitFor(() => fake.original(slow)?.content === 'SUMMARY: OK (slow)', { timeoutMs: 6000, what: 'the edited reply' });
  const [deferred] = fake.callbacks(slow);
  assert.equal(deferred!.type, 5);
  assert.equal(deferred!.status, 204);
  assert.ok(deferred!.elapsedMs >= 1900 && deferred!.elapsedMs < 3000, `deferred after ${deferred!.elapsedMs} ms`);
  assert.deepEqual(
    fake.webhookCalls(slow).map((c) => [c.method, c.target]),
    [['PATCH', '@original']],
  );
  // A late refusal must still be private: the public placeholder goes, an ephemeral follow-up says why.
  await waitFor(() => fake.followUps(slowRefusal).length === 1, { timeoutMs: 6000, what: 'the private follow-up' });
  assert.equal(fake.original(slowRefusal), undefined, 'the public "thinking…" placeholder was deleted');
  const [followUp] = fake.followUps(slowRefusal);
  assert.equal(followUp!.ephemeral, true);
  assert.equal(followUp!.message.content, 'Not you.');
});

test('send(): a question is one embed coloured by severity, with its code and Approve/Reject buttons', async (t) => {
  const { fake, channel } = await connect(t);
  const delivery = await channel.send(question('q7'));
  const [posted] = fake.messages();
  assert.equal(delivery.platformId, posted!.id);
  const [embed] = posted!.embeds;
  assert.equal(embed!.title, 'Fix proposed for worker crash loop');
  assert.equal(embed!.color, 0xf0a020);
  assert.equal(embed!.description, 'Root cause: the queue directory is missing.\n\nApprove or reject below · code 4F7Q');
  assert.deepEqual(
    buttonsOf(posted!).map((b) => [b.label, b.style, b.custom_id]),
    [
      ['Approve', 3, 'q:q7:yes'],
      ['Reject', 4, 'q:q7:no'],
    ],
  );
  await channel.send({ severity: 'critical', title: 'worker down', body: 'exit 137' });
  await channel.send({ severity: 'info', title: 'worker recovered' });
  const [, critical, info] = fake.messages();
  assert.equal(critical!.embeds[0]!.color, 0xe03e3e);
  assert.deepEqual(critical!.components, [], 'no buttons without a question');
  assert.equal(info!.embeds[0]!.color, 0x3ba55d);
  assert.equal(info!.embeds[0]!.description, undefined);
});

test('a button press answers the question and removes the buttons in one call; a refused press changes nothing', async (t) => {
  const { fake, channel, recorded } = await connect(t, {
    handlers: {
      answer: (_target, answer, from) =>
        from.groups?.includes(OPERATORS) ? { text: `Approved by alice (${answer}).` } : { kind: 'refused', text: 'Only operators may answer.' },
    },
  });
  const { platformId } = await channel.send(question('q7'));
  const refused = fake.clickButton({ customId: 'q:q7:yes', messageId: platformId!, userId: '1015000000000000200', username: 'mallory' });
  await waitFor(() => fake.callbacks(refused).length > 0, { what: 'the refusal' });
  assert.equal(fake.callbacks(refused)[0]!.type, 4);
  assert.equal(Number(fake.callbacks(refused)[0]!.data?.flags) & EPHEMERAL, EPHEMERAL);
  assert.equal(buttonsOf(fake.messages()[0]!).length, 2, 'the buttons stay after a refusal');

  const pressed = fake.clickButton({ customId: 'q:q7:yes', messageId: platformId!, userId: ALICE, username: 'alice', roleIds: [OPERATORS] });
  await waitFor(() => fake.callbacks(pressed).length > 0, { what: 'the answer' });
  assert.deepEqual(
    fake.callbacks(pressed).map((c) => c.type),
    [7],
  );
  assert.deepEqual(recorded.answers.at(-1), {
    target: { questionId: 'q7' },
    answer: 'yes',
    from: { channel: 'discord', userId: ALICE, displayName: 'alice', chatId: GUILD, groups: [OPERATORS] },
  });
  const [updated] = fake.messages();
  assert.deepEqual(updated!.components, []);
  assert.equal(updated!.content, 'Approved by alice (yes).');
  assert.equal(updated!.embeds[0]!.title, 'Fix proposed for worker crash loop', 'the embed stays');
});

test("alert buttons run their command as the presser typed it: Ack acks with the presser's identity; a stranger's press is refused privately", async (t) => {
  const { fake, channel, recorded } = await connect(t, {
    handlers: {
      command: (text, from) =>
        from.groups?.includes(OPERATORS) ? { text: `Acknowledged (${text}).` } : { kind: 'refused', text: 'Only operators may do that.' },
    },
  });
  const { platformId } = await channel.send({
    severity: 'critical',
    title: 'web is down',
    actions: [
      { label: 'Ack', command: '/ack 12' },
      { label: 'Diagnose', command: '/diagnose web' },
    ],
  });
  assert.deepEqual(
    buttonsOf(fake.messages()[0]!).map((b) => [b.label, b.custom_id]),
    [
      ['Ack', 'cmd:/ack 12'],
      ['Diagnose', 'cmd:/diagnose web'],
    ],
  );

  const refused = fake.clickButton({ customId: 'cmd:/ack 12', messageId: platformId!, userId: '1015000000000000200', username: 'mallory' });
  await waitFor(() => fake.callbacks(refused).length > 0, { what: 'the refusal' });
  const refusal = fake.callbacks(refused)[0]!;
  assert.equal(refusal.type, 4);
  assert.equal(Number(refusal.data?.flags) & EPHEMERAL, EPHEMERAL, 'the refusal is shown to the presser alone');
  assert.equal(refusal.data?.content, 'Only operators may do that.');

  const pressed = fake.clickButton({ customId: 'cmd:/ack 12', messageId: platformId!, userId: ALICE, username: 'alice', roleIds: [OPERATORS] });
  await waitFor(() => fake.callbacks(pressed).length > 0, { what: 'the ack reply' });
  const answer = fake.callbacks(pressed)[0]!;
  assert.equal(answer.type, 4);
  assert.equal(answer.data?.content, 'Acknowledged (/ack 12).');
  assert.equal(Number(answer.data?.flags ?? 0) & EPHEMERAL, 0, 'the ack is public');
  assert.deepEqual(recorded.commands, [
    { text: '/ack 12', from: { channel: 'discord', userId: '1015000000000000200', displayName: 'mallory', chatId: GUILD, groups: [] } },
    { text: '/ack 12', from: { channel: 'discord', userId: ALICE, displayName: 'alice', chatId: GUILD, groups: [OPERATORS] } },
  ]);
  assert.equal(recorded.answers.length, 0, 'an alert button is a command, not an answer');
  assert.equal(buttonsOf(fake.messages()[0]!).length, 2, 'the alert keeps its buttons');
});

test('a slow answer defers the update, then removes the buttons', async (t) => {
  const { fake, channel } = await connect(t, {
    handlers: { answer: () => new Promise<Reply>((resolve) => setTimeout(() => resolve({ text: 'Rejected.' }), 2300)) },
  });
  const { platformId } = await channel.send(question('q8'));
  const pressed = fake.clickButton({ customId: 'q:q8:no', messageId: platformId!, userId: ALICE });
  await waitFor(() => fake.messages()[0]!.content === 'Rejected.', { timeoutMs: 6000, what: 'the edited question' });
  assert.deepEqual(
    fake.callbacks(pressed).map((c) => c.type),
    [6],
  );
  assert.deepEqual(fake.messages()[0]!.components, []);
});

test('an interaction delivered twice is handled once', async (t) => {
  const { fake, recorded } = await connect(t);
  const id = fake.sendSlashCommand({ name: 'status', userId: ALICE });
  await waitFor(() => fake.callbacks(id).length > 0, { what: 'the first reply' });
  fake.redeliver(id);
  // The gateway delivers in order: once a later interaction is answered, the redelivery has been processed.
  const later = fake.sendSlashCommand({ name: 'status', userId: ALICE });
  await waitFor(() => fake.callbacks(later).length > 0, { what: 'the later reply' });
  assert.equal(recorded.commands.length, 2);
  assert.equal(fake.callbacks(id).length, 1, 'no second response to the same interaction');
});

const REGISTER_ROUTE = `PUT /applications/${APPLICATION}/guilds/${GUILD}/commands`;

test('slash command registration answered 404 twice is retried in the background: one warning with the code, info once registered', async (t) => {
  const { fake, recorded, logLines } = await connect(t, {
    // Two 404s: a 5xx would be retried inside discord.js's REST client before the adapter sees it.
    beforeStart: (f) => f.failNext(REGISTER_ROUTE, 2, { status: 404 }),
  });
  await waitFor(() => logLines().find((l) => l.msg === 'discord slash commands registered'), { timeoutMs: 5000, what: 'the registration' });
  assert.equal(logLines().find((l) => l.msg === 'discord slash commands registered')?.attempt, 3);
  const warnings = logLines().filter((l) => Number(l.level) === 40);
  assert.equal(warnings.length, 1, 'one warning, not one per retry');
  assert.deepEqual([warnings[0]?.status, warnings[0]?.code, warnings[0]?.description, warnings[0]?.method], [404, 0, '404: Not Found', 'PUT']);
  assert.match(String(warnings[0]?.err), /DiscordAPIError\[0\] HTTP 404: 404: Not Found/);

  const id = fake.sendSlashCommand({ name: 'status', userId: ALICE });
  await waitFor(() => fake.callbacks(id).length > 0, { what: 'the /status reply' });
  assert.equal(recorded.commands.length, 1);
});

test('slash commands refused (403 Missing Access): one error with the code and message, no retry, and the gateway keeps working', async (t) => {
  const { fake, channel, recorded, logLines } = await connect(t, {
    allowErrors: true,
    beforeStart: (f) => f.failNext(REGISTER_ROUTE, 1, { status: 403 }),
  });
  const refusal = await waitFor(() => logLines().find((l) => String(l.msg).startsWith('discord refused the slash commands')), {
    timeoutMs: 5000,
    what: 'the refusal',
  });
  assert.deepEqual([refusal.status, refusal.code, refusal.description], [403, 50001, 'Missing Access']);
  assert.equal(fake.requests().filter((r) => `${r.method} ${r.path}` === REGISTER_ROUTE).length, 1, 'a refusal is not retried');
  assert.equal(logLines().filter((l) => Number(l.level) >= 40).length, 1);

  const { platformId } = await channel.send(question('q3'));
  const pressed = fake.clickButton({ customId: 'q:q3:yes', messageId: platformId!, userId: ALICE, roleIds: [OPERATORS] });
  await waitFor(() => fake.callbacks(pressed).length > 0, { what: 'the answer to the button' });
  assert.equal(recorded.answers.length, 1);
});

test('a dropped gateway is resumed and the interactions sent meanwhile arrive', async (t) => {
  const { fake, recorded } = await connect(t);
  fake.closeGateway(4000);
  const meanwhile = fake.sendSlashCommand({ name: 'status', userId: ALICE });
  await waitFor(() => fake.callbacks(meanwhile).length > 0, { timeoutMs: 5000, what: 'the replayed interaction' });
  const stats = fake.gatewayStats();
  assert.equal(stats.identifies, 1, 'no new session');
  assert.equal(stats.resumes, 1);
  assert.equal(stats.paths.at(-1), '/gateway-resume', 'resumed on resume_gateway_url');
  assert.equal(recorded.commands.length, 1);
});

test('send() hitting a 429 (retry_after 1.5) is retried by discord.js itself and arrives late', async (t) => {
  const { fake, channel, logLines } = await connect(t);
  fake.failNext(MESSAGES_ROUTE, 1, { status: 429, retryAfter: 1.5 });
  const started = Date.now();
  const delivery = await channel.send({ severity: 'info', title: 'after a rate limit' });
  const waited = Date.now() - started;
  // discord.js waits for the bucket to reset (X-RateLimit-Reset-After 1.5 s + its 50 ms offset), then retries once.
  t.diagnostic(`send() resolved after ${waited} ms (retry_after 1.5 s, Retry-After header 2 s)`);
  assert.ok(waited >= 1500, `waited ${waited} ms`);
  const attempts = fake.requests().filter((r) => `${r.method} ${r.path}` === MESSAGES_ROUTE);
  assert.deepEqual(
    attempts.map((r) => r.status),
    [429, 200],
  );
  assert.ok(attempts[1]!.at - attempts[0]!.at >= 1500);
  assert.equal(fake.messages().length, 1);
  assert.equal(delivery.platformId, fake.messages()[0]!.id);
  assert.ok(logLines().some((l) => l.msg === 'discord rate limit' && l.waitsInSend === true));
});

test('send() hitting a long 429 hands the wait back to the outbox instead of hanging', async (t) => {
  const { fake, channel } = await connect(t);
  fake.failNext(MESSAGES_ROUTE, 1, { status: 429, retryAfter: 30 });
  const started = Date.now();
  const error = await channel.send({ severity: 'info', title: 'rate limited' }).then(
    () => assert.fail('send() should fail'),
    (err: unknown) => err,
  );
  assert.ok(error instanceof DeliveryError);
  assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs >= 30_000, `retryAfterMs ${error.retryAfterMs}`);
  assert.equal(error.permanent, false);
  assert.ok(Date.now() - started < 2000);
  assert.equal(fake.messages().length, 0);
});

test('send(): 401 is a permanent DeliveryError; 5xx is a plain one; the next attempt is tried again', async (t) => {
  const { fake, channel } = await connect(t);
  fake.failNext(MESSAGES_ROUTE, 1, { status: 401 });
  const unauthorized = await channel.send({ severity: 'info', title: 'x' }).catch((err: unknown) => err);
  assert.ok(unauthorized instanceof DeliveryError);
  assert.equal(unauthorized.permanent, true);
  assert.match(unauthorized.message, /401/);

  fake.failNext(MESSAGES_ROUTE, 4, { status: 502 });
  const unavailable = await channel.send({ severity: 'info', title: 'y' }).catch((err: unknown) => err);
  assert.ok(unavailable instanceof DeliveryError);
  assert.equal(unavailable.permanent, false);
  assert.equal(unavailable.retryAfterMs, undefined);

  const delivered = await channel.send({ severity: 'info', title: 'z' });
  assert.equal(delivered.platformId, fake.messages()[0]!.id);
});

test('Discord down at start: start() returns at once, login is retried with backoff until it is back', async (t) => {
  const started = Date.now();
  const { fake, channel, logLines } = await connect(t, { fakeDownAtStart: true });
  assert.ok(Date.now() - started < 1000, 'start() did not wait for Discord');
  await waitFor(() => logLines().filter((l) => l.msg === 'discord login failed; retrying').length >= 2, { timeoutMs: 5000, what: 'login retries' });
  const sendWhileDown = await channel.send({ severity: 'info', title: 'x' }).catch((err: unknown) => err);
  assert.ok(sendWhileDown instanceof DeliveryError && !sendWhileDown.permanent);
  await fake.up();
  await waitFor(() => fake.registeredCommands().length === COMMANDS.length, { timeoutMs: 5000, what: 'login after the outage' });
  assert.ok(!JSON.stringify(logLines()).includes(TOKEN));
  assert.equal(fake.gatewayStats().identifies, 1);
});

test('a rejected token is logged as an error at each attempt, and never logged itself', async (t) => {
  const wrong = 'MTAxNTAwMDAwMDAwMDAwMDAwOQ.GhXx1b.d3JvbmctdG9rZW4tZm9yLXRlc3RzLW9ubHk';
  const { fake, logLines } = await connect(t, { token: wrong });
  await waitFor(() => logLines().filter((l) => l.msg === 'discord rejected the bot token (check DISCORD_TOKEN); retrying').length >= 2, {
    timeoutMs: 5000,
    what: 'two rejected attempts',
  });
  assert.deepEqual([...new Set(fake.requests().map((r) => `${r.method} ${r.path} ${r.status}`))], ['GET /gateway/bot 401']);
  assert.equal(fake.gatewayStats().connections, 0);
  assert.ok(!JSON.stringify(logLines()).includes(wrong));
});

test('pure mapping: definitions, command text, button ids, message limits', () => {
  const definitions = slashCommandDefinitions([
    {
      name: 'mute',
      description: '',
      usage: '',
      args: [
        { name: 'checkName', description: 'c', required: true },
        { name: 'note', description: 'n', required: false },
        { name: 'until', description: 'u', required: true },
      ],
    },
    { name: 'Bad Name', description: 'x', usage: '', args: [] },
  ]);
  assert.equal(definitions.length, 1, 'a name Discord would refuse is left out');
  const options = definitions[0]!.options!.map((o) => [o.name, 'required' in o ? o.required : undefined]);
  assert.deepEqual(options, [
    ['check-name', true],
    ['note', false],
    ['until', false],
  ]);
  assert.equal(definitions[0]!.description, 'mute');
  const summary = {
    name: 'mute',
    description: '',
    usage: '',
    args: [
      { name: 'checkName', description: '', required: true },
      { name: 'note', description: '', required: false },
    ],
  };
  assert.equal(
    commandText('mute', summary, [
      { name: 'note', value: ' late ' },
      { name: 'check-name', value: 'worker' },
    ]),
    '/mute worker late',
  );
  assert.equal(commandText('status', undefined, []), '/status');
  assert.deepEqual(parseButtonId('q:q:7:no'), { questionId: 'q:7', answer: 'no' });
  assert.equal(parseButtonId('something-else'), undefined);
  const long = renderMessage({
    severity: 'info',
    title: 't'.repeat(300),
    body: 'b'.repeat(5000),
    question: { questionId: 'q1', code: 'ZZ99', yesLabel: 'Yes', noLabel: 'No' },
  });
  const embed = long.embeds![0]!;
  assert.equal([...embed.title!].length, 256);
  assert.ok([...embed.description!].length <= 4096);
  assert.ok(embed.description!.endsWith('code ZZ99'), 'the code survives clipping');
});

test('text from services is inert: a markdown link in a log line shows as typed, and nobody is pinged by it', async (t) => {
  const alert = renderMessage({
    severity: 'critical',
    title: 'web is failing: see [docs](http://evil.example/login)',
    body: 'stderr: [click to fix](http://evil.example/x) @everyone',
  });
  const embed = alert.embeds![0]!;
  assert.equal(embed.title, 'web is failing: see \\[docs](http://evil.example/login)');
  assert.equal(embed.description, 'stderr: \\[click to fix](http://evil.example/x) @everyone');
  assert.deepEqual(alert.allowed_mentions, { parse: [] });
  const { fake } = await connect(t, { handlers: { command: () => ({ text: 'FAIL web: [open](http://evil.example) @everyone heals_24h=3' }) } });
  const id = fake.sendSlashCommand({ name: 'status', userId: ALICE, username: 'alice', roleIds: [OPERATORS] });
  const callback = await waitFor(() => fake.callbacks(id)[0], { what: 'the /status reply' });
  assert.equal(callback.data?.content, 'FAIL web: \\[open](http://evil.example) @everyone heals_24h=3', 'links escaped; other text untouched');
  assert.deepEqual(callback.data?.allowed_mentions, { parse: [] });
});
