import { describeIdentity, type Identity, type OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { CheckConfig } from '../checks/types.js';
import { formatDuration } from '../util/duration.js';
import { upstreamOf } from '../util/graph.js';
import type { Logger } from '../log/logger.js';
import type { CheckStateStore } from '../store/check-state.js';
import type { Db } from '../store/database.js';
import type { EventLog } from '../store/events.js';
import type { IncidentRow, IncidentStore } from '../store/incidents.js';
import type { RunOutcome } from './patrol.js';
import type { IncidentNotice } from '../notify/composer.js';

/** What a run did to the check's incident. */
export type IncidentUpdate =
  | { kind: 'none' }
  | { kind: 'opened' | 'continued'; incident: IncidentRow; rootCheck: string | null }
  | { kind: 'closed'; incident: IncidentRow; durationMs: number };

/** What an operator does to incidents from chat (/incidents, /ack, /mute). */
export interface IncidentService {
  /** Open incidents, oldest first. */
  open(): IncidentRow[];
  /** Incidents closed within the last 24 h, newest first (at most 20): what healed while nobody looked. */
  recent(): IncidentRow[];
  /** Quiets an incident's reminders until it recovers; false when there is no such open incident. */
  ack(incidentId: number, by: Identity): boolean;
  /**
   * A maintenance window: until `until` the check keeps running and recording
   * but neither alerts nor is healed; null ends it.
   */
  mute(check: string, until: number | null, by: Identity): void;
}

export interface IncidentTrackerOptions {
  db: Db;
  checks: readonly CheckConfig[];
  incidents: IncidentStore;
  checkState: CheckStateStore;
  events: EventLog;
  clock: Clock;
  log: Logger;
  flapping: { maxChanges: number; windowMs: number };
  /** Flapping alerts, sent as they happen. */
  notify: (message: OutgoingMessage) => void;
  /** True while a check is muted or silenced (a silence, a maintenance window): its incidents are recorded, not announced. */
  quiet: (check: CheckConfig, at: number) => boolean;
  /**
   * True for a check whose flapping is not pushed (it is healed by Nightshift
   * under `chat.notify.healed: briefing`, or optional): a crash loop is
   * announced by its escalation, flapping is recorded for the briefing.
   */
  flappingQuiet?: (check: CheckConfig) => boolean;
  /** Incidents opened and closed, for the composer to fold by root cause. */
  notice: (notice: IncidentNotice) => void;
  /** An operator acknowledged the check's incident: a probe that waits for that (drift, quarantined scripts) accepts what it sees. */
  acknowledged?: (check: string) => void;
}

/**
 * Turns runs into incidents. An incident opens after `failAfter` failed runs
 * and closes, with its duration, on recovery. A check whose dependency is
 * failing is a symptom of the dependency's incident (whichever of the two
 * failed first), and only root causes are announced. A check that keeps
 * changing state is flapping: one alert, then quiet until it is stable.
 */
export class IncidentTracker implements IncidentService {
  private byName = new Map<string, CheckConfig>();
  /** Each check's dependencies, direct and transitive (recomputed when a reload replaces the checks). */
  private upstream = new Map<string, Set<string>>();
  private readonly changes = new Map<string, number[]>();

  constructor(private readonly options: IncidentTrackerOptions) {
    this.useChecks(options.checks);
  }

  /**
   * A reload: tracks `next` from now on. The open incident of a check no longer configured is closed (nothing
   * will ever run it again to close it); its flapping history is forgotten, as is that of changed checks.
   */
  replaceChecks(next: readonly CheckConfig[], restart: ReadonlySet<string>): void {
    const now = this.options.clock.now();
    const { incidents, events, db } = this.options;
    this.useChecks(next);
    for (const name of restart) {
      this.changes.delete(name);
      if (this.byName.has(name)) continue;
      const open = incidents.openFor(name);
      if (!open) continue;
      db.transaction(() => {
        incidents.close(open.id, now);
        events.append(now, 'incident.closed', name, 'info', {
          incidentId: open.id,
          durationMs: now - open.openedAt,
          failures: open.failures,
          symptomOf: open.rootId,
          checkRemoved: true,
        });
      })();
    }
  }

  private useChecks(checks: readonly CheckConfig[]): void {
    this.byName = new Map(checks.map((c) => [c.name, c]));
    const dependsOnOf = (name: string) => this.byName.get(name)?.dependsOn ?? [];
    this.upstream = new Map(checks.map((c) => [c.name, upstreamOf(c.name, dependsOnOf)]));
  }

  onResult(outcome: RunOutcome): IncidentUpdate {
    const now = this.options.clock.now();
    const quiet = this.trackFlapping(outcome, now) || this.options.quiet(outcome.check, now);
    return outcome.result.ok ? this.recovered(outcome, now, quiet) : this.failed(outcome, now, quiet);
  }

  open(): IncidentRow[] {
    return this.options.incidents.allOpen();
  }

  recent(): IncidentRow[] {
    return this.options.incidents.closedSince(this.options.clock.now() - 24 * 3_600_000, 20);
  }

  ack(incidentId: number, by: Identity): boolean {
    const { incidents, events, clock } = this.options;
    const who = describeIdentity(by);
    if (!incidents.ack(incidentId, who, clock.now())) return false;
    const check = incidents.get(incidentId)!.checkName;
    events.append(clock.now(), 'incident.acked', check, 'info', { incidentId, by: who, channel: by.channel });
    this.options.acknowledged?.(check);
    return true;
  }

  mute(check: string, until: number | null, by: Identity): void {
    const { checkState, events, clock } = this.options;
    checkState.setMutedUntil(check, until);
    events.append(clock.now(), 'check.muted', check, 'info', { until: until ?? 0, by: describeIdentity(by), channel: by.channel });
  }

  /**
   * The failing dependency furthest upstream (whose own dependencies are fine), or null. `alsoDependsOn`: what
   * this run's result says it depends on besides the configured dependsOn (an alert's `dependsOnLabel`).
   */
  failingRootOf(check: CheckConfig, alsoDependsOn: readonly string[] = []): CheckConfig | null {
    const seen = new Set<string>([check.name]);
    let found: CheckConfig | null = null;
    const walk = (c: CheckConfig, extra: readonly string[] = []): void => {
      for (const depName of [...c.dependsOn, ...extra]) {
        if (seen.has(depName)) continue;
        seen.add(depName);
        const dep = this.byName.get(depName);
        if (!dep) continue;
        if (this.options.checkState.get(depName)?.status === 'failing') {
          const before = found;
          walk(dep);
          if (found === before) found = dep;
        } else {
          walk(dep);
        }
      }
    };
    walk(check, alsoDependsOn);
    return found;
  }

  private failed({ check, result, state }: RunOutcome, now: number, quiet: boolean): IncidentUpdate {
    const { incidents, events, db } = this.options;
    const open = incidents.openFor(check.name);
    if (open) {
      incidents.recordFailure(open.id, result.message);
      const root = open.rootId !== null ? incidents.get(open.rootId) : undefined;
      return { kind: 'continued', incident: { ...open, lastMessage: result.message, failures: open.failures + 1 }, rootCheck: root?.checkName ?? null };
    }
    if (state.consecutiveFailures < check.failAfter) return { kind: 'none' };

    const rootCheck = this.failingRootOf(check, reportedDependencies(result.details));
    const rootIncident = rootCheck ? this.topOf(incidents.openFor(rootCheck.name)) : undefined;
    const incident = db.transaction(() => {
      const opened = incidents.open({
        checkName: check.name,
        severity: check.severity,
        at: now,
        rootId: rootIncident?.id ?? null,
        message: result.message,
        failures: state.consecutiveFailures,
      });
      events.append(now, 'incident.opened', check.name, check.severity === 'critical' ? 'critical' : 'warning', {
        incidentId: opened.id,
        message: result.message,
        symptomOf: rootCheck?.name ?? null,
        rootIncidentId: rootIncident?.id ?? null,
      });
      if (!rootCheck) this.adoptDependents(opened, now);
      return opened;
    })();

    if (rootCheck) this.options.log.info({ check: check.name, root: rootCheck.name }, 'failure recorded as a symptom of a failing dependency');
    if (!quiet)
      this.options.notice({
        kind: 'opened',
        check: check.name,
        severity: check.severity,
        incidentId: incident.id,
        rootCheck: rootCheck?.name ?? null,
        message: result.message,
      });
    // A muted, silenced or flapping check's incident counts as announced: a restart must not announce it after all.
    else incidents.markNotified(incident.id, now);
    return { kind: 'opened', incident, rootCheck: rootCheck?.name ?? null };
  }

  private recovered({ check, result }: RunOutcome, now: number, quiet: boolean): IncidentUpdate {
    const { incidents, events } = this.options;
    const open = incidents.openFor(check.name);
    if (!open) return { kind: 'none' };
    const durationMs = now - open.openedAt;
    incidents.close(open.id, now);
    events.append(now, 'incident.closed', check.name, 'info', { incidentId: open.id, durationMs, failures: open.failures, symptomOf: open.rootId });
    if (!quiet) {
      const root = open.rootId !== null ? this.topOf(incidents.get(open.rootId)) : undefined;
      this.options.notice({
        kind: 'recovered',
        check: check.name,
        severity: check.severity,
        incidentId: open.id,
        rootCheck: root?.checkName ?? null,
        message: result.message,
        durationMs,
      });
    }
    return { kind: 'closed', incident: { ...open, closedAt: now }, durationMs };
  }

  /**
   * A dependency may be checked after its dependents in the same patrol:
   * their incidents opened as roots are re-filed as symptoms of this one.
   */
  private adoptDependents(root: IncidentRow, now: number): IncidentRow[] {
    const adopted: IncidentRow[] = [];
    for (const open of this.options.incidents.allOpen()) {
      if (open.id === root.id || open.rootId !== null) continue;
      if (this.upstream.get(open.checkName)?.has(root.checkName)) {
        this.options.incidents.setRoot(open.id, root.id);
        this.options.events.append(now, 'incident.reclassified', open.checkName, 'info', {
          incidentId: open.id,
          symptomOf: root.checkName,
          rootIncidentId: root.id,
        });
        adopted.push(open);
      }
    }
    return adopted;
  }

  private topOf(incident: IncidentRow | undefined): IncidentRow | undefined {
    let current = incident;
    for (let hops = 0; current?.rootId != null && hops < 50; hops++) current = this.options.incidents.get(current.rootId) ?? current;
    return current;
  }

  /** Records state changes; returns true while the check is flapping (alerts held back). */
  private trackFlapping({ check, state, previousStatus }: RunOutcome, now: number): boolean {
    const { maxChanges, windowMs } = this.options.flapping;
    const list = (this.changes.get(check.name) ?? []).filter((t) => now - t <= windowMs);
    const changed = previousStatus !== 'unknown' && previousStatus !== state.status;
    if (changed) list.push(now);
    this.changes.set(check.name, list);
    if (!state.flapping && list.length > maxChanges) {
      this.options.checkState.setFlapping(check.name, true);
      const quiet = this.options.flappingQuiet?.(check) ?? false;
      this.options.events.append(now, 'check.flapping', check.name, 'warning', { changes: list.length, windowMs, pushed: !quiet });
      if (!quiet)
        this.options.notify({
          severity: 'warning',
          title: `${check.name} is flapping: ${list.length} state changes in ${formatDuration(windowMs)}; its alerts are paused until it is stable`,
          body: `last result: ${state.lastMessage ?? ''}`,
        });
      return true;
    }
    if (state.flapping && list.length === 0) {
      this.options.checkState.setFlapping(check.name, false);
      this.options.events.append(now, 'check.stable', check.name, 'info', { status: state.status });
      if (!(this.options.flappingQuiet?.(check) ?? false))
        this.options.notify({ severity: 'info', title: `${check.name} is stable again (${state.status}): ${state.lastMessage ?? ''}` });
      return false;
    }
    return state.flapping;
  }
}

/** The checks a run's result says it depends on (details.dependsOn, as an alert check reports them from a label). */
function reportedDependencies(details: Record<string, unknown> | undefined): string[] {
  const value = details?.dependsOn;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
