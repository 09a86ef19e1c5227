import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { botEnv, startBot } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { TELEGRAM_TOKEN as TOKEN } from '../helpers/platforms.js';

const CHAT = -1009876543210;

test('kill -9 of Nightshift with an alert still undelivered: after restart it is delivered, once', async (t) => {
  const telegram = await FakeTelegram.start({ token: TOKEN, chats: [CHAT] });
  t.after(() => telegram.close());
  const cwd = tempDir(t);
  writeFileSync(
    join(cwd, 'nightshift.yml'),
    `chat: { groupWait: 0s }\nchecks:\n  - name: report\n    kind: file\n    path: ${JSON.stringify(join(cwd, 'missing-report.json'))}\n`,
  );
  const env = botEnv(cwd, { TELEGRAM_TOKEN: TOKEN, TELEGRAM_CHAT_ID: String(CHAT), TELEGRAM_API_ROOT: telegram.apiRoot });
  await telegram.down();
  const first = startBot(t, cwd, env, ['start'], 'ignore');
  await first.started();
  // The alert is written to the outbox and its delivery keeps failing while Telegram is down.
  await first.waitForOutput(/"channel":"telegram"[^\n]*"msg":"delivery failed; will retry"/);
  first.kill('SIGKILL');
  await first.exit();

  await telegram.up();
  const second = startBot(t, cwd, env, ['start'], 'ignore');
  await second.started();
  await waitFor(() => telegram.sent().some((m) => m.text?.includes('report is failing')), { timeoutMs: 20_000, what: 'the alert queued before the kill' });
  // The incident stays open across the restart: no second alert, and the queued one is not sent twice.
  await waitFor(() => /SUMMARY: DEGRADED/.test(second.stdout), { what: 'the second run to patrol' });
  assert.equal(telegram.sent().filter((m) => m.text?.includes('report is failing')).length, 1);
});
