import { join } from 'node:path';
import { ConsoleChannel } from '../adapters/console.js';
import { commands } from '../commands/index.js';
import { describeIdentity, type ChatChannel, type CommandSummary, type Inbound, type OutgoingMessage } from './chat/channel.js';
import { createAuthorizer } from './chat/authorize.js';
import { RefusalGate } from './chat/refusals.js';
import { Outbox } from './notify/outbox.js';
import { Composer } from './notify/composer.js';
import { OutboxStore } from './store/outbox.js';
import { QuestionStore } from './store/questions.js';
import { InboundStore, SwitchStore, UsedTokenStore } from './store/chat-state.js';
import { Questions } from './questions/questions.js';
import { ActionTokens } from './questions/action-tokens.js';
import { Consent } from './consent/consent.js';
import { Diagnoser } from './diagnose/diagnoser.js';
import { RegretIndex } from './regret/regret.js';
import { RegretStore } from './store/regret.js';
import { Briefings } from './report/briefing.js';
import { DiagnosisStore } from './store/diagnoses.js';
import { randomBytes } from 'node:crypto';
import { createProbe } from './checks/index.js';
import type { CheckEnvironment, Probe } from './checks/types.js';
import { systemClock, type Clock } from './clock.js';
import type { ChannelSettings, Config } from './config/schema.js';
import { errorMessage } from './errors.js';
import { HttpServer } from './http/server.js';
import type { AccessPolicy } from './http/access.js';
import { Metrics } from './http/metrics.js';
import { acquireInstanceLock, LOCK_FILE, type InstanceLock } from './lock/instance-lock.js';
import type { Logger } from './log/logger.js';
import type { Redactor } from './log/redact.js';
import { Patrol } from './patrol/patrol.js';
import { IncidentTracker } from './patrol/incidents.js';
import { Recovery } from './heal/recovery.js';
import { createHealStep } from './heal/index.js';
import type { HealStep } from './heal/types.js';
import { IncidentStore } from './store/incidents.js';
import { ActionStore } from './store/actions.js';
import { EscalationStore } from './store/escalations.js';
import { buildSummary, summaryLine, type StatusSummary } from './patrol/summary.js';
import { createSelfProbe } from './self-probe.js';
import { CheckStateStore } from './store/check-state.js';
import { DATABASE_FILE, ensureDataDir, openDatabase, type Db } from './store/database.js';
import { EventLog } from './store/events.js';
import { StoreHealth } from './store/health.js';
import { formatDuration } from './util/duration.js';
import { KeyValueStore } from './store/kv.js';
import { ProbeStateStore } from './store/probe-state.js';
import { HeartbeatStore } from './store/heartbeats.js';
import { version } from './version.js';
import { childEnvironment } from './config/child-env.js';
import type { CommandServices } from './bot/command.js';
import type { Reply } from './chat/channel.js';
import { Dispatcher, describeCommands } from './bot/dispatch.js';

const DAY_MS = 86_400_000;
const REFUSAL_WINDOW_MS = 10 * 60_000;
/** Retention deletes events in batches of this many, at most this many batches a minute. */
const RETENTION_BATCH = 5_000;
const RETENTION_BATCHES = 20;

export interface AppOptions {
  config: Config;
  log: Logger;
  redactor: Redactor;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  clock?: Clock;
}

/**
 * The composition root: builds the store, patrol, HTTP server and channels
 * from the configuration and owns their start and stop. Nothing else in
 * src/ knows about adapters/ or commands/.
 */
