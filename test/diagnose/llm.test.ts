import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { z } from 'zod';
import { buildPrompt, explain, llmAnswerFormat, llmAnswerSchema, renderLlmSection, renderLlmUnavailable, type LlmInput } from '../../src/diagnose/llm.js';
import type { CausalAnalysis, ChainNode } from '../../src/diagnose/types.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { DEFAULT_ANSWER, FakeOllamaServer, type FakeOllamaOptions } from '../fakes/ollama/server.js';
import { waitFor } from '../helpers/temp.js';
import { closedPort } from '../helpers/net.js';

// Realistic shapes (made up, never valid).
const TELEGRAM = '7123456789:AAH4k2Jd8sPq0vWzYx9aBcDeFgHiJkLmNoP';
const BEARER = 'Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const URL_PASSWORD = 'hunter2-db-pass';
const MODEL = 'qwen2.5:7b';

const T0 = Date.UTC(2025, 5, 3, 2, 0, 0);
const minute = 60_000;

function node(check: string, kind: string, failures: number, atMinute: number, message: string): ChainNode {
  return {
    check,
    kind,
    failures,
    firstSeen: T0 + atMinute * minute,
    lastSeen: T0 + (atMinute + 20) * minute,
    signature: message.replace(/\d+/g, 'N'),
    sampleMessage: message,
    evidence: null,
  };
}

/** postgres → api → worker (critical), a log spike as symptom; an optional NAS chain; one unexplained critical failure and one optional. */
function scenario(overrides: Partial<LlmInput> = {}): LlmInput {
  const analysis: CausalAnalysis = {
    from: T0,
    to: T0 + 60 * minute,
    totalFailures: 96,
    chains: [
      {
        root: node('postgres', 'tcp', 20, 1, 'connect ECONNREFUSED 127.0.0.1:5432'),
        effects: [node('api', 'http', 30, 2, 'HTTP 503 after 12 ms (expected 200-399)')],
        cascade: [node('worker', 'process', 25, 3, 'worker exited with code 1: upstream api returned 503')],
        symptoms: [node('api-errors', 'log', 6, 3, '42 lines matching /ERROR/ in 5 min')],
        explainedFailures: 81,
        latentCauses: [],
        summary: 'postgres stopped accepting connections at 02:01; api failed one minute later and worker after it.',
      },
      {
        root: node('nas-mount', 'file', 5, 10, 'stat /mnt/nas/ready: ENOENT'),
        effects: [node('backup', 'command', 4, 11, 'rsync exited with code 23')],
        cascade: [],
        symptoms: [],
        explainedFailures: 9,
        latentCauses: [],
        summary: 'the NAS mount vanished; the backup could not write.',
      },
    ],
    unexplained: [node('gpu-temp', 'command', 4, 30, 'GPU at 91 C, above 85 C'), node('cron-cleanup', 'heartbeat', 2, 40, 'no ping for 2 h')],
    clusters: [],
    summary: 'postgres explains 81 of 96 failures.',
  };
  return {
    analysis,
    incidents: [
      { check: 'api', severity: 'critical', message: 'HTTP 503 after 12 ms (expected 200-399)', openedAt: T0 + 2 * minute, failures: 30 },
      { check: 'postgres', severity: 'critical', message: 'connect ECONNREFUSED 127.0.0.1:5432', openedAt: T0 + minute, failures: 20 },
      { check: 'worker', severity: 'critical', message: 'worker exited with code 1', openedAt: T0 + 3 * minute, failures: 25 },
      { check: 'gpu-temp', severity: 'critical', message: 'GPU at 91 C, above 85 C', openedAt: T0 + 30 * minute, failures: 4 },
      { check: 'backup', severity: 'optional', message: 'rsync exited with code 23', openedAt: T0 + 11 * minute, failures: 4 },
      { check: 'cron-cleanup', severity: 'optional', message: 'no ping for 2 h', openedAt: T0 + 40 * minute, failures: 2 },
    ],
    logTails: {
      api: [
        '02:01:58 INFO request GET /health',
        `02:02:01 ERROR notify failed: POST https://api.telegram.org/bot${TELEGRAM}/sendMessage: 502`,
        `02:02:02 DEBUG upstream call with Authorization: ${BEARER}`,
        '02:02:03 ERROR pool: could not connect to postgres at 127.0.0.1:5432',
      ].join('\n'),
      backup: 'rsync: write failed on "/mnt/nas/backup/db.tar": No such file or directory (2)',
    },
    checkConfigs: [
      { name: 'postgres', kind: 'tcp', severity: 'critical', dependsOn: [], params: { host: '127.0.0.1', port: 5432 } },
      {
        name: 'api',
        kind: 'http',
        severity: 'critical',
        dependsOn: ['postgres'],
        params: { url: `http://admin:${URL_PASSWORD}@127.0.0.1:8080/health`, headers: { Authorization: BEARER, 'X-Trace': 'on' } },
      },
      {
        name: 'worker',
        kind: 'process',
        severity: 'critical',
        dependsOn: ['api'],
        params: { command: ['node', 'worker.js'], env: { TELEGRAM_TOKEN: TELEGRAM, MODE: 'prod' } },
      },
      { name: 'api-errors', kind: 'log', severity: 'critical', dependsOn: ['api'], params: { path: '/var/log/api.log', pattern: 'ERROR' } },
      {
        name: 'gpu-temp',
        kind: 'command',
        severity: 'critical',
        dependsOn: [],
        params: {
          command: ['nvidia-smi', '--query-gpu=temperature.gpu'],
          notes: 'fan curve from https://fanuser-0a9b8c7d6e@gitlab.lan/ops/fans.git?private_token=zz998877',
        },
      },
      { name: 'nas-mount', kind: 'file', severity: 'optional', dependsOn: [], params: { path: '/mnt/nas/ready' } },
      { name: 'backup', kind: 'command', severity: 'optional', dependsOn: ['nas-mount'], params: { command: ['rsync', '-a', '/srv/db', '/mnt/nas/backup'] } },
      { name: 'cron-cleanup', kind: 'heartbeat', severity: 'optional', dependsOn: [], params: { every: 3_600_000 } },
    ],
    ...overrides,
  };
}

