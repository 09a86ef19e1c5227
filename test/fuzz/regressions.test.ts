import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeDiscord } from '../fakes/discord/server.js';
import { startInProcess } from '../helpers/bot.js';
import { DISCORD, platformEnv } from '../helpers/platforms.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { errorLines, hasLiveMaskedLink } from './chat-harness.js';
import { rawRequest } from './http-client.js';
import { AGENT_TOKEN, ALERTMANAGER_TOKEN, botWithIngest, count } from './ingest-bot.js';
import { deepJson } from './payloads.js';

const OPERATORS = '1015000000000000010';

/*
 * Counterexamples the fuzz tests in this folder found, shrunk and kept as
 * fixed inputs, so each bug stays fixed whatever the generators draw.
 */

test('POST /events: a context nested 7,000 deep (a 14 KiB body) is refused with the reason, not a 500 from a stack overflow', async (t) => {
  const { bot, post } = await botWithIngest(t);
  const body = `{"type":"error","category":"deep","target":"worker","message":"deep","context":{"nested":${deepJson(7_000)}}}`;
  const answer = await post('/events', body, AGENT_TOKEN);
  assert.equal(answer?.status, 400, answer?.body);
  assert.match((JSON.parse(answer.body) as { error: string }).error, /^context: expected at most 32 levels of nesting/);
  assert.equal(count(bot.db, "SELECT count(*) AS n FROM events WHERE type = 'agent.error'"), 0);
  assert.deepEqual(errorLines(bot.lines), []);
});

test('POST /alertmanager: an annotation of 40,000 "é" (80 KB, across the read chunks) is stored as sent, not with U+FFFD at each chunk edge', async (t) => {
  const { bot, post } = await botWithIngest(t);
  const summary = 'é'.repeat(40_000);
  const delivery = {
    version: '4',
    groupKey: '{}:{alertname="DiskFull"}',
    status: 'firing',
    receiver: 'nightshift',
    alerts: [{ status: 'firing', labels: { alertname: 'DiskFull' }, annotations: { summary }, fingerprint: 'fp-1' }],
  };
  const answer = await post('/alertmanager', JSON.stringify(delivery), ALERTMANAGER_TOKEN);
  assert.equal(answer?.status, 200, answer?.body);
  const row = bot.db.prepare("SELECT annotations FROM alerts WHERE fingerprint = 'fp-1'").get() as { annotations: string };
  assert.equal((JSON.parse(row.annotations) as { summary: string }).summary, summary);
});

test('a body shorter than its Content-Length: answered 400 with the reason, and nothing is logged as a failure of Nightshift', async (t) => {
  const { bot, port } = await botWithIngest(t);
  const answer = await rawRequest(port, {
    method: 'POST',
    path: '/events',
    headers: { host: '127.0.0.1', authorization: `Bearer ${AGENT_TOKEN}`, 'content-type': 'application/json' },
    body: Buffer.from('{"type":"error",'),
    claimedLength: 500,
  });
  assert.equal(answer?.status, 400);
  assert.match(answer.body, /^the request could not be read as HTTP \(\w+\)/);
  // The handler saw the request abandoned mid-body: a debug line, not an error.
  await waitFor(() => bot.lines().some((l) => l['msg'] === 'http request abandoned by the client'), { what: 'the handler to see the abandoned request' });
  assert.deepEqual(errorLines(bot.lines), []);
});

test('a request Node cannot parse (an unknown method) is answered 400 with the reason, not an empty body', async (t) => {
  const { port } = await botWithIngest(t);
  const answer = await rawRequest(port, { method: 'BREW', path: '/healthz', headers: { host: '127.0.0.1' }, body: Buffer.alloc(0) });
  assert.equal(answer?.status, 400);
  assert.match(answer.body, /could not be read as HTTP/);
});

test('Discord: masked links echoed in a reply are escaped, also one in angle brackets and the second of two in a row', async (t) => {
  const discord = await FakeDiscord.start({ ...DISCORD, roles: [{ id: OPERATORS, name: 'operators' }] });
  const dataDir = tempDir(t);
  const yaml = `chat:\n  discord:\n    operators: { roles: ["${OPERATORS}"] }\nchecks: []\n`;
  await startInProcess(t, { yaml, env: platformEnv({ dataDir, discord: { apiUrl: discord.apiUrl } }) });
  t.after(() => discord.close());
  await waitFor(() => discord.registeredCommands().length > 0, { what: 'slash commands registered' });
  const id = discord.sendSlashCommand({
    name: 'diagnosis',
    options: { id: '[click](<https://evil.example>)[me](https://evil.example)' },
    userId: '1015000000000000100',
    roleIds: [OPERATORS],
  });
  const [callback] = await waitFor(() => (discord.callbacks(id).length > 0 ? discord.callbacks(id) : undefined), { what: 'the reply' });
  const content = String(callback!.data?.['content']);
  assert.match(content, /is not a diagnosis number/);
  assert.ok(!hasLiveMaskedLink(content), content);
});

test('an unknown command 4,000 characters long: the answer shows it cut, so "Try /help" stays in the first message', async (t) => {
  const bot = await startInProcess(t, { yaml: 'checks: []\n', env: { NIGHTSHIFT_DATA_DIR: tempDir(t) } });
  const answer = await bot.run(`/${'𒉏⭗/'.repeat(1_400)}`, /Try \/help/);
  const [first] = answer.split('\n');
  assert.match(first!, /^Unknown command \/(𒉏⭗\/)+𒉏⭗…\. Try \/help:$/);
  assert.ok(first!.length < 80, first);
});
