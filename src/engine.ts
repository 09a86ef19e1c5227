import type { CommandServices } from './bot/command.js';
import { ChangeWatcher } from './changes/watcher.js';
import { createAuthorizer } from './chat/authorize.js';
import type { Identity, OutgoingMessage } from './chat/channel.js';
import { RefusalGate } from './chat/refusals.js';
import type { Role } from './chat/roles.js';
import { createProbe } from './checks/index.js';
import type { CheckConfig, CheckEnvironment, Probe, ProbeEventType } from './checks/types.js';
import type { Clock } from './clock.js';
import { childEnvironment } from './config/child-env.js';
import type { CheckConfig as ConfiguredCheck, Config } from './config/schema.js';
import { describeDiff, diffConfig, type ConfigDiff } from './config/diff.js';
import { Consent } from './consent/consent.js';
import { ConsentQuestions } from './consent/questions.js';
import { Diagnoser } from './diagnose/diagnoser.js';
import { Proposals } from './diagnose/proposals.js';
import { createHealStep } from './heal/index.js';
import { Recovery } from './heal/recovery.js';
import type { HealEnvironment, HealStep } from './heal/types.js';
import { Metrics } from './http/metrics.js';
import type { Logger } from './log/logger.js';
import type { Redactor } from './log/redact.js';
import { basename } from 'node:path';
import { Composer } from './notify/composer.js';
import type { Send } from './notify/outbox.js';
import { IncidentTracker } from './patrol/incidents.js';
import { Patrol, type RunOutcome } from './patrol/patrol.js';
import { buildSummary, type StatusSummary } from './patrol/summary.js';
import { ActionTokens, actionSecret } from './questions/action-tokens.js';
import { answerByButton, commandByButton, type CommandButtonDeps } from './questions/buttons.js';
import { Questions } from './questions/questions.js';
import { RegretIndex } from './regret/regret.js';
import { Repairer } from './repair/repairer.js';
import { RepairStore } from './store/repairs.js';
import { categoryLines } from './regret/wording.js';
import { Briefings } from './report/briefing.js';
import { createSelfProbe } from './self-probe.js';
import { ActionStore } from './store/actions.js';
import { QuestionStore } from './store/questions.js';
import { SwitchStore, UsedTokenStore } from './store/chat-state.js';
import { CheckStateStore, isMuted } from './store/check-state.js';
import type { Db } from './store/database.js';
import { DiagnosisStore } from './store/diagnoses.js';
import { EscalationStore } from './store/escalations.js';
import type { EventContexts, EventLog } from './store/events.js';
import { AlertStore } from './store/alerts.js';
import { AgentReports } from './ingest/agents.js';
import { AlertReceiver } from './ingest/alertmanager.js';
import type { StoreHealth } from './store/health.js';
import { HeartbeatStore } from './store/heartbeats.js';
import { IncidentStore } from './store/incidents.js';
import { KeyValueStore } from './store/kv.js';
import { ProbeStateStore } from './store/probe-state.js';
import { RegretStore } from './store/regret.js';
import { SilenceStore } from './store/silences.js';
import { Silences } from './silence/silences.js';
import { StatusAlerts } from './watchdog/status-alerts.js';

const DAY_MS = 86_400_000;
/** How long an alert's buttons on a push keep working. */
const ACTION_TTL_MS = DAY_MS;
/** A stranger's refusals: one answered and recorded per person per window, at most this many per channel. */
const REFUSAL_WINDOW_MS = 10 * 60_000;
const REFUSALS_PER_CHANNEL = 20;
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export interface EngineOptions {
  config: Config;
  db: Db;
  events: EventLog;
  clock: Clock;
  log: Logger;
  redactor: Redactor;
  /** Queues a message on the chat channels (the outbox). */
  send: Send;
  /** Base URL of the answer buttons in pushes: Nightshift's HTTP server as the operator's phone reaches it. */
  publicUrl: string;
  /** When this run of the bot started (uptime, staleness, the briefing). */
  startedAt: number;
  /** A check's probe; by default its kind's own. Tests stand a steered service in here: the engine around it is the real one. */
  probeFor?: (check: CheckConfig, env: CheckEnvironment) => Probe;
  /** The store's health: writers report write failures there (a full disk); absent, they are logged. */
  health?: StoreHealth;
  /** First wait between heals that do not hold (default 1 s; tests shorten it). */
  healBackoffBaseMs?: number;
}

