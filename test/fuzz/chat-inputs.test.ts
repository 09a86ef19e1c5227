import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Message } from 'grammy/types';
import { commandText } from '../../adapters/discord.js';
import { parseNtfyReply } from '../../adapters/ntfy.js';
import { commands } from '../../commands/index.js';
import { describeCommands } from '../../src/bot/dispatch.js';
import { FakeDiscord } from '../fakes/discord/server.js';
import { FakeNtfyServer } from '../fakes/ntfy/server.js';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { startInProcess } from '../helpers/bot.js';
import { DISCORD, TELEGRAM_TOKEN, platformEnv } from '../helpers/platforms.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import {
  BATCH_RUNS,
  EXPLAINS_REFUSAL,
  RefusalLedger,
  SENDER,
  assertHealthy,
  assertUnchanged,
  batchOf,
  hasLiveMaskedLink,
  hasLiveMention,
  watchCrashes,
} from './chat-harness.js';
import { COMMAND_NAMES, MENTIONS, buttonPayload, chatText } from './generators.js';
import { snapshotState } from './state.js';
import { commandOfButtonData } from '../../src/chat/channel.js';

const GROUP = -1001234567890;
const OPERATOR = 4242;
const STRANGER = 6666;
const BOT_NAME = 'nightshift_test_bot';
const TELEGRAM_TEXT_LIMIT = 4096;
/** What a press of a forged, stale or someone else's button is answered with. */
const EXPLAINS_BUTTON = new RegExp(
  `${EXPLAINS_REFUSAL.source}|not one of mine|No such question|^Recorded: (yes|no)|Already answered|expired|Try \\/help|^Usage: \\/`,
  'i',
);

type TelegramInput =
  | { kind: 'text'; text: string; privateChat: boolean; replyTo: 'none' | 'question' | 'bot-reply' | 'own-message' }
  | { kind: 'button'; data: string; on: 'question' | 'bot-reply' }
  /** The platform serving an update again (a lost confirmation): handled once all the same. */
  | { kind: 'redeliver'; of: number };

const telegramInput: fc.Arbitrary<TelegramInput> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('text' as const),
      text: chatText(TELEGRAM_TEXT_LIMIT + 200, { botName: BOT_NAME }),
      privateChat: fc.boolean(),
      replyTo: fc.constantFrom('none' as const, 'none' as const, 'question' as const, 'bot-reply' as const, 'own-message' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('button' as const), data: buttonPayload(), on: fc.constantFrom('question' as const, 'bot-reply' as const) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('redeliver' as const), of: fc.nat() }) },
);

