import fc from 'fast-check';

/**
 * Generators for what programs post to Nightshift: agent reports
 * (POST /events), Alertmanager's webhook (POST /alertmanager), and bodies
 * that are neither: random JSON, garbage, huge, deeply nested.
 */

/** Strings that are valid for one field and not for another. */
const value = fc.oneof(
  fc.constantFrom('', ' ', 'worker', 'requeue-task', 'Requeue Task', 'a'.repeat(129), 'x'.repeat(2001), '../etc', 'llm-timeout', 'info', 'critical', 'loud'),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
const anyJson = fc.oneof(value, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));

/** Nested arrays `depth` deep, in JSON: what a careless or hostile agent can fit in a small body. */
export function deepJson(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Stands for nested arrays that depth deep: the body's text is spliced, as JSON.stringify itself cannot go that deep. */
const DEEP = /"__deep_(\d+)__"/;

/** A report shaped like the documented one, each field now and then wrong, missing or extra, as the body's text. */
export const agentEvent = fc
  .record(
    {
      type: fc.oneof(fc.constantFrom('action', 'error'), anyJson),
      category: fc.oneof(fc.constantFrom('requeue-task', 'llm-timeout', 'reassign'), value),
      target: fc.oneof(fc.constantFrom('worker', 'task-queue/7', 'nightly-backup'), value),
      message: fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }), value),
      severity: fc.oneof(fc.constantFrom('info', 'warning', 'critical'), anyJson),
      agent: fc.oneof(fc.constantFrom('planner', 'coder-2'), value),
      context: fc.oneof(
        fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 5 }),
        fc.integer({ min: 1, max: 7_000 }).map((depth) => ({ nested: `__deep_${depth}__` })),
        fc.string({ maxLength: 9_000 }).map((text) => ({ text })),
        anyJson,
      ),
      extra: anyJson,
    },
    { requiredKeys: [] },
  )
  .map((event) => JSON.stringify(event).replace(DEEP, (_, depth: string) => deepJson(Number(depth))));

const labels = fc.dictionary(fc.oneof(fc.constantFrom('alertname', 'instance', 'severity', 'depends_on'), fc.string({ maxLength: 10 })), value, { maxKeys: 4 });
const amTime = fc.oneof(
  fc.constantFrom('0001-01-01T00:00:00Z', '2026-12-04T18:00:00Z', 'yesterday', ''),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);

/** One alert: its fingerprint drawn from a small set, so the same alert is delivered again (stored once). */
export const alert = fc.record(
  {
    status: fc.oneof(fc.constantFrom('firing', 'resolved'), value),
    labels,
    annotations: labels,
    startsAt: amTime,
    endsAt: amTime,
    fingerprint: fc.oneof(fc.constantFrom('a1', 'b2', 'c3', 'd4'), value),
    generatorURL: value,
  },
  { requiredKeys: ['status', 'labels', 'fingerprint'] },
);

/** Alertmanager's webhook payload (version 4), each field now and then wrong. */
export const alertmanagerPayload = fc
  .record(
    {
      version: fc.oneof(fc.constant('4'), anyJson),
      groupKey: fc.oneof(fc.constantFrom('{}:{alertname="PostgresDown"}', '{}/{}:{}'), value),
      truncatedAlerts: fc.oneof(fc.constant(0), anyJson),
      status: fc.oneof(fc.constantFrom('firing', 'resolved'), value),
      receiver: fc.oneof(fc.constant('nightshift'), value),
      groupLabels: labels,
      commonLabels: labels,
      commonAnnotations: labels,
      externalURL: fc.oneof(fc.constant('http://alertmanager:9093'), value),
      alerts: fc.oneof(fc.array(alert, { maxLength: 5 }), anyJson),
    },
    { requiredKeys: ['version', 'groupKey', 'status', 'receiver', 'alerts'] },
  )
  .map((payload) => JSON.stringify(payload));

/** A body that is not what any route expects: random JSON, text, garbage bytes, a huge one, deep nesting. */
export const jsonBody = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '[]', '{"type":', '\u0000', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{}}}') },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map(deepJson) },
  { weight: 1, arbitrary: fc.integer({ min: 16 * 1024 - 10, max: 16 * 1024 + 10 }).map((n) => JSON.stringify({ message: 'x'.repeat(n) })) },
);