export class App {
  private readonly clock: Clock;
  private readonly log: Logger;
  private lock: InstanceLock | undefined;
  private db: Db | undefined;
  private events: EventLog | undefined;
  private patrol: Patrol | undefined;
  private recovery: Recovery | undefined;
  private outbox: Outbox | undefined;
  private composer: Composer | undefined;
  private questions: Questions | undefined;
  private diagnoser: Diagnoser | undefined;
  private briefings: Briefings | undefined;
  private housekeeping: NodeJS.Timeout | undefined;
  /** Answers a question from a signed ntfy button token (the HTTP route calls it). */
  private answerButton: ((token: string) => { status: number; text: string }) | undefined;
  private http: HttpServer | undefined;
  private channels: ChatChannel[] = [];
  private probes = new Map<string, Probe>();
  private selfProbe: ReturnType<typeof createSelfProbe> | undefined;
  private startedAt = 0;
  private lastPrintedSummary = '';
  private summaryTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: AppOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log;
  }

  /**
   * Starts everything in an order that fails early and leaves nothing behind:
   * lock, database, HTTP, patrol, channels. Throws (after undoing what it
   * did) when any step fails.
   */
  async start(): Promise<{ http: string }> {
    const { config } = this.options;
    this.startedAt = this.clock.now();
    try {
      ensureDataDir(config.dataDir);
      this.lock = acquireInstanceLock(join(config.dataDir, LOCK_FILE), version);
      if (this.lock.takenOver) {
        this.log.warn(
          { lockFile: this.lock.file, previous: this.lock.takenOver.previous, reason: this.lock.takenOver.reason },
          'found a stale lock and took it over',
        );
      }
      const db = openDatabase(join(config.dataDir, DATABASE_FILE));
      this.db = db;
      const events = new EventLog(db, this.options.redactor);
      this.events = events;
      const checkState = new CheckStateStore(db);
      const kv = new KeyValueStore(db);
      // Disk full or a failing disk: writers report here and keep what they could not write; /healthz says so.
      const health = new StoreHealth({
        log: this.log,
        clock: this.clock,
        onRecovered: (outage) => {
          const downFor = formatDuration(this.clock.now() - outage.since);
          events.append(this.clock.now(), 'store.recovered', 'nightshift', 'warning', {
            since: outage.since,
            failures: outage.failures,
            lastError: outage.lastError,
          });
          this.outbox?.enqueue({
            severity: 'warning',
            title: `Nightshift could not write its database for ${downFor} (disk full?); it can again`,
            body: `${outage.failures} writes failed (last: ${outage.lastError}). Alerts held meanwhile have been sent; check runs of that time were not recorded. Look at the free space of ${config.dataDir}.`,
          });
        },
      });
      const reportError = (err: unknown, what: string): void => {
        if (!health.failed(err, what)) this.log.error({ err, what }, 'background work failed (kept running)');
      };

      this.selfProbe = createSelfProbe(kv, () => this.clock.now());
      const probeStates = new ProbeStateStore(db);
      const heartbeats = new HeartbeatStore(db);
      const incidents = new IncidentStore(db);
      const actions = new ActionStore(db);
      const patrol = new Patrol({
        checks: config.checks,
        probes: this.probes,
        db,
        checkState,
        events,
        clock: this.clock,
        log: this.log,
        intervalMs: config.patrol.intervalMs,
        concurrency: config.patrol.concurrency,
        redactor: this.options.redactor,
        health,
      });
      this.patrol = patrol;
      const healEnv = { log: this.log, dataDir: config.dataDir, now: () => this.clock.now(), childEnv: childEnvironment };
      const healSteps = new Map<string, HealStep[]>();
      for (const check of config.checks) {
        const env: CheckEnvironment = {
          checkName: check.name,
          log: this.log.child({ check: check.name }),
          dataDir: config.dataDir,
          now: () => this.clock.now(),
          self: this.selfProbe,
          requestRun: () => patrol.requestRun(check.name),
          state: probeStates.for(check.name),
          heartbeats,
          childEnv: childEnvironment,
        };
        this.probes.set(check.name, createProbe(check.kind, check.params, env));
        healSteps.set(
          check.name,
          check.heal.map((step) => createHealStep(step.action, step.params, healEnv)),
        );
      }

      const summary = (): StatusSummary => {
        const now = this.clock.now();
        return buildSummary({
          now,
          startedAt: this.startedAt,
          lastPatrolAt: patrol.lastTickAt,
          patrolAlive: patrol.isAlive(),
          checks: config.checks,
          states: checkState.all(),
          openIncidents: incidents.allOpen(),
          heals24h: actions.healAttemptsSince(now - DAY_MS),
          escalations24h: actions.countCategory('escalate', now - DAY_MS),
        });
      };

      const metrics = new Metrics(summary, () => actions.healAttemptsByTarget(this.clock.now() - DAY_MS));
      this.http = new HttpServer({
        log: this.log,
        summary,
        patrolAlive: () => patrol.isAlive(),
        metrics,
        pings: heartbeats,
        now: () => this.clock.now(),
        answer: (token) => this.answerButton?.(token) ?? { status: 503, text: 'Nightshift is starting; try again.' },
        access: accessPolicy(config),
        redactor: this.options.redactor,
        problems: () => health.problems(),
      });
      const bound = await this.http.listen(config.http.listen);
      const httpAddress = formatAddress(bound);
      this.lock.update({ http: httpAddress });

      if (this.lock.takenOver) {
        events.append(this.clock.now(), 'instance.stale_lock_taken_over', 'nightshift', 'warning', {
          lockFile: this.lock.file,
          previousPid: this.lock.takenOver.previous?.pid ?? 0,
          ...(this.lock.takenOver.previous ? { previousStartedAt: this.lock.takenOver.previous.startedAt } : {}),
          reason: this.lock.takenOver.reason,
        });
      }
      events.append(this.clock.now(), 'instance.started', 'nightshift', 'info', { pid: process.pid, version, config: config.source, http: httpAddress });

      const outboxStore = new OutboxStore(db);
      const outbox = new Outbox({
        store: outboxStore,
        clock: this.clock,
        log: this.log,
        redactor: this.options.redactor,
        onDelivered: (channel, row, delivery) => {
          if (row.message.question && delivery.platformId) questions.delivered(channel, delivery.platformId, row.message.question.questionId);
        },
        health,
      });
      this.outbox = outbox;
      const notify = (message: OutgoingMessage) => outbox.enqueue(message);
      const composer = new Composer({
        clock: this.clock,
        incidents,
        groupWaitMs: config.chat.groupWait,
        stormThreshold: config.chat.stormThreshold,
        repeatIntervalMs: config.chat.repeatInterval,
        send: (message, key) => outbox.enqueue(message, { key }),
        onError: reportError,
      });
      this.composer = composer;
      const tracker = new IncidentTracker({
        db,
        checks: config.checks,
        incidents,
        checkState,
        events,
        clock: this.clock,
        log: this.log,
        flapping: config.patrol.flapping,
        notify,
        notice: (n) => composer.notice(n),
      });
      const regret = new RegretIndex({ db, store: new RegretStore(db), events, clock: this.clock, log: this.log, checks: config.checks, notify });
      const recovery = new Recovery({
        db,
        dataDir: config.dataDir,
        timezone: config.timezone,
        probes: this.probes,
        steps: healSteps,
        checkState,
        incidents,
        actions,
        escalations: new EscalationStore(db),
        events,
        clock: this.clock,
        log: this.log,
        redactor: this.options.redactor,
        healTimeoutMs: config.patrol.healTimeoutMs,
        notify,
        requestRun: (name) => patrol.requestRun(name),
        flagged: (check) => regret.flaggedReason(check),
        onAction: (action) => regret.onAction(action),
        onError: reportError,
      });
      this.recovery = recovery;
      patrol.on('result', (outcome) => {
        metrics.countRun(outcome.check.name, outcome.result.ok);
        const update = tracker.onResult(outcome);
        regret.onResult(outcome);
        recovery.onResult(outcome, update);
        this.diagnoser?.onResult(outcome, update);
      });
      const ranOnce = new Set<string>();
      patrol.on('result', ({ check }) => {
        ranOnce.add(check.name);
        if (ranOnce.size >= config.checks.length) this.printSummarySoon(summary);
      });

      const roleOf = createAuthorizer(config.chat, config.channels);
      // A stranger's refusals: one answered and recorded per window, the rest counted into the next row.
      const refusals = new RefusalGate({
        windowMs: REFUSAL_WINDOW_MS,
        perChannel: 20,
        record: (from, what, suppressed) =>
          events.append(this.clock.now(), 'chat.refused', from.channel, 'warning', {
            channel: from.channel,
            userId: from.userId,
            what,
            ...(suppressed > 0 ? { suppressed } : {}),
          }),
      });
      const tokens = new ActionTokens(actionSecret(kv), new UsedTokenStore(db));
      const consent = new Consent(db, new SwitchStore(db), events, this.clock);
      const questions = new Questions({
        store: new QuestionStore(db),
        events,
        clock: this.clock,
        log: this.log,
        tokens,
        // Without a configured public URL the buttons point at the address Nightshift really listens on.
        publicUrl: config.chat.publicUrl ?? `http://${httpAddress}`,
        defaultTtlMs: config.chat.questionTtl,
        send: (message, key) => outbox.enqueue(message, { key }),
        roleOf,
        onRefused: (from, what) => refusals.refuse(from, what, this.clock.now()),
      });
      this.questions = questions;
      const diagnoses = new DiagnosisStore(db);
      const diagnoser = new Diagnoser({
        db,
        checks: config.checks,
        events,
        incidents,
        store: diagnoses,
        consent,
        questions,
        clock: this.clock,
        log: this.log,
        redactor: this.options.redactor,
        timezone: config.timezone,
        notify,
        llm: config.ollama ? { ...config.ollama, timeoutMs: config.diagnose.llmTimeout, maxPromptChars: config.diagnose.maxPromptChars } : null,
        recurrence: { count: config.diagnose.recurrence.count, windowMs: config.diagnose.recurrence.window },
        askAnalysisAfter: config.diagnose.askAfter,
        lookbackMs: config.diagnose.lookback,
        weekly: config.diagnose.weekly === 'off' ? null : config.diagnose.weekly,
        proposalTtlMs: config.diagnose.proposalTtl,
      });
      this.diagnoser = diagnoser;
      const checksByName = new Map(config.checks.map((c) => [c.name, c]));
      const services: CommandServices = {
        status: summary,
        commands: () => commands,
        openIncidents: () => incidents.allOpen(),
        ack: (id, by) => {
          const done = incidents.ack(id, describeIdentity(by), this.clock.now());
          if (done)
            events.append(this.clock.now(), 'incident.acked', incidents.get(id)!.checkName, 'info', {
              incidentId: id,
              by: describeIdentity(by),
              channel: by.channel,
            });
          return done;
        },
        checkNames: () => config.checks.map((c) => c.name),
        mute: (check, until, by) => {
          checkState.setMutedUntil(check, until > 0 ? until : null);
          events.append(this.clock.now(), 'check.muted', check, 'info', { until, by: describeIdentity(by), channel: by.channel });
        },
        healNow: async (check, by) => {
          events.append(this.clock.now(), 'heal.requested', check, 'info', { by: describeIdentity(by), channel: by.channel });
          return recovery.healNow(checksByName.get(check)!, describeIdentity(by));
        },
        surgery: () => consent.surgery(),
        setSurgery: (enabled, by) => consent.setSurgery(enabled, describeIdentity(by), by.channel),
        consent: () => consent.describe(),
        decideProposal: (id, approve, by) => diagnoser.answerProposal(id, approve, by),
        diagnose: async (check) => {
          if (!consent.granted('analysis'))
            return `Analysis is ${consent.get('analysis').state}, not granted: Nightshift does not analyse error patterns. An admin can allow it with /consent analysis on.`;
          return diagnoser.diagnose('command', check ? { check } : {});
        },
        proposals: () =>
          diagnoses
            .proposals()
            .map(
              (p) =>
                `${p.id} [${p.status}${p.decidedBy ? ` by ${p.decidedBy}` : ''}] ${p.summary} (diagnosis #${p.diagnosisId}, ${new Date(p.createdAt).toISOString()})`,
            ),
        setConsent: (name, on, by) => diagnoser.setConsent(name, on, describeIdentity(by), by.channel),
        score: (actionId, score, note, by) => regret.override(actionId, score, note, describeIdentity(by), by.channel),
        regret: () => regret.report(),
        flags: () => regret.flagLines(),
        clearFlag: (id, by) => regret.clear(id, describeIdentity(by), by.channel),
        briefing: () => this.briefings?.compose(this.clock.now()).text ?? 'Nightshift is starting.',
      };
      const dispatcher = new Dispatcher({
        commands,
        services,
        log: this.log,
        clock: this.clock,
        roleOf,
        onRefused: (invoker, what) => refusals.refuse(invoker, what, this.clock.now()),
        onFailed: (invoker, command, error) =>
          events.append(this.clock.now(), 'command.failed', command, 'warning', { command, channel: invoker.channel, error }),
      });
      const redactReply = (reply: Reply): Reply => ({ ...reply, text: this.options.redactor.redact(reply.text) });
      const inboundStore = new InboundStore(db);
      const inboundFor = (channel: string): Inbound => ({
        command: async (text, from) => redactReply(await dispatcher.dispatch(text, from)),
        answer: async (target, answer, from) => redactReply(questions.answer(target, answer, from)),
        firstSeen: (updateId) => inboundStore.firstSeen(channel, updateId, this.clock.now()),
        cursor: () => inboundStore.cursor(channel),
        saveCursor: (value) => inboundStore.saveCursor(channel, value, this.clock.now()),
      });
      this.answerButton = (token) => {
        const redeemed = tokens.redeem(token, this.clock.now());
        if (!redeemed.ok) return { status: 410, text: `${redeemed.reason}; nothing was changed.` };
        const reply = redactReply(
          questions.answer({ questionId: redeemed.claim.questionId }, redeemed.claim.answer, { channel: 'ntfy', userId: 'ntfy-button' }, true),
        );
        // The answer goes back to the phone too, where the button was pressed.
        outbox.enqueue({ severity: 'info', title: reply.text }, { channels: ['ntfy'] });
        return { status: 200, text: reply.text };
      };

      this.channels = [
        new ConsoleChannel({
          input: this.options.stdin,
          output: this.options.stdout,
          onInputClosed: () => this.log.debug('stdin closed; console commands are off, the bot keeps running'),
        }),
        ...(await createChatChannels(config.channels, describeCommands(commands), this.log)),
      ];
      for (const channel of this.channels) {
        await this.startChannel(channel, inboundFor(channel.name));
        outbox.add(channel);
      }
      composer.start();
      diagnoser.start();
      regret.start();
      const weekdays = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
      this.briefings = new Briefings({
        db,
        kv,
        clock: this.clock,
        log: this.log,
        timezone: config.timezone,
        at: config.briefing.at,
        weeklyDay: config.briefing.weekly === 'off' ? null : weekdays.indexOf(config.briefing.weekly),
        startedAt: this.startedAt,
        summary,
        regretLines: () => regret.report(),
        send: (message, key) => outbox.enqueue(message, { key }),
        onError: reportError,
      });
      let retentionDueAt = 0;
      this.housekeeping = setInterval(() => {
        try {
          diagnoser.expire(questions.expire().map((q) => q.id));
          inboundStore.prune(this.clock.now() - 7 * DAY_MS);
          // Retention, hourly: old events and finished outbox rows go; the audit trail stays. At most
          // RETENTION_BATCHES batches of events a run: an old install catches up a minute at a time.
          const now = this.clock.now();
          if (now >= retentionDueAt) {
            const before = now - config.retention.eventsMs;
            const removed = {
              events: events.pruneBefore(before, { batch: RETENTION_BATCH, maxBatches: RETENTION_BATCHES }),
              outbox: outboxStore.pruneFinished(before),
            };
            retentionDueAt = removed.events === RETENTION_BATCH * RETENTION_BATCHES ? now : now + 3_600_000;
            if (removed.events + removed.outbox > 0) this.log.info({ ...removed, olderThan: new Date(before).toISOString() }, 'retention: removed old rows');
          }
        } catch (err) {
          reportError(err, 'housekeeping');
        }
      }, 60_000);
      this.housekeeping.unref();

      for (const [name, probe] of this.probes) {
        try {
          await probe.start?.();
        } catch (err) {
          // Fail-open: a probe that cannot start fails its runs; the patrol records why.
          this.log.error({ err, check: name }, 'check failed to start');
        }
      }
      patrol.start();
      // After the patrol's first wake, so a briefing sent on start reports a live patrol.
      this.briefings?.start();
      if (this.lock.takenOver) {
        notify({ severity: 'warning', title: `Took over a stale lock: ${this.lock.takenOver.reason}. The previous run did not stop cleanly.` });
      }
      this.log.info({ http: httpAddress, dataDir: config.dataDir, config: config.source, checks: config.checks.length }, 'nightshift started');
      return { http: httpAddress };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Sends a message on every channel through the outbox (briefings and reports use this); throws before start. */
  notify(message: OutgoingMessage, key?: string): void {
    if (!this.outbox) throw new Error('nightshift has not started');
    this.outbox.enqueue(message, key ? { key } : {});
  }

  /** Resolves when every channel's queue is empty (benchmarks, tests). */
  drained(timeoutMs?: number): Promise<void> {
    if (!this.outbox) throw new Error('nightshift has not started');
    return this.outbox.drained(timeoutMs);
  }

  /** Asks a question on every channel (consent and proposals use this); throws before start. */
  ask(input: Parameters<Questions['ask']>[0]): ReturnType<Questions['ask']> {
    if (!this.questions) throw new Error('nightshift has not started');
    return this.questions.ask(input);
  }

  /** Stops channels, patrol and HTTP, records the stop and closes the database. Safe to call twice. */
  stop(signal?: string): Promise<void> {
    this.stopping ??= this.doStop(signal);
    return this.stopping;
  }

  private async doStop(signal?: string): Promise<void> {
    clearTimeout(this.summaryTimer);
    clearInterval(this.housekeeping);
    await this.recovery?.stop();
    await this.patrol?.stop();
    await this.diagnoser?.stop();
    await this.briefings?.stop();
    // Whatever was grouped but not yet sent goes into the outbox; undelivered rows wait for the next start.
    this.composer?.stop();
    await this.outbox?.stop();
    await Promise.allSettled(this.channels.map((c) => c.stop()));
    await this.http?.close();
    await Promise.allSettled([...this.probes.values()].map((p) => p.dispose?.()));
    this.selfProbe?.close();
    if (this.db?.open) {
      try {
        if (this.patrol)
          this.events?.append(this.clock.now(), 'instance.stopped', 'nightshift', 'info', {
            pid: process.pid,
            ...(signal ? { signal } : {}),
            uptimeMs: this.clock.now() - this.startedAt,
          });
      } catch (err) {
        this.log.error({ err }, 'could not record the stop');
      }
      this.db.close();
    }
    this.lock?.release();
    if (this.patrol) this.log.info({ signal }, 'nightshift stopped');
  }

  private async startChannel(channel: ChatChannel, inbound: Inbound): Promise<void> {
    try {
      await channel.start(inbound);
    } catch (err) {
      // Fail-open: a channel that cannot start is logged and the others carry on.
      this.log.error({ err, channel: channel.name }, 'channel failed to start');
      this.events?.append(this.clock.now(), 'channel.failed', channel.name, 'warning', { channel: channel.name, error: errorMessage(err) });
    }
  }

  /**
   * Prints the summary line when it changed, at most once a second: building
   * the summary after every one of 1,000 check runs was the patrol's main cost.
   */
  private printSummarySoon(summary: () => StatusSummary): void {
    if (this.summaryTimer) return;
    this.summaryTimer = setTimeout(
      () => {
        this.summaryTimer = undefined;
        const line = summaryLine(summary());
        if (line === this.lastPrintedSummary) return;
        this.lastPrintedSummary = line;
        this.options.stdout.write(`${line}\n`);
      },
      this.lastPrintedSummary === '' ? 0 : 1_000,
    );
  }
}

/**
 * The chat channels whose tokens are set. Each adapter module is loaded only
 * when its channel is on: discord.js alone adds about 40 MB to the process.
 */
export async function createChatChannels(settings: ChannelSettings, commandList: CommandSummary[], log: Logger): Promise<ChatChannel[]> {
  const channels: ChatChannel[] = [];
  if (settings.discord) {
    const { DiscordChannel } = await import('../adapters/discord.js');
    channels.push(new DiscordChannel({ ...settings.discord, commands: commandList, log: log.child({ channel: 'discord' }) }));
  }
  if (settings.telegram) {
    const { TelegramChannel } = await import('../adapters/telegram.js');
    channels.push(new TelegramChannel({ ...settings.telegram, commands: commandList, log: log.child({ channel: 'telegram' }) }));
  }
  if (settings.ntfy) {
    const { NtfyChannel } = await import('../adapters/ntfy.js');
    channels.push(new NtfyChannel({ ...settings.ntfy, commands: commandList, log: log.child({ channel: 'ntfy' }) }));
  }
  return channels;
}

/** The HMAC key of ntfy answer buttons: made once, kept in the store (so buttons survive a restart). */
function actionSecret(kv: KeyValueStore): Buffer {
  let hex = kv.get('ntfy.action.secret');
  if (!hex) {
    hex = randomBytes(32).toString('hex');
    kv.set('ntfy.action.secret', hex);
  }
  return Buffer.from(hex, 'hex');
}

/** The HTTP server's own names (configured, the public URL's, the listen host's) and its token. */
function accessPolicy(config: Config): AccessPolicy {
  const names = new Set(config.http.allowedHosts);
  if (config.chat.publicUrl) names.add(new URL(config.chat.publicUrl).hostname.toLowerCase().replace(/^\[|\]$/g, ''));
  names.add(config.http.listen.host.toLowerCase());
  return { allowedHosts: names, ...(config.http.token ? { token: config.http.token } : {}) };
}

function formatAddress(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