const redactor = new Redactor();

async function fakeOllama(t: TestContext, options: FakeOllamaOptions = {}): Promise<FakeOllamaServer> {
  const fake = await FakeOllamaServer.start(options);
  t.after(() => fake.close());
  return fake;
}

function explainOptions(host: string, overrides: Partial<Parameters<typeof explain>[1]> = {}) {
  const { logger, lines } = createCapturedLogger(redactor);
  return { options: { host, model: MODEL, redactor, log: logger, ...overrides }, logLines: lines };
}

type ChatBody = { model: string; stream: boolean; format: unknown; options: { temperature: number }; messages: Array<{ role: string; content: string }> };

test('a valid answer (not streamed) is parsed and validated; the request carries the schema, stream:false and temperature 0', async (t) => {
  const fake = await fakeOllama(t);
  const { options, logLines } = explainOptions(fake.url);
  const result = await explain(scenario(), options);
  assert.equal(result.ok, true, result.ok ? '' : result.reason);
  assert.ok(result.ok);
  assert.deepEqual(result.answer, DEFAULT_ANSWER);
  assert.equal(result.model, MODEL);
  assert.ok(result.durationMs >= 0 && result.durationMs < 5_000);

  const [request] = fake.chatRequests();
  const body = request!.body as ChatBody;
  assert.equal(body.model, MODEL);
  assert.equal(body.stream, false);
  assert.equal(body.options.temperature, 0);
  assert.deepEqual(body.format, llmAnswerFormat);
  assert.deepEqual(
    body.messages.map((m) => m.role),
    ['system', 'user'],
  );
  assert.equal(body.messages[1]!.content, buildPrompt(scenario(), { redactor }).user, 'the prompt sent is the one buildPrompt builds');
  assert.ok(logLines().some((line) => line.msg === 'LLM explanation received'));
});

test('a streamed answer split over several NDJSON chunks is assembled, parsed and validated', async (t) => {
  const fake = await fakeOllama(t, { streamChunks: 5 });
  const answer = {
    rootCause: 'disk full',
    whyItCascades: 'everything writes to it',
    whatToCheck: ['df -h'],
    fix: { kind: 'steps', steps: ['free space', 'restart postgres'] },
    confidence: 'high',
  };
  fake.respondWith({ content: JSON.stringify(answer) });
  const result = await explain(scenario(), explainOptions(fake.url, { stream: true }).options);
  assert.ok(result.ok, result.ok ? '' : result.reason);
  assert.deepEqual(result.answer, answer);
  assert.equal((fake.chatRequests()[0]!.body as ChatBody).stream, true);
});

test('garbage from the model gives ok:false with a short reason, never a throw', async (t) => {
  const fake = await fakeOllama(t);
  fake.respondWith({ garbage: 'not json at all' }, { garbage: 'not json at all' });
  for (const stream of [false, true]) {
    const result = await explain(scenario(), explainOptions(fake.url, { stream }).options);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.reason, 'the answer is not JSON: "not json at all"');
  }
});

