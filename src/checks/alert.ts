import { z } from 'zod';
import type { AlertBoard, CheckKind, CheckResult, ReceivedAlert } from './types.js';
import { clipAtWord } from '../util/text.js';
import { regexError } from '../util/regex.js';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label matcher as written: "PostgresDown" (equal), "~Postgres.*" (a regular expression matching the whole value). */
const matcherValue = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    if (!value.startsWith('~')) return;
    const problem = regexError(`^(?:${value.slice(1)})$`);
    if (problem) ctx.addIssue({ code: 'custom', message: `not a valid regular expression after "~": ${problem}` });
  });

const params = z
  .strictObject({
    /** Labels the alerts must carry: `alertname: PostgresDown`, `instance: "~db-.*"` (a "~" value is a regular expression over the whole value). */
    match: z
      .record(z.string(), matcherValue)
      .superRefine((labels, ctx) => {
        for (const name of Object.keys(labels))
          if (!LABEL_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'not a Prometheus label name (letters, digits, "_")' });
      })
      .default({}),
    /** This check takes every firing alert that no other alert check matches, so nothing Alertmanager sends goes unseen. */
    unmatched: z.boolean().default(false),
    /** A label whose value names the check a firing alert depends on (`depends_on: db`): the incident is filed as a symptom of that check's. */
    dependsOnLabel: z.string().regex(LABEL_NAME, 'expected a Prometheus label name').optional(),
  })
  .refine((p) => p.unmatched || Object.keys(p.match).length > 0, {
    message: 'expected `match` with at least one label (alertname: ...), or `unmatched: true` for the alerts no other alert check takes',
  })
  .refine((p) => !(p.unmatched && Object.keys(p.match).length > 0), { message: 'an `unmatched: true` check takes what no other matches: leave out `match`' });

type AlertParams = z.output<typeof params>;

/** How many alerts a failing run names; the rest are counted. */
const NAMED_ALERTS = 5;

/**
 * Alerts Prometheus Alertmanager sends to POST /alertmanager, as a check: it
 * fails while an alert it matches is firing and recovers when Alertmanager
 * says they resolved. So a fleet's alerts become incidents here and join
 * grouping, silences, diagnosis, regret and the briefing like local ones.
 * A delivery runs the check at once; between deliveries it reads the store.
 */
export const alertCheck: CheckKind<AlertParams> = {
  kind: 'alert',
  description: 'an alert from Prometheus Alertmanager (POST /alertmanager) is firing',
  params,
  create(p, env) {
    const wants = matcherOf(p.match);
    const stopListening = env.alerts.listen(p.unmatched ? () => true : wants, () => env.requestRun(), p.unmatched);
    return {
      run: async () => judge(p, wants, env.alerts, env.now()),
      dispose: stopListening,
    };
  },
};

function matcherOf(match: Record<string, string>): (labels: Record<string, string>) => boolean {
  const tests = Object.entries(match).map(([name, value]) => {
    if (!value.startsWith('~')) return (labels: Record<string, string>) => labels[name] === value;
    const pattern = new RegExp(`^(?:${value.slice(1)})$`);
    return (labels: Record<string, string>) => pattern.test(labels[name] ?? '');
  });
  return (labels) => tests.every((t) => t(labels));
}

function judge(p: AlertParams, wants: (labels: Record<string, string>) => boolean, board: AlertBoard, now: number): CheckResult {
  const firing = board.firing().filter((a) => (p.unmatched ? !board.claimed(a.labels) : wants(a.labels)));
  if (firing.length === 0)
    return { ok: true, message: p.unmatched ? 'no alert firing that no other check takes' : 'no matching alert firing', details: { firing: 0 } };
  const dependsOn = p.dependsOnLabel ? [...new Set(firing.map((a) => a.labels[p.dependsOnLabel!]).filter((v): v is string => !!v))] : [];
  const named = firing.slice(0, NAMED_ALERTS).map((a) => describeAlert(a, now));
  const more = firing.length > NAMED_ALERTS ? `; and ${firing.length - NAMED_ALERTS} more` : '';
  return {
    ok: false,
    message: `${firing.length === 1 ? '1 alert' : `${firing.length} alerts`} firing: ${named.join('; ')}${more}`,
    details: {
      firing: firing.length,
      alerts: firing.slice(0, 20).map((a) => ({
        fingerprint: a.fingerprint,
        labels: a.labels,
        summary: summaryOf(a),
        startsAt: a.startsAt,
      })),
      groupKeys: [...new Set(firing.map((a) => a.groupKey))],
      ...(dependsOn.length > 0 ? { dependsOn } : {}),
    },
  };
}

/** "PostgresDown on db-2 (critical): Postgres is not answering, for 12m". */
function describeAlert(alert: ReceivedAlert, now: number): string {
  const name = alert.labels.alertname ?? 'alert';
  const where = alert.labels.instance ?? alert.labels.job;
  const severity = alert.labels.severity ? ` (${alert.labels.severity})` : '';
  const summary = summaryOf(alert);
  const since = alert.startsAt !== null && alert.startsAt <= now ? `, for ${shortAge(now - alert.startsAt)}` : '';
  return `${name}${where ? ` on ${where}` : ''}${severity}${summary ? `: ${clipAtWord(summary, 160)}` : ''}${since}`;
}

function summaryOf(alert: ReceivedAlert): string {
  return alert.annotations.summary ?? alert.annotations.description ?? alert.annotations.message ?? '';
}

function shortAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.max(0, Math.round(ms / 1000))}s`;
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h ${minutes % 60}m` : `${Math.floor(hours / 24)}d`;
}
