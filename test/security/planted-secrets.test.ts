import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeDiscord } from '../fakes/discord/server.js';
import { DEFAULT_ANSWER, FakeOllamaServer } from '../fakes/ollama/server.js';
import { FakeNtfyServer } from '../fakes/ntfy/server.js';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { CANARY_MARKER, canaryToken } from '../helpers/canary.js';
import { runCli, startBot } from '../helpers/cli.js';
import { DISCORD, TELEGRAM_TOKEN, platformEnv } from '../helpers/platforms.js';
import { tempDir, waitFor } from '../helpers/temp.js';

// Runs the built CLI (dist/): `npm test` builds first.

const CHAT = -1001234567890;
// Each carries the canary marker, so the sweep after the suite looks for them (even cut short) in everything the bot wrote.
const random = (n: number) => `${CANARY_MARKER}${randomBytes(n).toString('base64url').replace(/[-_]/g, 'x')}`.slice(0, n);

/**
 * One secret of every shape the redactor must catch. `value` is what must
 * never appear on any surface; `line` is how a service might print it.
 */
function plantedSecrets(tokens: { ntfy: string; http: string }) {
  const secrets = {
    discordToken: { value: DISCORD.token, line: `discord login with ${DISCORD.token} failed` },
    telegramToken: { value: TELEGRAM_TOKEN, line: `GET https://api.telegram.org/bot${TELEGRAM_TOKEN}/getMe: 401` },
    ntfyToken: { value: tokens.ntfy, line: `ntfy publish with ${tokens.ntfy} refused` },
    httpToken: { value: tokens.http, line: `status probe sent ${tokens.http}` },
    openaiKey: { value: `sk-proj-${random(40)}`, line: '' },
    githubToken: { value: `ghp_${random(36)}`, line: '' },
    password: { value: `Pw${random(14)}`, line: '' },
    dsnPassword: { value: `Dsn${random(14)}`, line: '' },
    bearer: { value: `opaque${random(20)}`, line: '' },
    apiKeyHeader: { value: `hdr${random(24)}`, line: '' },
  };
  secrets.openaiKey.line = `OpenAI said 401 for key ${secrets.openaiKey.value}`;
  secrets.githubToken.line = `git clone https://${secrets.githubToken.value}@github.com/acme/agents failed`;
  secrets.password.line = `config: db_host=10.0.0.5 password=${secrets.password.value} retries=3`;
  secrets.dsnPassword.line = `FATAL: could not connect to postgres://agent:${secrets.dsnPassword.value}@db.internal:5432/prod`;
  secrets.bearer.line = `request failed; Authorization: Bearer ${secrets.bearer.value}`;
  secrets.apiKeyHeader.line = `upstream rejected X-Api-Key: ${secrets.apiKeyHeader.value}`;
  return secrets;
}