test('JSON that does not match the schema gives ok:false naming the problem fields', async (t) => {
  const fake = await fakeOllama(t);
  fake.respondWith({
    content: JSON.stringify({ rootCause: 'disk', whyItCascades: 'x', whatToCheck: Array.from({ length: 9 }, (_, i) => `item ${i}`), confidence: 'certain' }),
  });
  const result = await explain(scenario(), explainOptions(fake.url).options);
  assert.ok(!result.ok);
  assert.match(result.reason, /^the answer does not match the schema: /);
  assert.match(result.reason, /whatToCheck: /);
  assert.match(result.reason, /confidence: /);
  assert.ok(result.reason.length < 300, result.reason);
});

test('a model that never answers: ok:false within the timeout, and the request is really aborted', async (t) => {
  const fake = await fakeOllama(t);
  fake.respondWith({ hang: true });
  const { options, logLines } = explainOptions(fake.url, { timeoutMs: 300 });
  const started = Date.now();
  const result = await explain(scenario(), options);
  const elapsed = Date.now() - started;
  assert.ok(!result.ok);
  assert.equal(result.reason, 'no answer within 300ms');
  assert.ok(elapsed >= 290 && elapsed < 3_000, `took ${elapsed} ms`);
  await waitFor(() => fake.chatRequests()[0]?.closedEarly, { timeoutMs: 2_000, what: 'the fake to see the connection closed' });
  assert.ok(logLines().some((line) => line.level === 40 && String(line.msg).includes('deterministic diagnosis goes out alone')));
});

test('a stream that stalls mid-answer is aborted at the timeout too', async (t) => {
  const fake = await fakeOllama(t);
  fake.respondWith({ hang: true, afterChunks: 1 });
  const started = Date.now();
  const result = await explain(scenario(), explainOptions(fake.url, { timeoutMs: 300, stream: true }).options);
  assert.ok(!result.ok);
  assert.equal(result.reason, 'no answer within 300ms');
  assert.ok(Date.now() - started < 3_000);
  await waitFor(() => fake.chatRequests()[0]?.closedEarly, { timeoutMs: 2_000, what: 'the stalled stream to be closed' });
});

test('no Ollama at the address: ok:false at once, saying where it looked', async () => {
  const port = await closedPort();
  const started = Date.now();
  const result = await explain(scenario(), explainOptions(`http://127.0.0.1:${port}`).options);
  assert.ok(!result.ok);
  assert.equal(result.reason, `Ollama not reachable at http://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port})`);
  assert.ok(Date.now() - started < 2_000);
});

test('a model that is not pulled (404): the reason names the model', async (t) => {
  const fake = await fakeOllama(t, { models: ['llama3:8b'] });
  const result = await explain(scenario(), explainOptions(fake.url).options);
  assert.ok(!result.ok);
  assert.match(
    result.reason,
    /^model qwen2\.5:7b is not available on Ollama at http:\/\/127\.0\.0\.1:\d+: model "qwen2\.5:7b" not found, try pulling it first \(ollama pull qwen2\.5:7b\)$/,
  );

  // A scripted server error is reported with its status.
  const healthy = await fakeOllama(t);
  healthy.respondWith({ status: 500, error: 'llama runner process has terminated: signal: killed' });
  const crashed = await explain(scenario(), explainOptions(healthy.url).options);
  assert.ok(!crashed.ok);
  assert.match(crashed.reason, /refused the request \(HTTP 500\): llama runner process has terminated/);
});

