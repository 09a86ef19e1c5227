import { z } from 'zod';

/**
 * What other programs send Nightshift over HTTP, validated before anything
 * is stored: an agent's own report (POST /events), its later score of an
 * action (POST /events/<id>/score), and Alertmanager's webhook
 * (POST /alertmanager, payload version 4).
 */

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, 'expected letters, digits, ".", "_", ":", "/" or "-" (max 128)');

/** How deep an agent's context may nest: far more than any report needs, far less than what would overflow the stack. */
const MAX_CONTEXT_DEPTH = 32;

/** How deeply arrays and objects nest in a parsed JSON value, counted without recursion. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const pending: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 0 }];
  while (pending.length > 0) {
    const { node, depth } = pending.pop()!;
    if (node === null || typeof node !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_CONTEXT_DEPTH) return deepest;
    for (const child of Object.values(node)) pending.push({ node: child, depth: depth + 1 });
  }
  return deepest;
}

/** POST /events: an agent reports an action it took or an error it met. */
export const agentEventSchema = z.strictObject({
  type: z.enum(['action', 'error']),
  /** What kind of action or error: "reassign-task", "llm-timeout". Actions are scored per category in the regret index. */
  category: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected a lower-case name of letters, digits, ".", "_" or "-" (max 64)'),
  /** What it concerns: a configured check's name (then Nightshift scores the action from that check) or anything else. */
  target: name,
  message: z.string().min(1).max(2000),
  severity: z.enum(['info', 'warning', 'critical']).optional(),
  /** Who reports: the agent's name. */
  agent: name.default('agent'),
  /** Anything else worth keeping, as JSON (at most 8 KiB once serialised, at most 32 levels deep). */
  context: z
    .record(z.string(), z.unknown())
    .superRefine((context, ctx) => {
      // Depth first: serialising (here, and wherever the event is stored or read) recurses, and a small body can nest thousands deep.
      if (depthOf(context) > MAX_CONTEXT_DEPTH) ctx.addIssue({ code: 'custom', message: `expected at most ${MAX_CONTEXT_DEPTH} levels of nesting` });
      else if (JSON.stringify(context).length > 8192) ctx.addIssue({ code: 'custom', message: 'expected at most 8 KiB of JSON' });
    })
    .default({}),
});
export type AgentEvent = z.output<typeof agentEventSchema>;

/** POST /events/<id>/score: the agent's verdict on one of its actions (+1 moved things forward ... -2 needed a human). */
export const agentScoreSchema = z.strictObject({
  score: z.number().int().min(-2).max(1),
  note: z.string().max(500).optional(),
});

/** Alertmanager writes "0001-01-01T00:00:00Z" for a time it does not have. */
const amTime = z
  .string()
  .optional()
  .transform((text) => {
    if (text === undefined) return null;
    const at = Date.parse(text);
    return Number.isNaN(at) || at <= 0 ? null : at;
  });

const labelSet = z.record(z.string(), z.string());

/** Alertmanager's webhook payload (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), version 4. */
export const alertmanagerSchema = z.object({
  version: z.string(),
  groupKey: z.string().min(1).max(4096),
  truncatedAlerts: z.number().int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  externalURL: z.string().default(''),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: labelSet,
        annotations: labelSet.default({}),
        startsAt: amTime,
        endsAt: amTime,
        fingerprint: z.string().min(1).max(128),
      }),
    )
    .max(10_000),
});
export type AlertmanagerPayload = z.output<typeof alertmanagerSchema>;

/** The first problems of a refused payload, one line ("alerts.0.fingerprint: ..."), for the sender's log. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
}
