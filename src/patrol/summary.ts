import type { CheckConfig } from '../checks/types.js';
import type { CheckStateRow } from '../store/check-state.js';
import type { IncidentRow } from '../store/incidents.js';
import { formatDuration } from '../util/duration.js';

export type OverallState = 'OK' | 'DEGRADED' | 'DOWN';

/** What /status and the commands that name a check read. */
export interface StatusService {
  /** The one-glance status, computed now from the store. */
  summary(): StatusSummary;
  /** The configured checks' names, in configuration order. */
  checkNames(): readonly string[];
}

export interface CheckSummary {
  name: string;
  kind: string;
  severity: 'critical' | 'optional';
  status: 'unknown' | 'ok' | 'failing';
  stale: boolean;
  lastRunAt: number | null;
  lastOkAt: number | null;
  lastDurationMs: number | null;
  message: string | null;
  consecutiveFailures: number;
  flapping: boolean;
  /** Open incident of this check, if any, and the check it is a symptom of. */
  incidentId: number | null;
  symptomOf: string | null;
  escalated: boolean;
  /** The check watches a timer (counted in inactive_timers while failing). */
  timer: boolean;
}

export interface StatusSummary {
  state: OverallState;
  core: 'active' | 'stalled';
  checks: number;
  failing: number;
  stale: number;
  inactiveTimers: number;
  heals24h: number;
  escalations24h: number;
  generatedAt: number;
  startedAt: number;
  lastPatrolAt: number | null;
  details: CheckSummary[];
}

export interface SummaryInput {
  now: number;
  startedAt: number;
  lastPatrolAt: number | null;
  patrolAlive: boolean;
  checks: readonly CheckConfig[];
  states: readonly CheckStateRow[];
  openIncidents?: readonly IncidentRow[];
  heals24h?: number;
  escalations24h?: number;
}

/**
 * The one-glance status. DOWN when the patrol loop itself has stalled,
 * DEGRADED when a critical check fails, OK otherwise. A check that has not
 * run within two of its intervals is stale (a check that never ran counts
 * once the bot has been up that long).
 */
export function buildSummary(input: SummaryInput): StatusSummary {
  const byName = new Map(input.states.map((s) => [s.name, s]));
  const incidentOf = new Map((input.openIncidents ?? []).map((i) => [i.checkName, i]));
  const incidentById = new Map((input.openIncidents ?? []).map((i) => [i.id, i]));
  const details = input.checks.map((check): CheckSummary => {
    const state = byName.get(check.name);
    const reference = state?.lastRunAt ?? input.startedAt;
    return {
      name: check.name,
      kind: check.kind,
      severity: check.severity,
      status: state?.status ?? 'unknown',
      stale: input.now - reference > 2 * check.intervalMs,
      lastRunAt: state?.lastRunAt ?? null,
      lastOkAt: state?.lastOkAt ?? null,
      lastDurationMs: state?.lastDurationMs ?? null,
      message: state?.lastMessage ?? null,
      consecutiveFailures: state?.consecutiveFailures ?? 0,
      flapping: state?.flapping ?? false,
      incidentId: incidentOf.get(check.name)?.id ?? null,
      symptomOf: rootCheckOf(incidentOf.get(check.name), incidentById),
      escalated: incidentOf.get(check.name)?.escalatedAt != null,
      timer: state?.lastDetails?.timer === true,
    };
  });
  const failing = details.filter((d) => d.status === 'failing');
  const core = input.patrolAlive ? 'active' : 'stalled';
  const state: OverallState = core === 'stalled' ? 'DOWN' : failing.some((d) => d.severity === 'critical') ? 'DEGRADED' : 'OK';
  return {
    state,
    core,
    checks: details.length,
    failing: failing.length,
    stale: details.filter((d) => d.stale).length,
    inactiveTimers: details.filter((d) => d.timer && d.status === 'failing').length,
    heals24h: input.heals24h ?? 0,
    escalations24h: input.escalations24h ?? 0,
    generatedAt: input.now,
    startedAt: input.startedAt,
    lastPatrolAt: input.lastPatrolAt,
    details,
  };
}

/** `SUMMARY: OK  core=active  checks=3  failing=0  stale=0  ...`: the line a human reads at a glance. */
export function summaryLine(summary: StatusSummary): string {
  return (
    `SUMMARY: ${summary.state}  core=${summary.core}  checks=${summary.checks}  failing=${summary.failing}  stale=${summary.stale}` +
    `  inactive_timers=${summary.inactiveTimers}  heals_24h=${summary.heals24h}  escalations=${summary.escalations24h}`
  );
}

function rootCheckOf(incident: IncidentRow | undefined, byId: Map<number, IncidentRow>): string | null {
  if (!incident || incident.rootId === null) return null;
  return byId.get(incident.rootId)?.checkName ?? null;
}

/** The summary line, then one line per failing or stale check. */
export function renderSummary(summary: StatusSummary): string {
  const lines = [summaryLine(summary)];
  for (const d of summary.details) {
    if (d.status === 'failing') {
      const notes = [
        d.consecutiveFailures > 1 ? `${d.consecutiveFailures}x` : '',
        d.symptomOf ? `symptom of ${d.symptomOf}` : '',
        d.escalated ? 'escalated' : '',
        d.flapping ? 'flapping' : '',
      ].filter(Boolean);
      lines.push(`  FAIL  ${d.name} (${d.kind}, ${d.severity}): ${d.message ?? 'no message'}${notes.length ? ` [${notes.join(', ')}]` : ''}`);
    }
    if (d.stale) {
      const ago = d.lastRunAt === null ? 'never ran' : `last ran ${formatDuration(summary.generatedAt - d.lastRunAt)} ago`;
      lines.push(`  STALE ${d.name} (${d.kind}): ${ago}`);
    }
  }
  return lines.join('\n');
}
