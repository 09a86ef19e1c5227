import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { messageNonce } from '../../adapters/discord.js';
import { FakeDiscord } from '../fakes/discord/server.js';
import { botEnv, startBot } from '../helpers/cli.js';
import { DISCORD, platformEnv } from '../helpers/platforms.js';
import { tempDir, waitFor } from '../helpers/temp.js';

// Runs the built CLI (dist/): `npm test` builds first.

const ALERTMANAGER_TOKEN = 'chaos-alertmanager-token-0123456789';
const ALERT_NAME = 'NonceProbe';
const TITLE = `Alertmanager sent firing alerts no check takes: ${ALERT_NAME}`;

/** A firing alert no check takes: the bot tells the chat, through the outbox. */
const delivery = {
  version: '4',
  groupKey: `{}:{alertname="${ALERT_NAME}"}`,
  status: 'firing',
  receiver: 'nightshift',
  alerts: [{ status: 'firing', labels: { alertname: ALERT_NAME }, annotations: {}, startsAt: new Date().toISOString(), fingerprint: 'nonce-probe-1' }],
};

test('nonces: the same outbox key on the same channel is the same nonce, within Discord’s 25 characters; another key or channel is another nonce', () => {
  const nonce = messageNonce(DISCORD.channelId, 'incident:12:opened');
  assert.ok(nonce.length <= 25 && nonce.length >= 20, nonce);
  assert.equal(messageNonce(DISCORD.channelId, 'incident:12:opened'), nonce);
  assert.notEqual(messageNonce(DISCORD.channelId, 'incident:12:recovered'), nonce);
  assert.notEqual(messageNonce('1015000000000000009', 'incident:12:opened'), nonce);
});

test('kill -9 after Discord created a message but before the bot heard back: the resend at the restart carries the same nonce and posts no second message', async (t) => {
  const cwd = tempDir(t);
  writeFileSync(
    join(cwd, 'nightshift.yml'),
    ['chat: { groupWait: 0s }', 'checks:', '  - name: backup', '    kind: heartbeat', '    period: 1h', ''].join('\n'),
  );
  const discord = await FakeDiscord.start({ ...DISCORD, heartbeatIntervalMs: 5000 });
  t.after(() => discord.close());
  const route = `/channels/${DISCORD.channelId}/messages`;
  const env = {
    ...botEnv(cwd),
    ...platformEnv({ dataDir: join(cwd, 'data'), discord: { apiUrl: discord.apiUrl } }),
    NIGHTSHIFT_ALERTMANAGER_TOKEN: ALERTMANAGER_TOKEN,
  };
  const shown = () => discord.messages().filter((m) => m.embeds[0]?.title === TITLE);
  const posts = () => discord.requests().filter((r) => r.method === 'POST' && r.path === route && JSON.stringify(r.body).includes(ALERT_NAME));

  const first = startBot(t, cwd, env);
  const address = await first.started();
  // Discord creates the message, and its answer never comes back: the row stays pending.
  discord.swallowAnswers(`POST ${route}`, 1);
  const answer = await fetch(`http://${address}/alertmanager`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ALERTMANAGER_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(delivery),
  });
  assert.equal(answer.status, 200);
  await waitFor(() => shown().length === 1, { what: 'the notice on Discord' });
  first.kill('SIGKILL');
  await first.exit();

  const second = startBot(t, cwd, env);
  await second.started();
  const dbFile = join(cwd, 'data', 'nightshift.db');
  const row = await waitFor(
    () => {
      const db = new Database(dbFile, { readonly: true });
      try {
        return db.prepare("SELECT platform_id FROM outbox WHERE channel = 'discord' AND status = 'sent' AND payload LIKE ?").get(`%${ALERT_NAME}%`) as
          { platform_id: string } | undefined;
      } finally {
        db.close();
      }
    },
    { timeoutMs: 20_000, what: 'the notice marked sent after the restart' },
  );
  // A stop while discord.js is still logging in can outlast the 2 s stop budget; that is not what this test is about.
  await second.waitForOutput(/discord slash commands registered/);
  second.kill('SIGTERM');
  assert.equal((await second.exit()).code, 0, second.stdout.slice(-3000) + second.stderr);

  // It really was sent twice, with one enforced nonce...
  const sends = posts().map((r) => r.body as { nonce?: string; enforce_nonce?: boolean });
  assert.equal(sends.length, 2);
  assert.ok(sends.every((b) => b.enforce_nonce === true && b.nonce === sends[0]!.nonce && typeof b.nonce === 'string'));
  // ...and the channel shows it once: the row points at the message the first send created.
  assert.equal(shown().length, 1);
  assert.equal(row.platform_id, shown()[0]!.id);
});
