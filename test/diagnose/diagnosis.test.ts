import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_ANSWER, FakeOllamaServer } from '../fakes/ollama/server.js';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { closedPort } from '../helpers/net.js';
import { TELEGRAM_TOKEN as TOKEN, platformEnv } from '../helpers/platforms.js';
import { startInProcess } from '../helpers/bot.js';

const CHAT = -1002;
const OPERATOR = 4242;
const STRANGER = 6666;
const MODEL = 'qwen2.5:7b';

/**
 * A real bot whose checks form a cascade (db ← api-1, api-2 ← queue), driven
 * through its console, with the Ollama and Telegram fakes. The failures are
 * real: the files the checks watch are removed.
 */
async function cascadeBot(t: TestContext, options: { ollama: FakeOllamaServer | 'absent' }) {
  const dir = tempDir(t);
  const telegram = await FakeTelegram.start({ token: TOKEN, chats: [CHAT] });
  t.after(() => telegram.close());
  const file = (name: string) => join(dir, `${name}.ok`);
  for (const name of ['db', 'api-1', 'api-2', 'queue']) writeFileSync(file(name), 'ok');
  const yaml = `patrol: { interval: 1s }
chat:
  groupWait: 0s
  telegram: { operators: [${OPERATOR}] }
repair:
  targets:
    - { name: stack, path: ${JSON.stringify(dir)}, checks: [db] }
checks:
  - { name: db, kind: file, path: ${JSON.stringify(file('db'))} }
  - { name: api-1, kind: file, path: ${JSON.stringify(file('api-1'))}, dependsOn: [db] }
  - { name: api-2, kind: file, path: ${JSON.stringify(file('api-2'))}, dependsOn: [db] }
  - { name: queue, kind: file, path: ${JSON.stringify(file('queue'))}, dependsOn: [api-1] }
`;
  const env = {
    ...platformEnv({ dataDir: join(dir, 'data'), telegram: { apiRoot: telegram.apiRoot, chatId: CHAT } }),
    OLLAMA_HOST: options.ollama === 'absent' ? `http://127.0.0.1:${await closedPort()}` : options.ollama.url,
    OLLAMA_MODEL: MODEL,
  };
  const bot = await startInProcess(t, { yaml, env });
  const { events } = bot;
  // The database goes first; its dependents follow on the next patrols.
  const breakStack = async () => {
    unlinkSync(file('db'));
    await waitFor(() => events.ofType('check.failed').some((e) => e.subject === 'db'), { what: 'db to fail' });
    for (const name of ['api-1', 'api-2', 'queue']) unlinkSync(file(name));
    await waitFor(() => ['api-1', 'api-2', 'queue'].every((n) => events.ofType('check.failed').some((e) => e.subject === n)), { what: 'the cascade' });
  };
  return { ...bot, telegram, breakStack };
}

test("/diagnose needs the analysis consent; then names the root, its effects, and the model's explanation with a proposed fix", async (t) => {
  const ollama = await FakeOllamaServer.start({ models: [MODEL] });
  t.after(() => ollama.close());
  const bot = await cascadeBot(t, { ollama });
  await bot.breakStack();
  assert.match(await bot.run('/diagnose', /Analysis is/), /Analysis is (unasked|asked), not granted/);
  assert.match(await bot.run('/consent analysis on', /analysis:/), /analysis: granted/);
  // A fix the model aims at a configured repair target, which passes the checks before asking.
  ollama.respondWith({ content: JSON.stringify({ ...DEFAULT_ANSWER, fix: { kind: 'command', command: 'touch db.ok', repository: 'stack' } }) });
  const text = await bot.run('/diagnose', /waits for approval/, 30_000);
  assert.match(text, /Diagnosis #\d+: root cause db/);
  assert.match(text, /api-1/);
  assert.match(text, /qwen2\.5:7b \(medium confidence\): postgres refuses connections/);
  assert.match(text, /All of it \(every piece of evidence\): \/diagnosis 1/);
  const proposal = /proposed fix (p\d+) waits for approval/.exec(text)![1]!;
  // The whole diagnosis is behind /diagnosis: the model's full answer with what to check.
  const whole = await bot.run('/diagnosis 1', /Diagnosis #1 \(/);
  assert.match(whole, /Explanation by qwen2\.5:7b:\nRoot cause \(medium confidence\): postgres refuses connections[\s\S]*Check:\n- /);
  assert.match(await bot.run('/diagnosis 99', /No diagnosis/), /No diagnosis #99\. The newest is #1\./);
  // The prompt carried the critical incidents, the JSON schema and no secrets.
  const [request] = ollama.chatRequests();
  const body = JSON.parse(request!.raw) as { format: unknown; messages: Array<{ content: string }>; options: { temperature: number } };
  assert.equal(body.options.temperature, 0);
  assert.equal(typeof body.format, 'object');
  assert.equal(JSON.stringify(body).includes(TOKEN), false);

  // The proposal is posted on Telegram with buttons; a stranger's Approve changes nothing.
  const message = await waitFor(() => bot.telegram.sent().find((m) => m.text?.includes(`proposed fix ${proposal}`)), { what: 'the proposal on Telegram' });
  const questionId = /q:(q\d+):yes/.exec(JSON.stringify(message.reply_markup))![1]!;
  bot.telegram.pushCallback({ chatId: CHAT, fromId: STRANGER, data: `q:${questionId}:yes`, messageId: message.message_id });
  await waitFor(() => bot.events.ofType('chat.refused').length === 1, { what: 'the refusal' });
  assert.match(await bot.run('/proposals', new RegExp(proposal)), new RegExp(`${proposal} \\[proposed\\]`));
  // The operator approves on Telegram; a later /reject on the console is told it was decided.
  bot.telegram.pushCallback({ chatId: CHAT, fromId: OPERATOR, data: `q:${questionId}:yes`, messageId: message.message_id });
  await waitFor(() => bot.events.ofType('proposal.decided').length === 1, { what: 'the approval' });
  assert.match(await bot.run(`/reject ${proposal}`, /Already answered/), /Already answered: yes/);
  assert.match(await bot.run('/proposals', new RegExp(proposal)), new RegExp(`${proposal} \\[approved by `));
  // The first proposed fix asks the auto-repair consent, once.
  assert.equal((bot.db.prepare("SELECT count(*) AS n FROM questions WHERE kind = 'consent.auto-repair'").get() as { n: number }).n, 1);
});

test('the model returning garbage, hanging, or absent still yields a diagnosis, marked deterministic', async (t) => {
  const ollama = await FakeOllamaServer.start({ models: [MODEL] });
  t.after(() => ollama.close());
  const bot = await cascadeBot(t, { ollama });
  await bot.breakStack();
  await bot.run('/consent analysis on', /analysis:/);
  ollama.respondWith({ garbage: 'Sure! The root cause is probably the database.' });
  assert.match(await bot.run('/diagnose', /posted on every channel/, 30_000), /root cause db[\s\S]*Deterministic diagnosis only: the answer is not JSON/);
  assert.equal(bot.events.ofType('diagnosis.made').at(-1)!.context.llm, 'unavailable');
});

test('with Ollama down the diagnosis goes out alone, saying why', async (t) => {
  const bot = await cascadeBot(t, { ollama: 'absent' });
  await bot.breakStack();
  await bot.run('/consent analysis on', /analysis:/);
  assert.match(
    await bot.run('/diagnose db', /posted on every channel/, 30_000),
    /Deterministic diagnosis only: Ollama not reachable at http:\/\/127\.0\.0\.1:\d+/,
  );
});
