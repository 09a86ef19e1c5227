import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SEED, assertHealthy, watchCrashes } from './chat-harness.js';
import { AGENT_TOKEN, ALERTMANAGER_TOKEN, botWithIngest, count } from './ingest-bot.js';
import { agentEvent, alertmanagerPayload } from './payloads.js';

/** Under the documented 600 accepted reports a minute, so no report is refused for the rate. */
const AGENT_REPORTS = 500;
const DELIVERIES = 400;

/** Text an agent may well send: any language, emoji, and long enough to cross the server's read chunks. */
const faithfulText = fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }), fc.constantFrom('é', '👩‍👩‍👧', 'ж', '日本'));

/** A report the documented schema accepts, with random values in every field. */
const validAgentEvent = fc
  .record({
    type: fc.constantFrom('action', 'error'),
    category: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/),
    target: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/),
    message: faithfulText.map((text) => text.slice(0, 2000)),
    severity: fc.constantFrom('info', 'warning', 'critical'),
    agent: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/),
    context: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.boolean()), { maxKeys: 4 }),
  })
  .map((event) => JSON.stringify(event));

/** A delivery the schema accepts: random labels and annotations, fingerprints from a small set so alerts are delivered again. */
const validDelivery = fc
  .record({
    groupKey: fc.string({ minLength: 1, maxLength: 60 }),
    status: fc.constantFrom('firing', 'resolved'),
    alerts: fc.array(
      fc.record({
        status: fc.constantFrom('firing', 'resolved'),
        labels: fc.dictionary(fc.string({ maxLength: 10 }), faithfulText, { maxKeys: 4 }),
        annotations: fc.dictionary(
          fc.constantFrom('summary', 'description'),
          // Now and then longer than one read chunk of the server (64 KiB), multi-byte all along.
          fc.oneof({ weight: 9, arbitrary: faithfulText }, { weight: 1, arbitrary: fc.constantFrom('é', '日本', '👩‍👩‍👧').map((c) => c.repeat(40_000)) }),
        ),
        startsAt: fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
        fingerprint: fc.constantFrom('fp-a', 'fp-b', 'fp-c', 'fp-d', 'fp-e'),
      }),
      { maxLength: 6 },
    ),
  })
  .map((d) => JSON.stringify({ version: '4', receiver: 'nightshift', groupLabels: {}, commonLabels: {}, externalURL: '', truncatedAlerts: 0, ...d }));

test(`POST /events: ${AGENT_REPORTS} generated agent reports, valid-shaped and malformed`, { timeout: 120_000 }, async (t) => {
  const crashes = watchCrashes(t);
  const { bot, post } = await botWithIngest(t);
  const stored = () => count(bot.db, "SELECT count(*) AS n FROM events WHERE type IN ('agent.action', 'agent.error')");
  await fc.assert(
    fc.asyncProperty(fc.oneof(validAgentEvent, agentEvent), async (body) => {
      const before = stored();
      const answer = await post('/events', body, AGENT_TOKEN);
      assert.ok(answer, 'an answer');
      const reply = JSON.parse(answer.body) as { id?: number; type?: string; error?: string; usage?: string };
      if (answer.status === 201) {
        // Stored once, as sent.
        assert.equal(stored(), before + 1);
        const sent = JSON.parse(body) as { message: string; type: string };
        const row =
          reply.type === 'action'
            ? (bot.db.prepare('SELECT message FROM actions WHERE id = ?').get(reply.id) as { message: string } | undefined)
            : (bot.db.prepare("SELECT json_extract(context, '$.message') AS message FROM events WHERE id = ? AND type = 'agent.error'").get(reply.id) as
                { message: string } | undefined);
        assert.equal(row?.message, sent.message, 'the message is stored as the agent sent it');
      } else {
        assert.equal(answer.status, 400, answer.body);
        assert.ok(reply.error && reply.usage, `a refusal that explains itself: ${answer.body}`);
        assert.equal(stored(), before, 'nothing stored for a refused report');
      }
    }),
    { numRuns: AGENT_REPORTS, seed: SEED, includeErrorInReport: true },
  );
  assertHealthy(crashes, bot.lines);
});

test(`POST /alertmanager: ${DELIVERIES} generated deliveries, valid-shaped and malformed`, { timeout: 120_000 }, async (t) => {
  const crashes = watchCrashes(t);
  const { bot, post } = await botWithIngest(t);
  const deliveries = () => count(bot.db, "SELECT count(*) AS n FROM events WHERE type = 'alert.received'");
  await fc.assert(
    fc.asyncProperty(fc.oneof(validDelivery, alertmanagerPayload), async (body) => {
      const before = { deliveries: deliveries(), alerts: JSON.stringify(bot.db.prepare('SELECT * FROM alerts ORDER BY fingerprint').all()) };
      const answer = await post('/alertmanager', body, ALERTMANAGER_TOKEN);
      assert.ok(answer, 'an answer');
      const reply = JSON.parse(answer.body) as { received?: number; error?: string };
      if (answer.status === 200) {
        const sent = JSON.parse(body) as { alerts: Array<{ fingerprint: string; status: string; labels: unknown; annotations?: unknown }> };
        assert.equal(reply.received, sent.alerts.length);
        assert.equal(deliveries(), before.deliveries + 1, 'one alert.received event per delivery');
        // Each alert is one row, the last word on it as sent (a redelivery updates it, never adds a second).
        const last = new Map(sent.alerts.map((a) => [a.fingerprint, a]));
        for (const [fingerprint, alert] of last) {
          const rows = bot.db.prepare('SELECT status, labels, annotations FROM alerts WHERE fingerprint = ?').all(fingerprint) as Array<Record<string, string>>;
          assert.equal(rows.length, 1);
          assert.equal(rows[0]!['status'], alert.status);
          assert.deepEqual(JSON.parse(rows[0]!['labels']!), alert.labels);
          assert.deepEqual(JSON.parse(rows[0]!['annotations']!), alert.annotations ?? {}, 'the annotations are stored as sent');
        }
      } else {
        assert.equal(answer.status, 400, answer.body);
        assert.ok(reply.error, `a refusal that explains itself: ${answer.body}`);
        assert.equal(deliveries(), before.deliveries, 'nothing stored for a refused delivery');
        assert.equal(JSON.stringify(bot.db.prepare('SELECT * FROM alerts ORDER BY fingerprint').all()), before.alerts);
      }
    }),
    { numRuns: DELIVERIES, seed: SEED, includeErrorInReport: true },
  );
  assertHealthy(crashes, bot.lines);
});
