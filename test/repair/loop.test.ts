import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_ANSWER, FakeOllamaServer } from '../fakes/ollama/server.js';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { startInProcess } from '../helpers/bot.js';
import { TELEGRAM_TOKEN as TOKEN, platformEnv } from '../helpers/platforms.js';
import { addEmptyJob, FIXED_LIB, gitIn, libDiff, makeRepo, repairYaml } from '../helpers/repair.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const CHAT = -1003;
const OPERATOR = 4242;
const MODEL = 'qwen2.5:7b';

/**
 * The whole loop as the operator lives it, on the Telegram and Ollama fakes
 * and a real git repository: a worker that keeps crashing, the analysis
 * consent answered "yes" on Telegram, a diagnosis at once with a proposed
 * patch, auto-repair allowed and the patch approved by "yes" replies, then
 * the repair: backup, apply, restart, verify, commit, reported on Telegram.
 */
test('a recurring crash, "yes" on Telegram, and the fix is applied, verified and committed', async (t) => {
  const telegram = await FakeTelegram.start({ token: TOKEN, chats: [CHAT] });
  t.after(() => telegram.close());
  const ollama = await FakeOllamaServer.start({ models: [MODEL] });
  t.after(() => ollama.close());
  const repo = makeRepo(t);
  addEmptyJob(repo);
  const dir = tempDir(t);
  const yaml = repairYaml(repo)
    .replace('chat: { groupWait: 0s }', `chat:\n  groupWait: 0s\n  telegram: { operators: [${OPERATOR}] }`)
    .replace('diagnose: { weekly: "off" }', 'diagnose: { weekly: "off", askAfter: 2, recurrence: { count: 2, window: 1h } }')
    .replace('    heal: [restart]', '    heal: [restart]\n    maxHeals: { count: 20, window: 15m }');
  const env = {
    ...platformEnv({ dataDir: join(dir, 'data'), telegram: { apiRoot: telegram.apiRoot, chatId: CHAT } }),
    OLLAMA_HOST: ollama.url,
    OLLAMA_MODEL: MODEL,
  };
  ollama.respondWith({
    content: JSON.stringify({
      ...DEFAULT_ANSWER,
      rootCause: 'lib.mjs perItem() throws on a job of size 0; jobs.json has one, so the worker crashes on every pass.',
      whyItCascades: 'Nothing depends on the worker; it crashes again after every restart.',
      whatToCheck: ['node scripts/regress.mjs', 'jobs.json'],
      fix: { kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB), regression: 'node scripts/regress.mjs' },
    }),
  });
  const bot = await startInProcess(t, { yaml, env });
  const { events } = bot;
  /** Replies "yes" to the Telegram message that matches. */
  const sayYesTo = async (pattern: RegExp) => {
    const message = await waitFor(() => telegram.sent().find((m) => pattern.test(m.text ?? '')), { timeoutMs: 30_000, what: `a message matching ${pattern}` });
    telegram.pushMessage({ chatId: CHAT, fromId: OPERATOR, text: 'yes', replyTo: message.message_id });
    return message;
  };

  await sayYesTo(/May Nightshift analyse its error patterns\?/);
  await waitFor(() => events.ofType('consent.changed').some((e) => e.context.to === 'granted'), { what: 'analysis granted' });
  const proposal = await waitFor(() => telegram.sent().find((m) => /proposed fix p\d+/.test(m.text ?? '')), { timeoutMs: 30_000, what: 'the proposal' });
  const id = /proposed fix (p\d+)/.exec(proposal.text!)![1]!;
  assert.match(proposal.text!, /Checked before asking:[\s\S]*git apply --check: applies cleanly/);
  await sayYesTo(/May approved fixes be applied automatically\?/);
  await waitFor(() => events.ofType('consent.changed').some((e) => e.context.name === 'auto-repair' && e.context.to === 'granted'), {
    what: 'auto-repair granted',
  });
  telegram.pushMessage({ chatId: CHAT, fromId: OPERATOR, text: 'yes', replyTo: proposal.message_id });
  const done = await waitFor(() => telegram.sent().find((m) => new RegExp(`Repair ${id} on worker (applied and verified|failed)`).test(m.text ?? '')), {
    timeoutMs: 60_000,
    what: 'the repair result on Telegram',
  });
  assert.match(done.text!, /applied and verified: commit [0-9a-f]{12}/);
  assert.match(gitIn(repo, 'log', '-1', '--format=%B'), new RegExp(`Nightshift-Repair: ${id}`));
  assert.equal(gitIn(repo, 'show', 'HEAD:lib.mjs'), FIXED_LIB.trimEnd());
  assert.match(await bot.run('/repairs', new RegExp(id)), new RegExp(`${id} \\[committed\\] worker`));
  // Healthy from then on.
  await waitFor(
    () =>
      /SUMMARY: OK/.test(
        bot
          .output()
          .split('\n')
          .reverse()
          .find((l) => l.startsWith('SUMMARY')) ?? '',
      ),
    { timeoutMs: 20_000, what: 'the summary OK' },
  );
});