test('Telegram: 10,000 generated messages and button presses from strangers and the operator', { timeout: 180_000 }, async (t) => {
  const crashes = watchCrashes(t);
  const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN, chats: [GROUP], botUsername: BOT_NAME });
  t.after(() => telegram.close());
  const dataDir = tempDir(t);
  const env = platformEnv({ dataDir, telegram: { apiRoot: telegram.apiRoot, chatId: GROUP } });
  const yaml = `chat:\n  groupWait: 0s\n  telegram:\n    operators: [${OPERATOR}]\nchecks: []\n`;
  const bot = await startInProcess(t, { yaml, env });
  await waitFor(() => telegram.calls('getUpdates').length > 0, { what: 'the first getUpdates' });

  let sentinels = 0;
  /** Sends the operator's /status and waits for its answer: updates are handled in order, so everything before it was handled. */
  const settle = async (): Promise<Message> => {
    const text = `/status sentinel-${++sentinels}`;
    telegram.pushMessage({ chatId: GROUP, fromId: OPERATOR, text });
    return waitFor(() => telegram.sent().find((m) => m.reply_to_message?.text === text), { timeoutMs: 60_000, what: `the answer to ${text}` });
  };
  const ledger = new RefusalLedger({ repeatsAnswered: false });
  const skippedUpdates = () => bot.lines().filter((l) => l['msg'] === 'telegram: update seen before, skipped').length;

  let botReply = await settle();
  let round = 0;
  await fc.assert(
    fc.asyncProperty(SENDER, batchOf(telegramInput), async (sender, inputs) => {
      const title = `Fuzz question ${++round}?`;
      bot.app.ask({ kind: 'test', subject: 'fuzz', title });
      const asked = await waitFor(() => telegram.sent().find((m) => m.text?.includes(title)), { what: 'the question on Telegram' });
      const before = snapshotState(bot.db);
      const mark = telegram.sent().length;
      const fromId = sender === 'stranger' ? STRANGER : OPERATOR;
      // In the order the bot handles them: the refusal ledger depends on it.
      const handled: Array<{ kind: 'text'; text: string; chatId: number; messageId: number } | { kind: 'button'; data: string; updateId: number }> = [];
      const updateIds: number[] = [];
      // Served again once the batch was handled: a redelivery served first would change the order the checks below rely on.
      const redeliver: number[] = [];
      for (const input of inputs) {
        if (input.kind === 'redeliver') {
          const updateId = updateIds[input.of % Math.max(1, updateIds.length)];
          if (updateId !== undefined) redeliver.push(updateId);
          continue;
        }
        if (input.kind === 'button') {
          const messageId = input.on === 'question' ? asked.message_id : botReply.message_id;
          const updateId = telegram.pushCallback({ chatId: GROUP, fromId, data: input.data, messageId });
          updateIds.push(updateId);
          handled.push({ kind: 'button', data: input.data, updateId });
          continue;
        }
        const chatId = input.privateChat ? fromId : GROUP;
        const ownMessage = handled.findLast((m) => m.kind === 'text' && m.chatId === GROUP);
        const replyTo =
          chatId !== GROUP || input.replyTo === 'none'
            ? undefined
            : input.replyTo === 'question'
              ? asked.message_id
              : input.replyTo === 'bot-reply'
                ? botReply.message_id
                : ownMessage?.kind === 'text'
                  ? ownMessage.messageId
                  : undefined;
        const updateId = telegram.pushMessage({ chatId, fromId, text: input.text, ...(replyTo !== undefined ? { replyTo } : {}) });
        updateIds.push(updateId);
        handled.push({ kind: 'text', text: input.text, chatId, messageId: telegram.update(updateId)!.message!.message_id });
      }
      botReply = await settle();
      assertHealthy(crashes, bot.lines);
      const replies = telegram.sent().slice(mark);
      // Replies are plain text: nothing anyone typed comes back as live markup.
      for (const reply of replies.filter((m) => m.reply_to_message)) assert.equal(reply.entities, undefined, `a reply with entities: ${reply.text}`);
      const buttonAnswers = new Map(telegram.callbackAnswers().map((a) => [a.updateId, a.text]));
      for (const input of handled) {
        if (input.kind === 'text') {
          const answers = replies.filter((m) => m.chat.id === input.chatId && m.reply_to_message?.message_id === input.messageId).map((m) => m.text ?? '');
          // A stranger in a private chat has no role; in the group everyone is a viewer (openViewers).
          ledger.check(String(fromId), input.text, input.chatId !== STRANGER, answers);
          continue;
        }
        assert.ok(buttonAnswers.has(input.updateId), `the press of ${JSON.stringify(input.data)} was not answered (the spinner keeps turning)`);
        const answer = buttonAnswers.get(input.updateId);
        const command = commandOfButtonData(input.data);
        // An alert button runs its command as if the presser had typed it.
        if (command !== undefined) ledger.check(String(fromId), command, true, answer ? [answer] : []);
        else if (answer !== undefined) {
          assert.match(answer, EXPLAINS_BUTTON, `the answer to the button ${JSON.stringify(input.data)}: ${answer}`);
          ledger.observe(String(fromId), [answer]);
        }
      }
      if (sender === 'stranger') assertUnchanged(bot.db, before, 'a stranger');
      // Every redelivered update is recognised and skipped: nothing is answered twice.
      const skippedBefore = skippedUpdates();
      const answered = { messages: telegram.sent().length, buttons: telegram.callbackAnswers().length };
      for (const updateId of redeliver) telegram.redeliver(updateId);
      botReply = await settle();
      await waitFor(() => skippedUpdates() === skippedBefore + redeliver.length, { what: `${redeliver.length} redelivered updates skipped` });
      assert.deepEqual({ messages: telegram.sent().length - 1, buttons: telegram.callbackAnswers().length }, answered, 'only the sentinel was answered');
    }),
    BATCH_RUNS,
  );
});

const DISCORD_OPERATORS = '1015000000000000010';
const DISCORD_OPERATOR = '1015000000000000100';
const DISCORD_STRANGER = '1015000000000000666';
/** Discord's limit for a STRING option's value. */
const DISCORD_OPTION_LIMIT = 6000;

type DiscordInput = { kind: 'slash'; name: string; options: Array<[number, string]> } | { kind: 'button'; customId: string } | { kind: 'replay'; of: number };

const discordInput: fc.Arbitrary<DiscordInput> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('slash' as const),
      name: fc.constantFrom(...COMMAND_NAMES),
      // Option positions are mapped onto the command's own options; values are anything a user can paste.
      options: fc.array(fc.tuple(fc.nat(3), fc.oneof(chatText(DISCORD_OPTION_LIMIT + 100), fc.constantFrom(...MENTIONS))), { maxLength: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('button' as const), customId: buttonPayload() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), of: fc.nat() }) },
);