test('only critical incidents are asked about: optional incidents, their chains, logs and configs stay out', async (t) => {
  const fake = await fakeOllama(t);
  const prompt = buildPrompt(scenario(), { redactor });
  for (const name of ['backup', 'nas-mount', 'cron-cleanup', '/mnt/nas', 'rsync'])
    assert.equal(prompt.user.includes(name), false, `${name} leaked into the prompt`);
  for (const name of ['postgres', 'api', 'worker', 'api-errors', 'gpu-temp'])
    assert.ok(prompt.user.includes(`- ${name}`) || prompt.user.includes(`cause ${name}`), name);
  assert.match(prompt.user, /## Critical incidents \(4\)/);
  assert.match(prompt.user, /### Chain 1: root cause postgres \(explains 81 failed runs\)/);
  assert.doesNotMatch(prompt.user, /Chain 2/);
  assert.match(prompt.user, /## Failures the dependency graph does not explain\n- gpu-temp \[command\]: 4 failed runs/);
  assert.equal(prompt.truncated, false);

  // With only optional incidents nothing is sent at all.
  const optionalOnly = scenario();
  optionalOnly.incidents = optionalOnly.incidents.filter((incident) => incident.severity === 'optional');
  const result = await explain(optionalOnly, explainOptions(fake.url).options);
  assert.deepEqual(result, { ok: false, reason: 'no critical incident to explain' });
  assert.equal(fake.chatRequests().length, 0);
});

test('secrets in log tails and check params never reach the model', async (t) => {
  const fake = await fakeOllama(t);
  await explain(scenario(), explainOptions(fake.url).options);
  const sent = fake.chatRequests()[0]!.raw;
  for (const secret of [TELEGRAM, '9f8e7d6c5b4a39281706f5e4d3c2b1a0', URL_PASSWORD, 'AAH4k2Jd8sPq', 'fanuser-0a9b8c7d6e', 'zz998877'])
    assert.equal(sent.includes(secret), false, `${secret} was sent to the model`);

  const prompt = buildPrompt(scenario(), { redactor });
  // The log tail keeps its meaning, with markers where the secrets were.
  assert.match(prompt.user, /api\.telegram\.org\/bot\[redacted:telegram-token\]\/sendMessage: 502/);
  assert.match(prompt.user, /Authorization: Bearer \[redacted:[a-z]+\]/);
  // Params keep their names: header and env values and URL passwords are masked.
  assert.match(prompt.user, /"headers":\{"Authorization":"\[redacted[a-z:-]*\]","X-Trace":"\[redacted\]"\}/);
  assert.match(prompt.user, /"env":\{"TELEGRAM_TOKEN":"\[redacted\]","MODE":"\[redacted\]"\}/);
  assert.match(prompt.user, /"url":"http:\/\/admin:\[redacted:password\]@127\.0\.0\.1:8080\/health"/);
  assert.match(prompt.user, /https:\/\/redacted@gitlab\.lan\/ops\/fans\.git\?private_token=\[?redacted/);
  // A secret the bot was configured with is removed whatever its shape.
  const configured = buildPrompt(scenario({ logTails: { api: 'login as svc with x-odd-shaped-secret-1 ok' } }), {
    redactor: new Redactor(['x-odd-shaped-secret-1']),
  });
  assert.match(configured.user, /login as svc with \[redacted\] ok/);
});

test('a huge log tail is cut to its newest lines; the prompt stays within the bound and says so', () => {
  const hugeTail = Array.from(
    { length: 5_000 },
    (_, i) => `02:${String(Math.floor(i / 60) % 60).padStart(2, '0')} ERROR line ${String(i).padStart(4, '0')} could not connect to postgres`,
  ).join('\n');
  const input = scenario({ logTails: { api: hugeTail, worker: 'worker: retrying in 5 s\nworker: giving up' } });
  const prompt = buildPrompt(input, { redactor, maxPromptChars: 6_000 });
  assert.ok(prompt.system.length + prompt.user.length <= 6_000, `${prompt.system.length + prompt.user.length} chars`);
  assert.equal(prompt.truncated, true);
  assert.ok(prompt.user.includes('line 4999 could not connect'), 'the newest line is kept');
  assert.equal(prompt.user.includes('line 0000 '), false, 'the oldest line is dropped');
  assert.match(prompt.user, /### api \(newest \d+ of 5000 lines\)/);
  assert.ok(prompt.user.includes('worker: giving up'), 'a short tail stays whole');
  assert.match(prompt.user, /## Left out to fit the prompt size limit\n- older log lines of api/);
  // Log lines went first: the unexplained failure and the cascade are still there.
  assert.match(prompt.user, /gpu-temp \[command\]/);
  assert.match(prompt.user, /Cascade:\n- worker \[process\]/);

  // The default bound is 12 000 characters.
  const byDefault = buildPrompt(input, { redactor });
  assert.ok(byDefault.system.length + byDefault.user.length <= 12_000);
  assert.deepEqual(buildPrompt(input, { redactor, maxPromptChars: 6_000 }), prompt, 'the same input gives the same prompt');
});

test('as the bound shrinks, logs go first, then unexplained failures, then cascade detail; the bound always holds', () => {
  const manyChains = scenario();
  // Long summaries so that even without logs the prompt has to shed more.
  manyChains.analysis.chains[0]!.summary = 'postgres stopped accepting connections. '.repeat(20);
  manyChains.logTails = { api: Array.from({ length: 300 }, (_, i) => `ERROR ${i} pool exhausted`).join('\n') };
  const full = buildPrompt(manyChains, { redactor, maxPromptChars: 100_000 });
  assert.equal(full.truncated, false);
  const seen = new Set<string>();
  for (let limit = full.system.length + full.user.length + 500; limit >= 2_000; limit -= 150) {
    const prompt = buildPrompt(manyChains, { redactor, maxPromptChars: limit });
    assert.ok(prompt.system.length + prompt.user.length <= limit, `over the bound at ${limit}`);
    const hasLogs = prompt.user.includes('## Log tails');
    const hasUnexplained = prompt.user.includes('## Failures the dependency graph does not explain');
    const hasCascadeDetail = prompt.user.includes('Cascade:\n- worker');
    if (!hasUnexplained) assert.equal(hasLogs, false, `at ${limit}: unexplained dropped while logs remain`);
    if (!hasCascadeDetail) assert.equal(hasUnexplained, false, `at ${limit}: cascade dropped while unexplained remain`);
    assert.equal(
      prompt.truncated,
      prompt.user.includes('## Left out to fit the prompt size limit') || prompt.user.includes('(cut at the size limit)'),
      `at ${limit}: truncated must match what the prompt says`,
    );
    if (!hasLogs) assert.match(prompt.user, /- the log tails of api/);
    if (!hasUnexplained) assert.match(prompt.user, /- 1 failure the dependency graph does not explain/);
    seen.add(`${hasLogs}/${hasUnexplained}/${hasCascadeDetail}`);
  }
  for (const stage of ['true/true/true', 'false/true/true', 'false/false/true', 'false/false/false'])
    assert.ok(seen.has(stage), `stage ${stage} never reached`);
  assert.throws(() => buildPrompt(manyChains, { redactor, maxPromptChars: 500 }), RangeError);
});

test('the format sent is the JSON Schema of llmAnswerSchema, plain enough for Ollama', () => {
  const { $schema: _dialect, ...expected } = z.toJSONSchema(llmAnswerSchema, { target: 'draft-07' });
  assert.deepEqual(llmAnswerFormat, expected);
  assert.equal('$schema' in llmAnswerFormat, false);
  assert.deepEqual(llmAnswerFormat.required, ['rootCause', 'whyItCascades', 'whatToCheck', 'confidence']);
  assert.equal(llmAnswerFormat.additionalProperties, false);
  assert.equal(llmAnswerSchema.safeParse(DEFAULT_ANSWER).success, true);
});

test('the answer renders as plain lines: root cause, why it cascades, what to check, proposed fix', () => {
  const lines = renderLlmSection(llmAnswerSchema.parse(DEFAULT_ANSWER));
  assert.deepEqual(lines, [
    `Root cause (medium confidence): ${DEFAULT_ANSWER.rootCause}`,
    `Why it cascades: ${DEFAULT_ANSWER.whyItCascades}`,
    'Check:',
    '- df -h /var/lib/postgresql',
    '- journalctl -u postgresql -n 50',
    '- du -sh /var/lib/postgresql/*/main/pg_wal',
    'Proposed fix: run sudo journalctl --vacuum-size=200M',
    'Verify with: pg_isready -h 127.0.0.1',
  ]);
  const withSteps = renderLlmSection({
    rootCause: 'r',
    whyItCascades: 'w',
    whatToCheck: ['c'],
    confidence: 'low',
    fix: { kind: 'steps', steps: ['one', 'two'] },
  });
  assert.deepEqual(withSteps.slice(-3), ['Proposed fix:', '1. one', '2. two']);
  const withDiff = renderLlmSection({
    rootCause: 'r',
    whyItCascades: 'w',
    whatToCheck: ['c'],
    confidence: 'high',
    fix: { kind: 'diff', repository: '/srv/api', diff: '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n' },
  });
  assert.deepEqual(withDiff.slice(-6), ['Proposed fix: a patch to /srv/api', '--- a/x', '+++ b/x', '@@ -1 +1 @@', '-a', '+b']);
  assert.equal(
    renderLlmSection({ rootCause: 'r', whyItCascades: 'w', whatToCheck: ['c'], confidence: 'low' }).some((l) => l.startsWith('Proposed fix')),
    false,
  );
  assert.equal(renderLlmUnavailable('no answer within 60 s'), 'LLM explanation unavailable (no answer within 60 s): deterministic diagnosis only.');
});
