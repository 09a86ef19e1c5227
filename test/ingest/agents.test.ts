import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { analyzeCausality } from '../../src/diagnose/causal.js';
import { startInProcess } from '../helpers/bot.js';
import { canaryToken } from '../helpers/canary.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const AGENT_TOKEN = canaryToken('agent');

/** A bot with one check, `worker`, healthy while its flag file exists; agents may post with AGENT_TOKEN. */
async function botWithAgents(t: TestContext, env: Record<string, string> = { NIGHTSHIFT_AGENT_TOKEN: AGENT_TOKEN }) {
  const dir = tempDir(t);
  const flag = join(dir, 'worker.ok');
  writeFileSync(flag, 'ok');
  const yaml = `patrol: { interval: 200ms }\nchat: { groupWait: 0s }\nchecks:\n  - { name: worker, kind: file, path: ${JSON.stringify(flag)}, cooldown: 1m }\n`;
  const bot = await startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data'), ...env } });
  const post = (path: string, body: unknown, token: string | null = AGENT_TOKEN) =>
    fetch(`http://${bot.http}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { ...bot, flag, post };
}

test("an agent's action on a check joins the regret index and is scored +1 once the check stays healthy", async (t) => {
  const bot = await botWithAgents(t);
  const response = await bot.post('/events', { type: 'action', category: 'requeue-task', target: 'worker', message: 'requeued task 8812', agent: 'planner' });
  assert.equal(response.status, 201);
  const body = (await response.json()) as { id: number; scoredBy: string; flagged: string | null };
  assert.equal(body.scoredBy, 'check');
  assert.equal(body.flagged, null);
  // Scored by the check's next patrols, like one of Nightshift's own heals.
  const scored = await waitFor(
    () =>
      bot.db.prepare('SELECT score, category, target FROM actions WHERE id = ? AND score IS NOT NULL').get(body.id) as
        { score: number; category: string } | undefined,
    { timeoutMs: 10_000, what: 'the agent action to be scored' },
  );
  assert.equal(scored.score, 1);
  assert.equal(scored.category, 'agent:requeue-task');
  const regret = await bot.run('/regret', /agent:requeue-task/);
  assert.match(regret, /agent:requeue-task/);
  // An agent's action is not a heal: heals_24h stays 0.
  assert.match(await bot.run('/status', /heals_24h=\d+/), /heals_24h=0/);
});

test("an agent scores its own action later; it cannot score one of Nightshift's", async (t) => {
  const bot = await botWithAgents(t);
  const reply = await bot.post('/events', {
    type: 'action',
    category: 'reassign',
    target: 'task-queue/7',
    message: 'reassigned task 7 to coder-2',
    agent: 'orchestrator',
  });
  const { id, scoredBy } = (await reply.json()) as { id: number; scoredBy: string };
  assert.equal(scoredBy, 'agent', 'task-queue/7 is no check: the agent scores it');
  const scored = await bot.post(`/events/${id}/score`, { score: -1, note: 'coder-2 failed it too' });
  assert.equal(scored.status, 200);
  const row = bot.db.prepare('SELECT score, score_note AS note FROM actions WHERE id = ?').get(id) as { score: number; note: string };
  assert.equal(row.score, -1);
  assert.match(row.note, /orchestrator.*coder-2 failed it too/);

  // Nightshift's own actions are not the agents' to rewrite.
  const own = bot.db
    .prepare(
      "INSERT INTO actions (at, category, target, trigger, incident_id, result, message, details) VALUES (?, 'restart', 'worker', 'incident', NULL, 'ok', 'restarted', '{}')",
    )
    .run(Date.now()).lastInsertRowid;
  const refused = await bot.post(`/events/${own}/score`, { score: 1 });
  assert.equal(refused.status, 404);
  assert.equal((bot.db.prepare('SELECT score FROM actions WHERE id = ?').get(own) as { score: number | null }).score, null);
  assert.equal((await bot.post('/events/999999/score', { score: 1 })).status, 404);
  assert.equal((await bot.post(`/events/${id}/score`, { score: 5 })).status, 400);
});

test("three bad scores flag the agent's action, and its next report says so", async (t) => {
  const bot = await botWithAgents(t);
  const report = { type: 'action', category: 'bump-temperature', target: 'llm-router', message: 'raised temperature to 1.2', agent: 'tuner' };
  for (let i = 0; i < 3; i++) {
    const { id } = (await (await bot.post('/events', report)).json()) as { id: number };
    assert.equal((await bot.post(`/events/${id}/score`, { score: -1 })).status, 200);
  }
  const next = (await (await bot.post('/events', report)).json()) as { flagged: string | null };
  assert.match(next.flagged ?? '', /regret flag #\d+ on agent:bump-temperature of llm-router \(3 scores of -1 or worse\)/);
  await waitFor(() => /the agents' agent:bump-temperature of llm-router keeps making things worse/.test(bot.output()), { what: 'the flag said on chat' });
});

test("an agent's error joins the event log and the diagnosis names it when its target starts failing", async (t) => {
  const bot = await botWithAgents(t);
  const before = Date.now();
  const reply = await bot.post('/events', {
    type: 'error',
    category: 'llm-timeout',
    target: 'worker',
    message: 'ollama did not answer in 120s',
    severity: 'critical',
    agent: 'coder',
    context: { model: 'qwen2.5:7b' },
  });
  assert.equal(reply.status, 201);
  const row = bot.db.prepare("SELECT subject, severity, context FROM events WHERE type = 'agent.error'").get() as {
    subject: string;
    severity: string;
    context: string;
  };
  assert.equal(row.subject, 'worker');
  assert.equal(row.severity, 'critical');
  assert.deepEqual(JSON.parse(row.context), {
    agent: 'coder',
    category: 'llm-timeout',
    message: 'ollama did not answer in 120s',
    context: { model: 'qwen2.5:7b' },
  });
  assert.ok(bot.lines().some((line) => /agent error: ollama did not answer in 120s/.test(String(line.msg))));

  rmSync(bot.flag);
  await waitFor(() => bot.db.prepare("SELECT 1 FROM events WHERE type = 'check.failed' AND subject = 'worker'").get(), { what: 'worker to fail' });
  const analysis = analyzeCausality(bot.db, [{ name: 'worker', kind: 'file', dependsOn: [] }], { from: before - 1000, to: Date.now() + 1000 });
  assert.equal(analysis.chains[0]?.root.check, 'worker');
  assert.match(
    analysis.chains[0].summary,
    /worker began failing \S+ after an agent reported an error: "?agent coder reported llm-timeout on worker: ollama did not answer in 120s/,
  );
});

test('POST /events fails closed: no token, a wrong one, the route off, bad input; nothing is stored', async (t) => {
  const bot = await botWithAgents(t);
  const good = { type: 'error', category: 'crash', target: 'worker', message: 'segfault' };
  assert.equal((await bot.post('/events', good, null)).status, 401);
  assert.equal((await bot.post('/events', good, 'agent-token-0123456789abcdeX')).status, 401);
  const bad = await bot.post('/events', { type: 'boast', category: 'Crash!', target: 'worker', message: '' });
  assert.equal(bad.status, 400);
  const { error, usage } = (await bad.json()) as { error: string; usage: string };
  assert.match(error, /type: .*category: expected a lower-case name.*message/s);
  assert.match(usage, /"type": "action" \| "error"/);
  assert.equal((await bot.post('/events', '{not json')).status, 400);
  assert.equal((await bot.post('/events', { ...good, context: { blob: 'x'.repeat(20_000) } })).status, 413);
  assert.equal((bot.db.prepare("SELECT count(*) AS n FROM events WHERE type LIKE 'agent.%'").get() as { n: number }).n, 0);
  assert.equal((await fetch(`http://${bot.http}/events`)).status, 405);

  const off = await botWithAgents(t, {});
  const refused = await off.post('/events', good);
  assert.equal(refused.status, 404);
  assert.match(((await refused.json()) as { error: string }).error, /set NIGHTSHIFT_AGENT_TOKEN/);
});

test('the agent token opens only /events, and the HTTP token does not open /events', async (t) => {
  const httpToken = canaryToken('http');
  const bot = await botWithAgents(t, { NIGHTSHIFT_AGENT_TOKEN: AGENT_TOKEN, NIGHTSHIFT_HTTP_TOKEN: httpToken });
  assert.equal((await fetch(`http://${bot.http}/status.json`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } })).status, 401);
  assert.equal((await bot.post('/events', { type: 'error', category: 'crash', target: 'worker', message: 'x' }, httpToken)).status, 401);
  assert.equal((await bot.post('/events', { type: 'error', category: 'crash', target: 'worker', message: 'x' })).status, 201);
});