/** Every text the bot sent for one interaction: its response and the webhook edits and follow-ups. */
function discordAnswers(discord: FakeDiscord, interactionId: string): Array<{ content: string; body: Record<string, unknown> }> {
  const bodies = [...discord.callbacks(interactionId).map((c) => c.data), ...discord.webhookCalls(interactionId).map((c) => c.body)];
  return bodies.filter((b): b is Record<string, unknown> => typeof b?.['content'] === 'string').map((body) => ({ content: String(body['content']), body }));
}

test('Discord: 10,000 generated slash commands, forged and replayed button presses from strangers and operators', { timeout: 180_000 }, async (t) => {
  const crashes = watchCrashes(t);
  const discord = await FakeDiscord.start({ ...DISCORD, roles: [{ id: DISCORD_OPERATORS, name: 'operators' }] });
  const dataDir = tempDir(t);
  const env = platformEnv({ dataDir, discord: { apiUrl: discord.apiUrl } });
  // No open viewers: a stranger in the guild has no role at all.
  const yaml = `chat:\n  groupWait: 0s\n  discord:\n    operators: { roles: ["${DISCORD_OPERATORS}"] }\n    openViewers: false\nchecks: []\n`;
  const bot = await startInProcess(t, { yaml, env });
  // discord.js cannot be stopped while it reconnects to a dead gateway: the fake closes after the bot (t.after hooks run in the order added).
  t.after(() => discord.close());
  await waitFor(() => discord.registeredCommands().length > 0, { what: 'slash commands registered' });
  const optionsOf = new Map(discord.registeredCommands().map((c) => [c.name, (c.options ?? []).map((o) => o.name)]));
  const summaries = new Map(describeCommands(commands).map((c) => [c.name, c]));
  const ledger = new RefusalLedger({ repeatsAnswered: true });

  let round = 0;
  await fc.assert(
    fc.asyncProperty(SENDER, batchOf(discordInput), async (sender, inputs) => {
      const title = `Fuzz question ${++round}?`;
      bot.app.ask({ kind: 'test', subject: 'fuzz', title });
      const question = await waitFor(() => discord.messages().find((m) => JSON.stringify(m.embeds).includes(title)), { what: 'the question on Discord' });
      const before = snapshotState(bot.db);
      const userId = sender === 'stranger' ? DISCORD_STRANGER : DISCORD_OPERATOR;
      const roleIds = sender === 'stranger' ? [] : [DISCORD_OPERATORS];
      const sent: Array<{ id: string; command: string | undefined }> = [];
      const replayed: string[] = [];
      for (const input of inputs) {
        if (input.kind === 'replay') {
          const original = sent[input.of % Math.max(1, sent.length)];
          if (original) {
            discord.redeliver(original.id);
            replayed.push(original.id);
          }
          continue;
        }
        if (input.kind === 'button') {
          sent.push({
            id: discord.forgeButtonPress({ customId: input.customId, message: question, userId, roleIds }),
            command: commandOfButtonData(input.customId),
          });
          continue;
        }
        const names = optionsOf.get(input.name) ?? [];
        const options = Object.fromEntries(names.length === 0 ? [] : input.options.map(([i, value]) => [names[i % names.length]!, value]));
        const id = discord.sendSlashCommand({ name: input.name, options, userId, roleIds });
        const summary = summaries.get(input.name);
        sent.push({
          id,
          command: commandText(
            input.name,
            summary,
            Object.entries(options).map(([name, value]) => ({ name, value })),
          ),
        });
      }
      await waitFor(() => sent.every((s) => discord.callbacks(s.id).length > 0), { timeoutMs: 60_000, what: 'a response to every interaction' });
      assertHealthy(crashes, bot.lines);
      for (const { id, command } of sent) {
        const callbacks = discord.callbacks(id);
        // Answered once and in time (Discord shows "This interaction failed" otherwise); a replay is not answered again.
        assert.ok(callbacks.length === 1 && callbacks[0]!.status < 300, `interaction ${id} (${command}) was answered ${JSON.stringify(callbacks)}`);
        const answers = discordAnswers(discord, id);
        // Nobody is pinged by what a person typed or a reply quotes.
        for (const { content, body } of answers) {
          if (hasLiveMention(content)) assert.deepEqual(body['allowed_mentions'], { parse: [] }, `a reply that can ping: ${content}`);
          assert.ok(!hasLiveMaskedLink(content), `a reply with a live masked link: ${content}`);
        }
        if (command !== undefined)
          ledger.check(
            userId,
            command,
            sender === 'operator',
            answers.map((a) => a.content),
          );
      }
      if (sender === 'stranger') assertUnchanged(bot.db, before, 'a stranger');
    }),
    BATCH_RUNS,
  );
});