/**
 * Everything that patrols, heals, judges and explains, wired once: the
 * patrol and its one result pipeline (metrics, incidents, regret, recovery,
 * diagnosis), the questions asked on chat and the consent they ask for, the
 * proposals, the briefing. The app, the test helpers and the benches build
 * it the same way; the app adds the process around it (lock, database,
 * HTTP, channels).
 */
export class Engine {
  readonly checkState: CheckStateStore;
  readonly incidents: IncidentStore;
  readonly actions: ActionStore;
  readonly heartbeats: HeartbeatStore;
  /** Alerts received from Alertmanager (POST /alertmanager); `alert` checks read them. */
  readonly alerts: AlertStore;
  readonly kv: KeyValueStore;
  readonly probes = new Map<string, Probe>();
  readonly patrol: Patrol;
  readonly composer: Composer;
  /** Silences from chat and the config's maintenance windows. */
  readonly silences: Silences;
  readonly tracker: IncidentTracker;
  readonly regret: RegretIndex;
  /** Agents' own actions and errors (POST /events). */
  readonly agentReports: AgentReports;
  /** Alertmanager's deliveries (POST /alertmanager). */
  readonly alertReceiver: AlertReceiver;
  readonly recovery: Recovery;
  readonly consent: Consent;
  readonly questions: Questions;
  readonly proposals: Proposals;
  readonly diagnoser: Diagnoser;
  /** Level 3: approved fixes applied, verified, committed or rolled back. */
  readonly repairer: Repairer;
  readonly briefings: Briefings;
  readonly metrics: Metrics;
  /** Pushes the summary turning DOWN and checks going stale, and their clearing, once per transition. */
  readonly statusAlerts: StatusAlerts;
  /** Records what changed (git HEAD, lockfiles, env files, the config, model lists) as `change` events. */
  readonly changes: ChangeWatcher;
  /** The role a person holds on their channel, from the allow-lists (fail closed). */
  readonly roleOf: (from: Identity) => Role | null;
  /** A stranger's refusals are answered and recorded once per window; the rest are counted. */
  readonly refusals: RefusalGate;
  /** What chat commands may use, one group per feature. */
  readonly services: CommandServices;
  private readonly tokens: ActionTokens;
  private readonly selfProbe: ReturnType<typeof createSelfProbe>;
  /** The checks patrolled now, by name: the configuration's at start, then each reload's (`config.checks` in order). */
  private checksByName: Map<string, ConfiguredCheck>;
  /** Each check's heal steps (Recovery reads this map; a reload replaces entries). */
  private readonly steps = new Map<string, HealStep[]>();
  private readonly probeStates: ProbeStateStore;
  private readonly healEnv: HealEnvironment;
  /** The configuration whose checks are in force; the others take effect at a restart. */
  private config: Config;
  /** The last reload: reloads run one at a time. */
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: EngineOptions) {
    const { config, db, events, clock, log, redactor } = options;
    // Alert buttons get their ntfy URLs here, on the way out: every message the engine sends passes this.
    const send: Send = (message, sendOptions) => options.send(this.withActionUrls(message), sendOptions);
    const now = () => clock.now();
    const reportError = (err: unknown, what: string): void => {
      if (!options.health?.failed(err, what)) log.error({ err, what }, 'background work failed (kept running)');
    };
    const notify = (message: Parameters<Send>[0]) => send(message);
    this.config = config;
    this.checksByName = new Map(config.checks.map((c) => [c.name, c]));
    this.probeStates = new ProbeStateStore(db);
    // Probe and heal events go straight to the log (typed there under the same names); the log redacts and bounds them.
    this.healEnv = {
      log,
      dataDir: config.dataDir,
      now,
      childEnv: childEnvironment,
      record: (type, subject, severity, context) => this.record(type, subject, severity, context),
    };
    this.checkState = new CheckStateStore(db);
    this.incidents = new IncidentStore(db);
    this.actions = new ActionStore(db);
    this.heartbeats = new HeartbeatStore(db);
    this.alerts = new AlertStore(db);
    this.kv = new KeyValueStore(db);
    this.selfProbe = createSelfProbe(this.kv, now);
    this.tokens = new ActionTokens(actionSecret(this.kv), new UsedTokenStore(db));

    this.patrol = new Patrol({
      checks: config.checks,
      probes: this.probes,
      db,
      checkState: this.checkState,
      events,
      clock,
      log,
      intervalMs: config.patrol.intervalMs,
      concurrency: config.patrol.concurrency,
      redactor,
      ...(options.health ? { health: options.health } : {}),
    });
    for (const check of config.checks) this.createProbeAndSteps(check);

    this.silences = new Silences({
      store: new SilenceStore(db),
      events,
      clock,
      checks: config.checks,
      windows: config.maintenance,
      timezone: config.timezone,
    });
    const heals = (name: string) => (this.steps.get(name)?.length ?? 0) > 0;
    const maxHealSteps = Math.max(1, ...config.checks.map((c) => c.heal.length));
    this.composer = new Composer({
      clock,
      incidents: this.incidents,
      events,
      groupWaitMs: config.chat.groupWait,
      stormThreshold: config.chat.stormThreshold,
      repeatIntervalMs: config.chat.repeatInterval,
      rule: {
        healed: config.chat.notify.healed,
        graceMs: config.chat.notify.grace,
        optional: config.chat.notify.optional,
        // Long enough for the longest backoff wait and every step of a heal to time out, then the grace.
        maxHoldMs: 60_000 + maxHealSteps * config.patrol.healTimeoutMs + config.chat.notify.grace,
      },
      heals,
      quiet: (name, at) => {
        const check = this.checksByName.get(name);
        return check !== undefined && this.isQuiet(check, at);
      },
      escalateAfterMs: config.chat.escalateAfter === 'off' ? null : config.chat.escalateAfter,
      escalateTo: config.chat.escalateTo,
      send: (message, key, channels) => send(message, { key, ...(channels ? { channels } : {}) }),
      onError: reportError,
    });
    this.tracker = new IncidentTracker({
      db,
      checks: config.checks,
      incidents: this.incidents,
      checkState: this.checkState,
      events,
      clock,
      log,
      flapping: config.patrol.flapping,
      quiet: (check, at) => this.isQuiet(check, at),
      flappingQuiet: (check) => this.composer.briefingOnlyFlapping(check.name, check.severity),
      notify,
      notice: (n) => this.composer.notice(n),
      acknowledged: (name) => this.acknowledgeProbe(name),
    });
    this.regret = new RegretIndex({ db, store: new RegretStore(db), events, clock, log, checks: config.checks, notify });
    this.agentReports = new AgentReports({
      db,
      events,
      actions: this.actions,
      regret: this.regret,
      clock,
      log,
      checks: new Set(config.checks.map((c) => c.name)),
    });
    this.alertReceiver = new AlertReceiver({ alerts: this.alerts, events, clock, log, notify });
    this.recovery = new Recovery({
      db,
      dataDir: config.dataDir,
      timezone: config.timezone,
      checks: config.checks,
      probes: this.probes,
      steps: this.steps,
      checkState: this.checkState,
      incidents: this.incidents,
      actions: this.actions,
      escalations: new EscalationStore(db),
      events,
      clock,
      log,
      redactor,
      healTimeoutMs: config.patrol.healTimeoutMs,
      notify,
      requestRun: (name) => this.patrol.requestRun(name),
      quiet: (check, at) => this.isQuiet(check, at),
      flagged: (check) => this.regret.flaggedReason(check),
      onAction: (action) => this.regret.onAction(action),
      onHealEnded: (end) => {
        this.composer.healEnded(end);
        this.diagnoser.healEnded(end);
      },
      onEscalated: (incidentId) => this.composer.escalated(incidentId),
      onError: reportError,
      ...(options.healBackoffBaseMs !== undefined ? { backoffBaseMs: options.healBackoffBaseMs } : {}),
    });

    this.roleOf = createAuthorizer(config.chat, config.channels);
    this.refusals = new RefusalGate({
      windowMs: REFUSAL_WINDOW_MS,
      perChannel: REFUSALS_PER_CHANNEL,
      record: (from, what, suppressed) =>
        events.append(clock.now(), 'chat.refused', from.channel, 'warning', {
          channel: from.channel,
          userId: from.userId,
          what,
          ...(suppressed > 0 ? { suppressed } : {}),
        }),
    });
    const questionStore = new QuestionStore(db);
    this.questions = new Questions({
      store: questionStore,
      events,
      clock,
      log,
      tokens: this.tokens,
      publicUrl: options.publicUrl,
      defaultTtlMs: config.chat.questionTtl,
      send: (message, key) => send(message, { key }),
      roleOf: this.roleOf,
      onRefused: (from, what) => this.refusals.refuse(from, what, clock.now()),
    });
    this.consent = new Consent(db, new SwitchStore(db), events, clock);
    const diagnoses = new DiagnosisStore(db);
    const repairs = new RepairStore(db);
    this.repairer = new Repairer({
      db,
      store: repairs,
      proposals: diagnoses,
      events,
      clock,
      log,
      config: config.repair,
      dataDir: config.dataDir,
      env: () => childEnvironment(),
      autoRepairGranted: () => this.consent.granted('auto-repair'),
      flagged: (target) => this.regret.flagFor('repair', target),
      surgeryEnabled: () => this.consent.surgery().enabled,
      restart: (name, signal) => {
        const probe = this.probes.get(name);
        return probe?.restart ? probe.restart({ signal, now }) : undefined;
      },
      requestRun: (name) => this.patrol.requestRun(name),
      score: (target, score, note, repairId) => {
        const at = clock.now();
        const actionId = this.actions.record({
          at,
          category: 'repair',
          target,
          trigger: 'repair',
          incidentId: null,
          result: score > 0 ? 'ok' : 'failed',
          message: note,
          details: { repairId },
        });
        this.regret.scoreAction(actionId, score, note);
      },
      notify,
    });
    this.consent.onSurgeryChanged((enabled, by) => {
      if (!enabled) this.repairer.surgeryDisabled(by);
    });
    this.proposals = new Proposals({
      db,
      store: diagnoses,
      questions: this.questions,
      events,
      clock,
      ttlMs: config.diagnose.proposalTtl,
      notify,
      vet: (fix, signature) => this.repairer.vet(fix, signature),
      onApproved: (proposal) => this.repairer.approved(proposal),
    });
    this.diagnoser = new Diagnoser({
      db,
      dataDir: config.dataDir,
      checkState: this.checkState,
      checks: config.checks,
      events,
      incidents: this.incidents,
      store: diagnoses,
      consent: this.consent,
      consentQuestions: new ConsentQuestions(this.consent, this.questions, config.ollama?.model ?? null),
      proposals: this.proposals,
      repairTargets: config.repair.targets.map((t) => ({ name: t.name, checks: t.checks })),
      clock,
      log,
      redactor,
      timezone: config.timezone,
      notify,
      llm: config.ollama ? { ...config.ollama, timeoutMs: config.diagnose.llmTimeout, maxPromptChars: config.diagnose.maxPromptChars } : null,
      recurrence: { count: config.diagnose.recurrence.count, windowMs: config.diagnose.recurrence.window },
      askAnalysisAfter: config.diagnose.askAfter,
      lookbackMs: config.diagnose.lookback,
      weekly: config.diagnose.weekly === 'off' ? null : config.diagnose.weekly,
    });
    this.briefings = new Briefings({
      db,
      kv: this.kv,
      incidents: this.incidents,
      actions: this.actions,
      questions: questionStore,
      clock,
      log,
      timezone: config.timezone,
      at: config.briefing.at,
      weeklyDay: config.briefing.weekly === 'off' ? null : WEEKDAYS.indexOf(config.briefing.weekly),
      startedAt: options.startedAt,
      summary: () => this.summary(),
      regretLines: () => categoryLines(this.regret.categories()),
      send: (message, key) => send(message, { key }),
      onError: reportError,
    });
    this.metrics = new Metrics(
      () => this.summary(),
      () => this.actions.healAttemptsByTarget(clock.now() - DAY_MS),
    );
    this.patrol.on('result', (outcome) => this.onResult(outcome));
    this.statusAlerts = new StatusAlerts({
      summary: () => this.summary(),
      send: (message, key) => send(message, { key }),
      everyMs: config.patrol.intervalMs,
      onError: reportError,
    });
    this.changes = new ChangeWatcher({ config, db, events, kv: this.kv, clock, log, env: () => childEnvironment() });

    this.services = {
      status: { summary: () => this.summary(), checkNames: () => this.config.checks.map((c) => c.name) },
      incidents: this.tracker,
      heal: this.recovery,
      consent: this.consent,
      diagnosis: this.diagnoser,
      regret: this.regret,
      briefing: this.briefings,
      silences: this.silences,
      repair: this.repairer,
    };
  }

  /**
   * The one result pipeline: every committed check run is counted, turned
   * into incidents, judges earlier heals, may start a heal, and may trigger
   * a diagnosis, in that order (each step reads what the one before did).
   */
  private onResult(outcome: RunOutcome): void {
    this.metrics.countRun(outcome.check.name, outcome.result.ok);
    const update = this.tracker.onResult(outcome);
    this.regret.onResult(outcome);
    this.recovery.onResult(outcome, update);
    this.repairer.onResult(outcome);
    this.diagnoser.onResult(outcome, update);
    this.composer.review();
  }

  /**
   * Muted (/mute), silenced (/silence, a maintenance window), or its target
   * under repair (the repair restarts and judges it): it alerts, reminds and
   * heals nobody.
   */
  private isQuiet(check: CheckConfig, at: number): boolean {
    return isMuted(this.checkState.get(check.name), at) || this.silences.silencedBy(check, at) !== null || this.repairer.busy(check.name);
  }

  /** The one-glance status, from the store and the patrol's heartbeat. */
  summary(): StatusSummary {
    const now = this.options.clock.now();
    return buildSummary({
      now,
      startedAt: this.options.startedAt,
      lastPatrolAt: this.patrol.lastTickAt,
      patrolAlive: this.patrol.isAlive(),
      checks: this.config.checks,
      states: this.checkState.all(),
      openIncidents: this.incidents.allOpen(),
      heals24h: this.actions.healAttemptsSince(now - DAY_MS),
      escalations24h: this.actions.countCategory('escalate', now - DAY_MS),
    });
  }

  /** Answers a question from a signed button token (the HTTP server's /answer route). */
  answerButton(token: string): { status: number; text: string } {
    return answerByButton(token, {
      tokens: this.tokens,
      questions: this.questions,
      clock: this.options.clock,
      send: this.options.send,
      redact: (text) => this.options.redactor.redact(text),
    });
  }

  /** Runs an alert button's command from a signed token (the HTTP server's /act route), through `dispatch` as `from`. */
  commandButton(token: string, dispatch: CommandButtonDeps['dispatch'], from: Identity): Promise<{ status: number; text: string }> {
    return commandByButton(token, {
      tokens: this.tokens,
      clock: this.options.clock,
      dispatch,
      from,
      send: this.options.send,
      redact: (text) => this.options.redactor.redact(text),
    });
  }

  /** A message with alert buttons gets one signed single-use URL per button (ntfy `http` actions), valid for a day. */
  private withActionUrls(message: OutgoingMessage): OutgoingMessage {
    if (!message.actions?.length || message.actionUrls) return message;
    const expiresAt = this.options.clock.now() + ACTION_TTL_MS;
    const actionUrls = message.actions.map((a) => `${this.options.publicUrl}/act/${this.tokens.mintCommand({ command: a.command }, expiresAt)}`);
    return { ...message, actionUrls };
  }

  /** Expires overdue questions, and the proposals they asked about. */
  expireQuestions(): void {
    this.proposals.expire(this.questions.expire().map((q) => q.id));
  }

  /**
   * Starts probes (supervised children are spawned), the composer (incidents
   * committed but never announced are announced), the regret index, the
   * diagnoser's schedule, then the patrol and the change watcher, and
   * after the patrol's first wake the briefing (so a briefing sent on start
   * reports a live patrol), then the status alerts (DOWN and stale pushed).
   */
  async start(): Promise<void> {
    for (const [name, probe] of this.probes) {
      try {
        await probe.start?.();
      } catch (err) {
        // Fail-open: a probe that cannot start fails its runs; the patrol records why.
        this.options.log.error({ err, check: name }, 'check failed to start');
      }
    }
    // A repair the previous run left half done is finished or rolled back before anything judges its checks.
    await this.repairer.resume();
    this.composer.start();
    this.diagnoser.start();
    this.regret.start();
    this.patrol.start();
    this.changes.start();
    this.briefings.start();
    this.statusAlerts.start();
  }

  /** Stops in reverse: no new heal or run, then schedules, then what was grouped goes to the outbox, then the probes. */
  async stop(): Promise<void> {
    // First: a patrol stopped on purpose is not a stall to announce.
    this.statusAlerts.stop();
    await this.changes.stop();
    await this.recovery.stop();
    // Before the patrol: a repair under way is rolled back, and its restore restarts its checks' processes.
    await this.repairer.stop();
    await this.patrol.stop();
    await this.diagnoser.stop();
    await this.briefings.stop();
    // Whatever was grouped but not yet sent goes into the outbox; undelivered rows wait for the next start.
    this.composer.stop();
    // An async wrapper: a dispose() that returns nothing, or throws, still settles, so every probe is asked to let go.
    await Promise.allSettled([...this.probes.values()].map(async (p) => p.dispose?.()));
    this.selfProbe.close();
  }

  /** Tells a probe its incident was acknowledged, then runs it at once: a drift check that accepts the change recovers now. */
  private acknowledgeProbe(name: string): void {
    const probe = this.probes.get(name);
    if (!probe?.acknowledge) return;
    Promise.resolve()
      .then(() => probe.acknowledge!())
      .then(
        () => this.patrol.requestRun(name),
        (err: unknown) => this.options.log.error({ err, check: name }, 'a probe could not accept the acknowledgement'),
      );
  }

  /** Waits for every heal in flight (tests and benchmarks). */
  settled(): Promise<void> {
    return this.recovery.settled();
  }

  private record(type: ProbeEventType, subject: string, severity: 'info' | 'warning' | 'critical', context: Record<string, unknown>): void {
    this.options.events.append(this.options.clock.now(), type, subject, severity, context as EventContexts[typeof type]);
  }

  /** Builds a check's probe and heal steps into the maps the patrol and the recovery read. */
  private createProbeAndSteps(check: ConfiguredCheck): void {
    const { config, clock, log } = this.options;
    const env: CheckEnvironment = {
      checkName: check.name,
      log: log.child({ check: check.name }),
      dataDir: config.dataDir,
      now: () => clock.now(),
      self: this.selfProbe,
      requestRun: () => this.patrol.requestRun(check.name),
      state: this.probeStates.for(check.name),
      heartbeats: this.heartbeats,
      alerts: this.alerts,
      childEnv: childEnvironment,
      record: (type, severity, context) => this.record(type, check.name, severity, context),
    };
    this.probes.set(check.name, this.options.probeFor ? this.options.probeFor(check, env) : createProbe(check.kind, check.params, env));
    this.steps.set(
      check.name,
      check.heal.map((step) => createHealStep(step.action, step.params, this.healEnv)),
    );
  }

  /**
   * Applies a new configuration's checks while running (SIGHUP, `nightshift reload`): added checks start, removed
   * ones stop (a supervised child is stopped with its probe), changed ones restart alone; the others, and their
   * children, are not touched. Other settings that differ are reported as needing a restart. Reloads run one at a
   * time; `next` has been validated whole by the caller.
   */
  reload(next: Config): Promise<ReloadOutcome> {
    const run = this.reloading.then(() => this.applyReload(next));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async applyReload(next: Config): Promise<ReloadOutcome> {
    const { clock, log, events } = this.options;
    const startedAt = clock.now();
    const diff = diffConfig(this.config, next);
    const restart = new Set([...diff.removed, ...diff.changed]);
    // Unchanged checks keep their config objects: a run in flight across the reload is still theirs and is recorded.
    const unchanged = new Set(diff.unchanged);
    const checks = next.checks.map((c) => (unchanged.has(c.name) ? this.checksByName.get(c.name)! : c));

    // Nothing may act on a probe about to go: its runs and heals stop first, then the probe lets go of its child.
    await this.patrol.retire(restart);
    await this.recovery.replaceChecks(checks, restart);
    await Promise.allSettled(
      [...restart].map(async (name) => {
        const probe = this.probes.get(name);
        this.probes.delete(name);
        this.steps.delete(name);
        await probe?.dispose?.();
      }),
    );
    for (const name of diff.removed) this.metrics.forgetCheck(name);

    this.config = { ...next, checks };
    this.checksByName = new Map(checks.map((c) => [c.name, c]));
    this.tracker.replaceChecks(checks, restart);
    this.regret.replaceChecks(checks);
    this.diagnoser.replaceChecks(checks);
    this.silences.replaceChecks(checks);
    this.agentReports.replaceChecks(new Set(checks.map((c) => c.name)));

    const fresh = checks.filter((c) => !this.probes.has(c.name));
    for (const check of fresh) this.createProbeAndSteps(check);
    for (const check of fresh) {
      try {
        await this.probes.get(check.name)!.start?.();
      } catch (err) {
        // As at start: a probe that cannot start fails its runs, and the patrol records why.
        log.error({ err, check: check.name }, 'check failed to start');
      }
    }
    this.patrol.replaceChecks(checks);

    const summary = describeDiff(diff);
    const durationMs = clock.now() - startedAt;
    events.append(clock.now(), 'config.reloaded', 'config', 'info', {
      config: next.source,
      added: diff.added,
      removed: diff.removed,
      changed: diff.changed,
      needRestart: diff.needRestart,
      summary,
      durationMs,
    });
    if (restart.size > 0 || diff.added.length > 0 || diff.needRestart.length > 0)
      // A change like any other: the causal analysis names it as a latent cause of what fails next.
      events.append(startedAt, 'change', 'config', 'info', {
        source: 'config',
        summary: `reloaded ${basename(next.source)}: ${summary}`,
        checks: [...diff.added, ...diff.changed],
        path: next.source,
        detectedAt: startedAt,
      });
    log.info({ added: diff.added, removed: diff.removed, changed: diff.changed, needRestart: diff.needRestart, durationMs }, 'configuration reloaded');
    return { diff, summary, durationMs };
  }

  /** A reload that found the file invalid changed nothing: recorded, and the operator told why. */
  reloadRefused(source: string, problems: string): void {
    this.options.events.append(this.options.clock.now(), 'config.reload_failed', 'config', 'warning', { config: source, problems });
    this.options.log.error({ config: source, problems }, 'configuration reload refused; nothing changed');
  }
}

/** What a reload did. */
export interface ReloadOutcome {
  diff: ConfigDiff;
  /** One line: "check api added; check web changed". */
  summary: string;
  durationMs: number;
}
