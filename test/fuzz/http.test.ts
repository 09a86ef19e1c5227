import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { startInProcess } from '../helpers/bot.js';
import { canaryToken } from '../helpers/canary.js';
import { tempDir } from '../helpers/temp.js';
import { SEED, assertHealthy, assertUnchanged, watchCrashes } from './chat-harness.js';
import { rawRequest, type RawRequest } from './http-client.js';
import { AGENT_TOKEN, ALERTMANAGER_TOKEN } from './ingest-bot.js';
import { alertmanagerPayload, agentEvent, jsonBody } from './payloads.js';
import { snapshotState } from './state.js';

const TOKENS = { http: canaryToken('http'), agent: AGENT_TOKEN, alertmanager: ALERTMANAGER_TOKEN } as const;
const REQUESTS = 4_000;
const BATCH = 50;
const HEARTBEAT = 'nightly-backup';

type Auth = 'none' | 'http' | 'agent' | 'alertmanager' | 'wrong' | 'basic' | 'malformed';
const UNAUTHORISED: Auth[] = ['none', 'http', 'wrong', 'basic', 'malformed'];

function authorization(auth: Auth): Record<string, string> {
  switch (auth) {
    case 'none':
      return {};
    case 'http':
    case 'agent':
    case 'alertmanager':
      return { authorization: `Bearer ${TOKENS[auth]}` };
    case 'wrong':
      return { authorization: `Bearer ${TOKENS.agent.slice(0, -1)}x` };
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`admin:${TOKENS.agent}`).toString('base64')}` };
    case 'malformed':
      return { authorization: `Bearer  ${TOKENS.alertmanager} extra` };
  }
}

/** Every route of src/http/server.ts (GET /live streams forever and is left out), forged tokens in the signed ones, and paths that are none. */
const path = fc.oneof(
  fc.constantFrom(
    '/',
    '/index.html',
    '/app.js',
    '/style.css',
    '/overview.json',
    '/healthz',
    '/status.json',
    '/metrics',
    `/ping/${HEARTBEAT}`,
    `/ping/${HEARTBEAT}/start`,
    `/ping/${HEARTBEAT}/fail`,
    '/ping/unknown-job',
    '/ping/../../etc/passwd',
    '/answer/AAAA.BBBB',
    '/act/AAAA.BBBB',
    '/events',
    '/events/1/score',
    '/events/999999999999999/score',
    '/events/-1/score',
    '/alertmanager',
    '/alertmanager/',
    '//healthz',
    '/healthz?x=1',
    '/%00',
    '/status.json%2F..',
    '*',
  ),
  fc.tuple(fc.constantFrom('/answer/', '/act/', '/ping/', '/events/'), fc.stringMatching(/^[A-Za-z0-9._~%-]{0,80}$/)).map(([a, b]) => a + b),
  fc.integer({ min: 1, max: 9000 }).map((n) => `/${'a'.repeat(n)}`),
);

const method = fc.constantFrom('GET', 'HEAD', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
const contentType = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'multipart/form-data; boundary=x',
  '\u00ff',
);
const host = fc.constantFrom('127.0.0.1', 'localhost', '[::1]', 'evil.example', 'localhost.evil.example');

function request(auths: readonly Auth[]): fc.Arbitrary<RawRequest> {
  return fc
    .record({
      method,
      path,
      auth: fc.constantFrom(...auths),
      host,
      contentType,
      body: fc.oneof(agentEvent, alertmanagerPayload, jsonBody),
      lie: fc.option(fc.integer({ min: -10, max: 1000 }), { freq: 8 }),
    })
    .map((r) => {
      const body = r.method === 'GET' || r.method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(r.body);
      return {
        method: r.method,
        path: r.path,
        headers: { host: r.host, ...authorization(r.auth), ...(r.contentType ? { 'content-type': r.contentType } : {}) },
        body,
        claimedLength: r.lie === null ? undefined : Math.max(0, body.length + r.lie),
      };
    });
}

/** The routes programs post to answer JSON, {error} included (the others answer text). */
function isIngest(path: string): boolean {
  return path === '/events' || /^\/events\/\d{1,15}\/score$/.test(path) || path === '/alertmanager';
}

test(`HTTP: ${REQUESTS} generated requests to every route, with and without the tokens`, { timeout: 180_000 }, async (t) => {
  const crashes = watchCrashes(t);
  const yaml = `checks:\n  - name: ${HEARTBEAT}\n    kind: heartbeat\n    period: 1d\n    grace: 30m\n  - name: fleet\n    kind: alert\n    unmatched: true\n`;
  const env = {
    NIGHTSHIFT_DATA_DIR: tempDir(t),
    NIGHTSHIFT_HTTP_TOKEN: TOKENS.http,
    NIGHTSHIFT_AGENT_TOKEN: TOKENS.agent,
    NIGHTSHIFT_ALERTMANAGER_TOKEN: TOKENS.alertmanager,
  };
  const bot = await startInProcess(t, { yaml, env });
  const port = Number(bot.http.split(':').at(-1));
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(
      fc
        .constantFrom('unauthorised' as const, 'any' as const)
        .chain((who) =>
          fc.tuple(
            fc.constant(who),
            fc.array(request(who === 'unauthorised' ? UNAUTHORISED : [...UNAUTHORISED, 'agent', 'alertmanager']), { minLength: BATCH, maxLength: BATCH }),
          ),
        ),
      async ([who, requests]) => {
        // A ping to the heartbeat check is open to anyone by design: it is the one route that changes state without a token.
        const batch = who === 'unauthorised' ? requests.filter((r) => !r.path.startsWith(`/ping/${HEARTBEAT}`)) : requests;
        const before = snapshotState(bot.db);
        const answers = await Promise.all(batch.map((r) => rawRequest(port, r)));
        sent += batch.length;
        batch.forEach((r, i) => {
          const answer = answers[i];
          const what = `${r.method} ${r.path.slice(0, 80)} (${JSON.stringify(r.headers).slice(0, 200)}, ${r.body.length} bytes, claimed ${r.claimedLength ?? 'truly'})`;
          // A request whose body is shorter than it claims may be dropped: the client gave up, nobody waits for an answer.
          if (answer === undefined) {
            assert.ok(r.claimedLength !== undefined, `no answer to ${what}`);
            return;
          }
          assert.ok(answer.status < 500, `${answer.status} ${answer.body.slice(0, 200)} for ${what}`);
          if (answer.status >= 400) {
            assert.ok(r.method === 'HEAD' || answer.body.trim().length > 0, `an unexplained ${answer.status} for ${what}`);
            if (isIngest(r.path) && answer.status !== 421 && r.method !== 'HEAD' && r.claimedLength === undefined) {
              assert.match(answer.headers['content-type'] ?? '', /^application\/json/, `${answer.status} for ${what}`);
              const error = (JSON.parse(answer.body) as { error?: unknown }).error;
              assert.ok(typeof error === 'string' && error.length > 0, `no {error} in ${answer.body} for ${what}`);
            }
          }
        });
        assertHealthy(crashes, bot.lines);
        if (who === 'unauthorised') assertUnchanged(bot.db, before, 'an unauthorised request');
      },
    ),
    { numRuns: REQUESTS / BATCH, seed: SEED, endOnFailure: true, includeErrorInReport: true },
  );
  assert.ok(sent >= REQUESTS * 0.9);
});