/** ntfy's limit for a message body (bytes); longer ones become attachments on a real server. */
const NTFY_MESSAGE_LIMIT = 4096;

test('ntfy: 10,000 generated replies on the reply topic, with the viewer role it is configured with', { timeout: 180_000 }, async (t) => {
  const crashes = watchCrashes(t);
  const ntfy = await FakeNtfyServer.start();
  t.after(() => ntfy.close());
  const dataDir = tempDir(t);
  const env = platformEnv({ dataDir, ntfy: { url: ntfy.url, topic: 'ns-alerts', replyTopic: 'ns-replies' } });
  const bot = await startInProcess(t, { yaml: `chat:\n  groupWait: 0s\n  ntfy:\n    role: viewer\nchecks: []\n`, env });
  await waitFor(() => ntfy.subscriberCount('ns-replies') > 0, { what: 'the ntfy reply subscription' });
  const replies = () => ntfy.messages('ns-alerts').filter((m) => m.title === 'Nightshift');

  let round = 0;
  await fc.assert(
    fc.asyncProperty(batchOf(chatText(NTFY_MESSAGE_LIMIT + 200)), async (texts) => {
      const title = `Fuzz question ${++round}?`;
      const question = bot.app.ask({ kind: 'test', subject: 'fuzz', title });
      await waitFor(() => ntfy.messages('ns-alerts').some((m) => m.title === title), { what: 'the question push' });
      const before = snapshotState(bot.db);
      const mark = replies().length;
      // The real code now and then, replayed: without it nothing answers, and it is spent after one use.
      for (const text of texts) ntfy.publishAsUser('ns-replies', text === 'yes K7QW4F2M' ? `yes ${question.code}` : text);
      // Replies are handled in order: the sentinel's answer (it names its argument) comes last.
      const sentinel = `sentinel-${round}`;
      ntfy.publishAsUser('ns-replies', `diagnosis ${sentinel}`);
      await waitFor(() => replies().at(-1)?.message.includes(`"${sentinel}"`), {
        timeoutMs: 60_000,
        what: `the answer to ${sentinel}`,
      });
      assertHealthy(crashes, bot.lines);
      const answered = replies()
        .slice(mark, -1)
        .map((m) => m.message);
      for (const message of answered) assert.ok(Buffer.byteLength(message) <= NTFY_MESSAGE_LIMIT, `a reply of ${Buffer.byteLength(message)} bytes`);
      // Every reply that is no command nor answer is told what a reply may be: one hint per such reply, none dropped.
      const hinted = texts.filter((text) => parseNtfyReply(text, COMMAND_NAMES).kind === 'unknown').length;
      assert.equal(answered.filter((m) => m.startsWith('Reply "yes CODE" or "no CODE"')).length, hinted, 'a usage hint per unreadable reply');
      const missingCode = texts.filter((text) => parseNtfyReply(text, COMMAND_NAMES).kind === 'missing-code').length;
      assert.equal(answered.filter((m) => m.startsWith('Add the code from the question')).length, missingCode, 'a hint per answer without its code');
      // The topic holds the viewer role: only the question's own code may change anything.
      if (!texts.includes('yes K7QW4F2M')) assertUnchanged(bot.db, before, 'a viewer on the reply topic');
    }),
    BATCH_RUNS,
  );
});

test('console: 10,000 generated lines typed by the admin at the terminal', { timeout: 180_000 }, async (t) => {
  const crashes = watchCrashes(t);
  const bot = await startInProcess(t, { yaml: 'chat:\n  groupWait: 0s\nchecks: []\n', env: { NIGHTSHIFT_DATA_DIR: tempDir(t) } });
  let sentinels = 0;
  await fc.assert(
    fc.asyncProperty(batchOf(chatText(10_000)), async (texts) => {
      const mark = bot.output().length;
      for (const text of texts) bot.stdin.write(`${text}\n`);
      // Lines are answered in the order typed: the sentinel's answer (it names its argument) comes last.
      const sentinel = `sentinel-${++sentinels}`;
      await bot.run(`/diagnosis ${sentinel}`, new RegExp(`"${sentinel}" is not a diagnosis number`), 60_000);
      assertHealthy(crashes, bot.lines);
      // The console's own guard prints "error: ..." only when the core threw instead of answering.
      assert.doesNotMatch(bot.output().slice(mark), /^error: /m);
    }),
    BATCH_RUNS,
  );
});