test('planted secrets of every shape reach no surface: stdout, HTTP, the CLI, the database, escalation files, every chat channel, the model prompt', async (t) => {
  const cwd = tempDir(t);
  const ntfyToken = canaryToken('ntfy');
  const httpToken = canaryToken('http');
  const secrets = plantedSecrets({ ntfy: ntfyToken, http: httpToken });
  const allLines = Object.values(secrets).map((s) => `LEAK-PROBE ${s.line}`);
  // What a leaky service prints: every line on stderr, then everything again on one line (the check's message quotes the last line).
  writeFileSync(join(cwd, 'leak.txt'), `${allLines.join('\n')}\n${allLines.join(' | ')}\n`);
  const leak = `process.stderr.write(require('fs').readFileSync(${JSON.stringify(join(cwd, 'leak.txt'))}, 'utf8')); process.exit(1)`;

  const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN, chats: [CHAT] });
  const ntfy = await FakeNtfyServer.start({ token: ntfyToken });
  const discord = await FakeDiscord.start({ ...DISCORD, heartbeatIntervalMs: 5000 });
  const ollama = await FakeOllamaServer.start({ models: ['qwen2.5:7b'] });
  t.after(() => Promise.all([telegram.close(), ntfy.close(), discord.close(), ollama.close()]));
  // Even a model that echoes a secret back (it is never given one) does not put it on chat.
  ollama.respondWith({ content: JSON.stringify({ ...DEFAULT_ANSWER, rootCause: `the agent cannot log in: ${secrets.password.line}` }) });

  writeFileSync(
    join(cwd, 'nightshift.yml'),
    [
      'patrol: { interval: 1s }',
      'chat: { groupWait: 0s }',
      'checks:',
      '  - name: leaky-agent',
      '    kind: command',
      `    run: [${JSON.stringify(process.execPath)}, "-e", ${JSON.stringify(leak)}]`,
      `    heal: [{ action: command, run: [${JSON.stringify(process.execPath)}, "-e", ${JSON.stringify(leak)}] }]`,
      '  - name: backup',
      '    kind: heartbeat',
      '    period: 1h',
      '',
    ].join('\n'),
  );
  const env = {
    ...platformEnv({
      dataDir: join(cwd, 'data'),
      telegram: { apiRoot: telegram.apiRoot, chatId: CHAT },
      ntfy: { url: ntfy.url, topic: 'alerts', replyTopic: 'replies' },
      discord: { apiUrl: discord.apiUrl },
    }),
    PATH: process.env.PATH!,
    HOME: process.env.HOME!,
    NTFY_TOKEN: ntfyToken,
    NIGHTSHIFT_HTTP_TOKEN: httpToken,
    OLLAMA_HOST: ollama.url,
    OLLAMA_MODEL: 'qwen2.5:7b',
  };
  const bot = startBot(t, cwd, env);
  const address = await bot.started();
  const auth = { authorization: `Bearer ${httpToken}` };

  // A job reports failure with its output.
  const ping = await fetch(`http://${address}/ping/backup/fail`, { method: 'POST', body: allLines.join('\n') });
  assert.equal(ping.status, 200);
  // The heal does not hold: escalated, with a task file.
  const escalations = join(cwd, 'data', 'escalations');
  await waitFor(() => existsSync(escalations) && readdirSync(escalations).length > 0, { timeoutMs: 30_000, what: 'the escalation file' });
  // A diagnosis, with the model's answer, on every channel.
  bot.send('/consent analysis on');
  await bot.waitForOutput(/analysis: granted\./);
  bot.send('/diagnose');
  await waitFor(() => ntfy.messages('alerts').some((m) => /Diagnosis #/.test(m.title ?? '')), { timeoutMs: 30_000, what: 'the diagnosis on ntfy' });
  await waitFor(() => ollama.chatRequests().length > 0, { what: 'the prompt' });
  await waitFor(
    () => telegram.sent().some((m) => /Diagnosis #/.test(m.text ?? '')) && discord.messages().some((m) => /Diagnosis #/.test(JSON.stringify(m.embeds))),
    {
      timeoutMs: 30_000,
      what: 'the diagnosis on Telegram and Discord',
    },
  );
  await waitFor(async () => /LEAK-PROBE/.test(JSON.stringify(await (await fetch(`http://${address}/status.json`, { headers: auth })).json())), {
    what: 'the heartbeat failure in the status',
  });

  const statusJson = await (await fetch(`http://${address}/status.json`, { headers: auth })).text();
  const metrics = await (await fetch(`http://${address}/metrics`, { headers: auth })).text();
  const cliStatus = runCli(['status'], cwd, env);
  assert.match(cliStatus.stdout, /SUMMARY: DEGRADED/);
  bot.kill('SIGTERM');
  assert.equal((await bot.exit()).code, 0);

  const dataDir = join(cwd, 'data');
  const surfaces: Record<string, string> = {
    'stdout and stderr': bot.stdout + bot.stderr,
    '/status.json': statusJson,
    '/metrics': metrics,
    'nightshift status': cliStatus.stdout + cliStatus.stderr,
    'database file': ['nightshift.db', 'nightshift.db-wal'].map((f) => (existsSync(join(dataDir, f)) ? readFileSync(join(dataDir, f), 'latin1') : '')).join(''),
    'escalation files': readdirSync(escalations)
      .map((f) => readFileSync(join(escalations, f), 'utf8'))
      .join('\n'),
    telegram: JSON.stringify(telegram.sent()),
    ntfy: JSON.stringify(ntfy.messages('alerts')),
    discord: JSON.stringify(discord.messages()),
    'model prompt': JSON.stringify(ollama.chatRequests().map((r) => r.body)),
  };
  // The leaky text really reached each surface (so this test cannot pass because nothing arrived)...
  for (const [surface, text] of Object.entries(surfaces)) {
    if (surface === '/metrics') continue;
    assert.match(text, /LEAK-PROBE/, `${surface} never received the planted output`);
  }
  // ...and not one secret did.
  const leaks = Object.entries(surfaces).flatMap(([surface, text]) =>
    Object.entries(secrets)
      .filter(([, s]) => text.includes(s.value))
      .map(([name]) => `${name} on ${surface}`),
  );
  assert.deepEqual(leaks, []);
  // Redaction markers show what was removed.
  assert.match(surfaces['database file']!, /\[redacted:secret\]/);
  assert.match(surfaces.ntfy!, /\[redacted/);
});
