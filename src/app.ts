import { join } from 'node:path';
import { ConsoleChannel } from '../adapters/console.js';
import { commands } from '../commands/index.js';
import type { ChatChannel, CommandHandler, OutgoingMessage } from './chat/channel.js';
import type { CommandServices } from './chat/command.js';
import { Dispatcher } from './chat/dispatch.js';
import { createProbe } from './checks/index.js';
import type { CheckEnvironment, Probe } from './checks/types.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/schema.js';
import { errorMessage } from './errors.js';
import { HttpServer } from './http/server.js';
import { Metrics } from './http/metrics.js';
import { acquireInstanceLock, LOCK_FILE, type InstanceLock } from './lock/instance-lock.js';
import type { Logger } from './log/logger.js';
import type { Redactor } from './log/redact.js';
import { Notifier } from './notify/notifier.js';
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
import { KeyValueStore } from './store/kv.js';
import { ProbeStateStore } from './store/probe-state.js';
import { HeartbeatStore } from './store/heartbeats.js';
import { version } from './version.js';

const DAY_MS = 86_400_000;

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
        this.log.warn({ lockFile: this.lock.file, previous: this.lock.takenOver.previous, reason: this.lock.takenOver.reason }, 'found a stale lock and took it over');
      }
      const db = openDatabase(join(config.dataDir, DATABASE_FILE));
      this.db = db;
      const events = new EventLog(db);
      this.events = events;
      const checkState = new CheckStateStore(db);
      const kv = new KeyValueStore(db);

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
      });
      this.patrol = patrol;
      const healEnv = { log: this.log, dataDir: config.dataDir, now: () => this.clock.now() };
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
        };
        this.probes.set(check.name, createProbe(check.kind, check.params, env));
        healSteps.set(check.name, check.heal.map((step) => createHealStep(step.action, step.params, healEnv)));
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
      this.http = new HttpServer({ log: this.log, summary, patrolAlive: () => patrol.isAlive(), metrics, pings: heartbeats, now: () => this.clock.now() });
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

      const notifier = new Notifier(() => this.channels, this.options.redactor, this.log, (channel, error) =>
        this.events?.append(this.clock.now(), 'channel.failed', channel, 'warning', { channel, error }),
      );
      const notify = (message: OutgoingMessage) => void notifier.notify(message);
      const tracker = new IncidentTracker({ db, checks: config.checks, incidents, checkState, events, clock: this.clock, log: this.log, flapping: config.patrol.flapping, notify });
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
      });
      this.recovery = recovery;
      patrol.on('result', (outcome) => {
        metrics.countRun(outcome.check.name, outcome.result.ok);
        recovery.onResult(outcome, tracker.onResult(outcome));
      });
      const ranOnce = new Set<string>();
      patrol.on('result', ({ check }) => {
        ranOnce.add(check.name);
        if (ranOnce.size >= config.checks.length) this.printSummarySoon(summary);
      });

      const services: CommandServices = { status: summary, commands: () => commands };
      const dispatcher = new Dispatcher({
        commands,
        services,
        log: this.log,
        clock: this.clock,
        onFailed: (invoker, command, error) => events.append(this.clock.now(), 'command.failed', command, 'warning', { command, channel: invoker.channel, error }),
      });
      const handle: CommandHandler = async (text, invoker) => {
        const reply = await dispatcher.dispatch(text, invoker);
        return { ...reply, text: this.options.redactor.redact(reply.text) };
      };

      this.channels = [new ConsoleChannel({ input: this.options.stdin, output: this.options.stdout, onInputClosed: () => this.log.debug('stdin closed; console commands are off, the bot keeps running') })];
      for (const channel of this.channels) await this.startChannel(channel, handle);

      for (const [name, probe] of this.probes) {
        try {
          await probe.start?.();
        } catch (err) {
          // Fail-open: a probe that cannot start fails its runs; the patrol records why.
          this.log.error({ err, check: name }, 'check failed to start');
        }
      }
      patrol.start();
      if (this.lock.takenOver) {
        void notifier.notify({ severity: 'warning', title: `Took over a stale lock: ${this.lock.takenOver.reason}. The previous run did not stop cleanly.` });
      }
      this.log.info({ http: httpAddress, dataDir: config.dataDir, config: config.source, checks: config.checks.length }, 'nightshift started');
      return { http: httpAddress };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops channels, patrol and HTTP, records the stop and closes the database. Safe to call twice. */
  stop(signal?: string): Promise<void> {
    this.stopping ??= this.doStop(signal);
    return this.stopping;
  }

  private async doStop(signal?: string): Promise<void> {
    clearTimeout(this.summaryTimer);
    await Promise.allSettled(this.channels.map((c) => c.stop()));
    await this.recovery?.stop();
    await this.patrol?.stop();
    await this.http?.close();
    await Promise.allSettled([...this.probes.values()].map((p) => p.dispose?.()));
    this.selfProbe?.close();
    if (this.db?.open) {
      try {
        if (this.patrol) this.events?.append(this.clock.now(), 'instance.stopped', 'nightshift', 'info', { pid: process.pid, ...(signal ? { signal } : {}), uptimeMs: this.clock.now() - this.startedAt });
      } catch (err) {
        this.log.error({ err }, 'could not record the stop');
      }
      this.db.close();
    }
    this.lock?.release();
    if (this.patrol) this.log.info({ signal }, 'nightshift stopped');
  }

  private async startChannel(channel: ChatChannel, handle: CommandHandler): Promise<void> {
    try {
      await channel.start(handle);
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
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      const line = summaryLine(summary());
      if (line === this.lastPrintedSummary) return;
      this.lastPrintedSummary = line;
      this.options.stdout.write(`${line}\n`);
    }, this.lastPrintedSummary === '' ? 0 : 1_000);
  }
}

function formatAddress(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

