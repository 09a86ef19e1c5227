import { join } from 'node:path';
import { describeIdentity, type Identity, type OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { Probe } from '../checks/types.js';
import type { CheckConfig } from '../checks/types.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Redactor } from '../log/redact.js';
import type { IncidentUpdate } from '../patrol/incidents.js';
import type { RunOutcome } from '../patrol/patrol.js';
import type { ActionStore } from '../store/actions.js';
import type { CheckStateStore } from '../store/check-state.js';
import type { Db } from '../store/database.js';
import type { EscalationStore } from '../store/escalations.js';
import type { EventLog, HealStepOutcome } from '../store/events.js';
import type { IncidentRow, IncidentStore } from '../store/incidents.js';
import { eventsForTask, fixHint, localDay, writeEscalationFile } from './escalation.js';
import { decideHeal } from './policy.js';
import { alertActions } from '../notify/actions.js';
import type { HealEnd } from '../notify/composer.js';
import type { HealStep } from './types.js';
import { sleep } from '../util/abort.js';
import { formatDuration } from '../util/duration.js';

/** What an operator's /heal did. */
export type HealNowResult =
  | { kind: 'unknown-check' }
  | { kind: 'no-steps' }
  /** A heal of this check is running already (the patrol's or another operator's). */
  | { kind: 'busy' }
  /** Nightshift stopped while the steps ran; they were abandoned. */
  | { kind: 'stopping' }
  | { kind: 'done'; steps: HealStepOutcome[] };

/** What /heal may do. */
export interface HealService {
  /** Runs a check's heal steps now, whatever the cooldown or caps say (a human decided). */
  healNow(check: string, by: Identity): Promise<HealNowResult>;
}

export interface RecoveryOptions {
  db: Db;
  dataDir: string;
  timezone: string;
  checks: readonly CheckConfig[];
  probes: ReadonlyMap<string, Probe>;
  /** Each check's heal steps, bound to their parameters. */
  steps: ReadonlyMap<string, HealStep[]>;
  checkState: CheckStateStore;
  incidents: IncidentStore;
  actions: ActionStore;
  escalations: EscalationStore;
  events: EventLog;
  clock: Clock;
  log: Logger;
  redactor: Redactor;
  healTimeoutMs: number;
  notify: (message: OutgoingMessage) => void;
  /** Asks the patrol to run a check now (to verify a heal). */
  requestRun: (check: string) => void;
  /** True while a check is muted or silenced: someone is working on it, so it is not healed. */
  quiet: (check: CheckConfig, at: number) => boolean;
  /** Why a heal of this check is suppressed (a regret flag), or null. */
  flagged?: (check: CheckConfig) => string | null;
  /** First backoff wait between heals that do not hold (default 1 s). */
  backoffBaseMs?: number;
  /** A heal attempt of an incident ended (the composer decides from it whether the incident is announced). */
  onHealEnded?: (end: HealEnd) => void;
  /** An incident was escalated (its alert is queued): nothing else about its opening needs to go out. */
  onEscalated?: (incidentId: number) => void;
  /** Every action recorded (the regret index scores them). */
  onAction?: (action: { id: number; at: number; category: string; target: string }) => void;
  /** Where an error of a heal running in the background goes (default: the log). */
  onError?: (err: unknown, what: string) => void;
}

/**
 * Level 1: heals failing root incidents with their configured steps, records
 * every attempt as an action, and escalates (alert + task file) when healing
 * does not hold, is capped, or cannot help. Heal steps run one at a time per
 * check; a check never has two heals in flight.
 */
export class Recovery implements HealService {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly skipNoted = new Map<string, string>();
  private readonly stopController = new AbortController();
  /** Failing checks whose heal waits until their dependencies have been checked since the failure began. */
  private readonly waitingOnDependencies = new Map<string, CheckConfig>();

  private byName: ReadonlyMap<string, CheckConfig>;
  /** Per check with a heal in flight: aborted when a reload changes or removes the check. */
  private readonly cancels = new Map<string, AbortController>();

  constructor(private readonly options: RecoveryOptions) {
    this.byName = new Map(options.checks.map((c) => [c.name, c]));
  }

  /**
   * A reload: heals the checks in `next` from now on. A heal in flight for a check named in `restart` (removed or
   * changed) is stopped (its backoff wait or running step aborted) and awaited first: it would act on a probe that
   * is about to be replaced.
   */
  async replaceChecks(next: readonly CheckConfig[], restart: ReadonlySet<string>): Promise<void> {
    for (const name of restart) this.cancels.get(name)?.abort(new Error('the check was changed or removed by a reload'));
    await Promise.allSettled([...restart].map((name) => this.inFlight.get(name) ?? Promise.resolve()));
    for (const name of restart) {
      this.waitingOnDependencies.delete(name);
      this.skipNoted.delete(name);
    }
    this.byName = new Map(next.map((c) => [c.name, c]));
  }

  /** The signal a heal of `check` stops at: Nightshift stopping, or a reload replacing the check. */
  private haltSignal(check: string): AbortSignal {
    let cancel = this.cancels.get(check);
    if (!cancel || cancel.signal.aborted) {
      cancel = new AbortController();
      this.cancels.set(check, cancel);
    }
    return AbortSignal.any([this.stopController.signal, cancel.signal]);
  }

  private healHeld(check: string, healedAt: number, now: number): void {
    this.options.checkState.setHeal(check, { lastHealAt: healedAt, healHeld: true, unheldHeals: 0 });
    this.options.events.append(now, 'heal.held', check, 'info', { healedAt, heldForMs: now - healedAt });
  }

  /** Called with every run and what it did to the check's incident. */
  onResult(outcome: RunOutcome, update: IncidentUpdate): void {
    const { check, result } = outcome;
    let { state } = outcome;
    const now = this.options.clock.now();
    this.wakeDependents(check.name);
    if (result.ok) {
      this.waitingOnDependencies.delete(check.name);
      // The heal held once the check stays healthy through a whole patrol interval after it.
      if (state.lastHealAt !== null && !state.healHeld && now - state.lastHealAt >= check.intervalMs) this.healHeld(check.name, state.lastHealAt, now);
      return;
    }
    if (update.kind !== 'opened' && update.kind !== 'continued') return;
    // A new failure, a whole interval after a heal that brought the check back, is a new crash, not that heal failing:
    // decided here, not by whether a healthy patrol happened to run before it (that races the next crash).
    if (
      update.kind === 'opened' &&
      state.lastHealAt !== null &&
      !state.healHeld &&
      state.lastOkAt !== null &&
      state.lastOkAt > state.lastHealAt &&
      now - state.lastHealAt >= check.intervalMs
    ) {
      this.healHeld(check.name, state.lastHealAt, now);
      state = this.options.checkState.get(check.name) ?? state;
    }
    if (this.inFlight.has(check.name) || this.stopController.signal.aborted) return;
    // A muted or silenced check is in a maintenance window: someone is working on it, so Nightshift keeps its hands off.
    if (this.options.quiet(check, now)) return;

    const { incident } = update;
    if (update.rootCheck === null && this.dependenciesUnchecked(check, state.lastChangeAt ?? now)) {
      // Its dependencies may be the real cause but have not been looked at since this failure began
      // (checks run concurrently): check them first, then decide. Healing a symptom is the mistake to avoid.
      this.waitingOnDependencies.set(check.name, check);
      for (const dep of check.dependsOn) this.options.requestRun(dep);
      return;
    }
    this.waitingOnDependencies.delete(check.name);
    const decision = decideHeal({
      now,
      steps: this.options.steps.get(check.name)?.length ?? 0,
      maxHeals: check.maxHeals,
      retryAfterEscalationMs: check.retryAfterEscalationMs,
      lastHealAt: state.lastHealAt,
      lastHealHeld: state.healHeld,
      unheldHeals: state.unheldHeals,
      attemptsInWindow: this.options.actions.healAttemptsFor(check.name, now - check.maxHeals.windowMs),
      restartLoop: result.details?.restartLoop === true,
      symptomOf: update.rootCheck,
      escalatedAt: incident.escalatedAt,
      flaggedReason: this.options.flagged?.(check) ?? null,
      ...(this.options.backoffBaseMs !== undefined ? { backoffBaseMs: this.options.backoffBaseMs } : {}),
    });
    if (decision.kind === 'skip') {
      const key = `${incident.id}:${decision.reason}`;
      if (this.skipNoted.get(check.name) !== key) {
        this.skipNoted.set(check.name, key);
        this.options.events.append(now, 'heal.skipped', check.name, 'info', { incidentId: incident.id, reason: decision.reason });
      }
      return;
    }
    if (decision.kind === 'escalate') {
      if (decision.skippedByFlag)
        this.options.events.append(now, 'heal.skipped', check.name, 'warning', { incidentId: incident.id, reason: decision.reason, byFlag: true });
      this.escalate(check, incident, decision.reason, outcome);
      return;
    }
    const run = this.heal(check, incident, decision.delayMs, decision.attempt, decision.slowRetry === true)
      // A heal whose bookkeeping could not be written (disk full) is reported, never an unhandled rejection.
      .catch((err: unknown) => {
        if (this.options.onError) this.options.onError(err, `heal:${check.name}`);
        else this.options.log.error({ err, check: check.name }, 'heal failed inside Nightshift');
      })
      .finally(() => this.inFlight.delete(check.name));
    this.inFlight.set(check.name, run);
  }

  private dependenciesUnchecked(check: CheckConfig, failingSince: number): boolean {
    return check.dependsOn.some((dep) => (this.options.checkState.get(dep)?.lastRunAt ?? -Infinity) < failingSince);
  }

  /** A dependency just ran: dependents that were waiting for it run again now. */
  private wakeDependents(name: string): void {
    for (const [waiting, check] of this.waitingOnDependencies) {
      if (check.dependsOn.includes(name) && !this.dependenciesUnchecked(check, this.options.checkState.get(waiting)?.lastChangeAt ?? 0)) {
        this.waitingOnDependencies.delete(waiting);
        this.options.requestRun(waiting);
      }
    }
  }

  /** Stops pending heals (a backoff wait or a running step) and waits for them. */
  async stop(): Promise<void> {
    this.stopController.abort(new Error('nightshift is stopping'));
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Waits for every heal in flight (tests and benchmarks). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async heal(check: CheckConfig, incident: IncidentRow, delayMs: number, attempt: number, slowRetry: boolean): Promise<void> {
    const { checkState, events, clock, log, db } = this.options;
    if (delayMs > 0) {
      log.info({ check: check.name, delayMs, attempt }, 'backing off before healing again');
      if (!(await sleep(delayMs, this.haltSignal(check.name)))) return;
    }
    const startedAt = clock.now();
    const previous = checkState.get(check.name);
    db.transaction(() => {
      checkState.setHeal(check.name, {
        lastHealAt: startedAt,
        healHeld: false,
        unheldHeals: previous?.healHeld || previous?.lastHealAt == null ? 1 : previous.unheldHeals + 1,
      });
      events.append(startedAt, 'heal.attempted', check.name, 'info', {
        incidentId: incident.id,
        steps: check.heal.map((s) => s.action),
        delayMs,
        attempt,
        ...(slowRetry ? { slowRetry } : {}),
      });
    })();
    const outcomes = await this.runSteps(check, startedAt, `incident:${incident.id}`, incident.id, attempt);
    if (!outcomes) return;
    const ok = outcomes.every((o) => o.ok);
    events.append(clock.now(), ok ? 'heal.succeeded' : 'heal.failed', check.name, ok ? 'info' : 'warning', {
      incidentId: incident.id,
      steps: outcomes,
      durationMs: clock.now() - startedAt,
    });
    log.info({ check: check.name, incident: incident.id, ok, steps: outcomes }, ok ? 'healed' : 'heal failed');
    const failed = ok ? undefined : outcomes.at(-1)!;
    try {
      this.options.onHealEnded?.({
        incidentId: incident.id,
        check: check.name,
        at: clock.now(),
        ok,
        attempt,
        ...(failed ? { failed: { action: failed.action, message: failed.message } } : {}),
      });
    } catch (err) {
      log.error({ err, check: check.name }, 'heal-ended hook failed');
    }
    // Verify at once: the next run says whether the heal worked (and, a patrol later, whether it held).
    this.options.requestRun(check.name);
  }

  /**
   * An operator's /heal: the steps run now, whatever the cooldown or caps
   * say (a human decided), recorded as actions triggered by that person.
   */
  async healNow(checkName: string, by: Identity): Promise<HealNowResult> {
    const check = this.byName.get(checkName);
    if (!check) return { kind: 'unknown-check' };
    const who = describeIdentity(by);
    this.options.events.append(this.options.clock.now(), 'heal.requested', check.name, 'info', { by: who, channel: by.channel });
    if (check.heal.length === 0) return { kind: 'no-steps' };
    if (this.inFlight.has(check.name)) return { kind: 'busy' };
    const startedAt = this.options.clock.now();
    const incidentId = this.options.incidents.openFor(check.name)?.id ?? null;
    const run = this.runSteps(check, startedAt, `operator:${who}`, incidentId, 0);
    this.inFlight.set(
      check.name,
      run.then(() => undefined),
    );
    try {
      const steps = await run;
      if (!steps) return { kind: 'stopping' };
      this.options.requestRun(check.name);
      return { kind: 'done', steps };
    } finally {
      this.inFlight.delete(check.name);
    }
  }

  /** Runs a check's steps in order, one action row each, stopping at the first failure; undefined when stopped. */
  private async runSteps(
    check: CheckConfig,
    startedAt: number,
    trigger: string,
    incidentId: number | null,
    attempt: number,
  ): Promise<HealStepOutcome[] | undefined> {
    const { clock } = this.options;
    const steps = this.options.steps.get(check.name) ?? [];
    const probe = this.options.probes.get(check.name);
    const outcomes: HealStepOutcome[] = [];
    const halt = this.haltSignal(check.name);
    for (const [index, step] of steps.entries()) {
      if (halt.aborted) return undefined;
      const action = check.heal[index]!.action;
      const stepStarted = performance.now();
      const signal = AbortSignal.any([halt, AbortSignal.timeout(this.options.healTimeoutMs)]);
      let result;
      try {
        result = probe ? await step.run({ check, probe }, { signal, now: () => clock.now() }) : { ok: false, message: 'no probe for this check' };
        if (signal.aborted && result.ok === false && halt.aborted) return undefined;
      } catch (err) {
        result = { ok: false, message: signal.aborted ? `abandoned after ${Math.round(this.options.healTimeoutMs / 1000)}s` : errorMessage(err) };
      }
      const durationMs = Math.round(performance.now() - stepStarted);
      // A step's output (a command's stderr) is stored and sent: secrets are removed before either.
      result = this.options.redactor.redactValue(result);
      outcomes.push({ action, ok: result.ok, message: result.message, durationMs });
      this.recordAction({
        at: startedAt,
        category: action,
        target: check.name,
        trigger,
        incidentId,
        result: result.ok ? 'ok' : 'failed',
        message: result.message,
        details: { ...result.details, step: index + 1, durationMs, attempt },
      });
      if (!result.ok) break;
    }
    return outcomes;
  }

  private escalate(check: CheckConfig, incident: IncidentRow, reason: string, outcome: RunOutcome): void {
    const { incidents, escalations, events, clock, db, dataDir, timezone, redactor } = this.options;
    const now = clock.now();
    const day = localDay(now, timezone);
    const dir = join(dataDir, 'escalations');
    const plannedFile = join(dir, `${day}-${check.name}.json`);
    const claimed = db.transaction(() => {
      if (!incidents.markEscalated(incident.id, now)) return null;
      const fileClaimed = escalations.claim({ at: now, checkName: check.name, incidentId: incident.id, day, reason, file: plannedFile });
      this.recordAction({
        at: now,
        category: 'escalate',
        target: check.name,
        trigger: `incident:${incident.id}`,
        incidentId: incident.id,
        result: 'ok',
        message: reason,
        details: {},
      });
      events.append(now, 'escalated', check.name, 'critical', {
        incidentId: incident.id,
        reason,
        file: fileClaimed ? plannedFile : (escalations.fileFor(check.name, day) ?? null),
      });
      return { fileClaimed };
    })();
    if (!claimed) return;
    let fileNote = `already escalated today: ${escalations.fileFor(check.name, day) ?? plannedFile}`;
    if (claimed.fileClaimed) {
      try {
        writeEscalationFile(
          dir,
          day,
          {
            title: `${check.name} needs a human: ${reason.split(':')[0]}`,
            description: `${check.name} (${check.kind}, ${check.severity}) has been failing since ${new Date(incident.openedAt).toISOString()} (incident #${incident.id}, ${incident.failures} failed runs). Nightshift escalated it: ${reason}. ${retryNote(check)} Last result: ${outcome.result.message}`,
            fix_hint: fixHint(check, reason, outcome.result.details ?? null),
            severity: check.severity === 'critical' ? 'critical' : 'warning',
            created_at: new Date(now).toISOString(),
            check: { name: check.name, kind: check.kind, severity: check.severity, heal: check.heal.map((s) => s.action) },
            incident_id: incident.id,
            reason,
            last_result: { message: outcome.result.message, details: outcome.result.details ?? null },
            recent_events: eventsForTask(events.forSubject(check.name, 15)),
          },
          redactor,
        );
        fileNote = `task file: ${plannedFile}`;
      } catch (err) {
        this.options.log.error({ err, check: check.name }, 'could not write the escalation file');
        fileNote = `the task file could not be written (${errorMessage(err)})`;
      }
    }
    this.options.log.warn({ check: check.name, incident: incident.id, reason }, 'escalated to the operator');
    this.options.onEscalated?.(incident.id);
    this.options.notify({
      severity: 'critical',
      kind: 'escalation',
      actions: alertActions(incident.id, check.name, check.heal.length > 0),
      title: `${check.name} needs you: ${reason}`,
      body: `Incident #${incident.id}. ${retryNote(check)} Last result: ${outcome.result.message}. ${fileNote}`,
    });
  }

  private recordAction(action: Parameters<ActionStore['record']>[0]): void {
    const id = this.options.actions.record(action);
    try {
      this.options.onAction?.({ id, at: action.at, category: action.category, target: action.target });
    } catch (err) {
      this.options.log.error({ err }, 'scoring hook failed');
    }
  }
}

/** What happens to the heals after an escalation, as the alert and the task file say it. */
function retryNote(check: CheckConfig): string {
  return check.retryAfterEscalationMs === null || check.heal.length === 0
    ? 'Nightshift does not heal it again (retryAfterEscalation: off); the incident closes by itself when it recovers.'
    : `Nightshift still retries the heal every ${formatDuration(check.retryAfterEscalationMs)} until it recovers.`;
}
