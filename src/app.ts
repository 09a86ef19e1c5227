import { join } from 'node:path';
import { ConsoleChannel } from '../adapters/console.js';
import { createChatChannels } from '../adapters/index.js';
import { commands } from '../commands/index.js';
import { connectChannels } from './bot/channels.js';
import { describeCommands, Dispatcher } from './bot/dispatch.js';
import { ntfySender } from './chat/platforms/ntfy.js';
import type { ChatChannel, OutgoingMessage } from './chat/channel.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/schema.js';
import { Engine, type ReloadOutcome } from './engine.js';
import { Housekeeping } from './housekeeping.js';
import type { AccessPolicy, ListenAddress } from './http/access.js';
import { HttpServer } from './http/server.js';
import { overviewBuilder } from './status-page/overview.js';
import { OverviewQueries } from './store/overview-queries.js';
import { acquireInstanceLock, LOCK_FILE, type InstanceLock } from './lock/instance-lock.js';
import type { Logger } from './log/logger.js';
import type { Redactor } from './log/redact.js';
import { Outbox, type Send, type SendOptions } from './notify/outbox.js';
import { Router } from './notify/router.js';
import { SummaryPrinter } from './patrol/summary-printer.js';
import { InboundStore } from './store/chat-state.js';
import { DATABASE_FILE, ensureDataDir, openDatabase, type Db } from './store/database.js';
import { EventLog } from './store/events.js';
import { StoreHealth, storeRecoveredNotice } from './store/health.js';
import { OutboxStore } from './store/outbox.js';
import { KeyValueStore } from './store/kv.js';
import { Retention } from './store/retention.js';
import { version } from './version.js';
import { Heartbeat } from './watchdog/heartbeat.js';

const DAY_MS = 86_400_000;

export interface AppOptions {
  config: Config;
  log: Logger;
  redactor: Redactor;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  clock?: Clock;
}

/** The bot once started: every part exists. */
interface Running {
  http: string;
  engine: Engine;
  outbox: Outbox;
  /** Routes a message (chat.routes, quiet hours) into the outbox. */
  send: Send;
}

/**
 * The composition root: lock, database, HTTP, engine, channels, start; and
 * the same in reverse on stop. Every step that succeeds registers how it is
 * undone, so a step that fails leaves nothing behind. Nothing else in src/
 * knows about adapters/ or commands/.
 */
export class App {
  private readonly clock: Clock;
  private readonly log: Logger;
  /** How to undo each step taken, in the order taken; stop runs them backwards. */
  private readonly undo: Array<() => unknown> = [];
  private running: Running | undefined;
  private stopping: Promise<void> | undefined;
  /** The signal that stopped the bot, recorded with the stop. */
  private stopSignal: string | undefined;

  constructor(private readonly options: AppOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log;
  }

  /** Starts everything in an order that fails early; throws (after undoing what it did) when a step fails. */
  async start(): Promise<{ http: string }> {
    try {
      this.running = await this.startSteps();
      return { http: this.running.http };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startSteps(): Promise<Running> {
    const { config, redactor, stdin, stdout } = this.options;
    const { clock, log } = this;
    const startedAt = clock.now();

    ensureDataDir(config.dataDir);
    const lock = acquireInstanceLock(join(config.dataDir, LOCK_FILE), version);
    this.undo.push(() => lock.release());
    if (lock.takenOver)
      log.warn({ lockFile: lock.file, previous: lock.takenOver.previous, reason: lock.takenOver.reason }, 'found a stale lock and took it over');

    const db = openDatabase(join(config.dataDir, DATABASE_FILE));
    const events = new EventLog(db, redactor);
    this.undo.push(() => this.closeDatabase(db, events, startedAt));

    // Bound before anything else is built: a taken port fails start at once. It answers 503 until serve().
    const http = new HttpServer({ log, access: accessPolicy(config), redactor, now: () => clock.now() });
    const httpAddress = formatAddress(await http.listen(config.http.listen));
    this.undo.push(() => http.close());
    lock.update({ http: httpAddress });

    // Disk full or a failing disk: writers report here and keep what they could not write; /healthz says so.
    const health = new StoreHealth({
      log,
      clock,
      onRecovered: (outage) => {
        events.append(clock.now(), 'store.recovered', 'nightshift', 'warning', { since: outage.since, failures: outage.failures, lastError: outage.lastError });
        outbox.enqueue(storeRecoveredNotice(outage, clock.now(), config.dataDir));
      },
    });
    const reportError = (err: unknown, what: string): void => {
      if (!health.failed(err, what)) log.error({ err, what }, 'background work failed (kept running)');
    };
    const outboxStore = new OutboxStore(db);
    const outbox: Outbox = new Outbox({
      store: outboxStore,
      clock,
      log,
      redactor,
      health,
      onDelivered: (channel, row, delivery) => {
        if (row.message.question && delivery.platformId) engine.questions.delivered(channel, delivery.platformId, row.message.question.questionId);
      },
    });
    // Every message Nightshift sends on its own passes the channels' routes and quiet hours.
    const router = new Router({
      routes: config.chat.routes,
      timezone: config.timezone,
      clock,
      events,
      kv: new KeyValueStore(db),
      log,
      enqueue: (message: OutgoingMessage, options?: SendOptions) => outbox.enqueue(message, options),
      channelNames: () => outbox.channelNames,
    });
    const send = router.send;
    const engine: Engine = new Engine({
      config,
      db,
      events,
      clock,
      log,
      redactor,
      send,
      // Without a configured public URL the buttons point at the address Nightshift really listens on.
      publicUrl: config.chat.publicUrl ?? `http://${httpAddress}`,
      startedAt,
      health,
    });
    const inbound = new InboundStore(db);
    const dispatcher = new Dispatcher({
      commands,
      services: engine.services,
      log,
      clock,
      roleOf: engine.roleOf,
      onRefused: (invoker, what) => engine.refusals.refuse(invoker, what, clock.now()),
      onFailed: (invoker, command, error) => events.append(clock.now(), 'command.failed', command, 'warning', { command, channel: invoker.channel, error }),
    });
    // An alert button pressed on a push runs as the ntfy channel's sender, so its role and audit apply as for a typed reply.
    const buttonSender = ntfySender(config.channels.ntfy?.replyTopic);
    http.serve({
      summary: () => engine.summary(),
      patrolAlive: () => engine.patrol.isAlive(),
      metrics: engine.metrics,
      pings: engine.heartbeats,
      answer: (token) => engine.answerButton(token),
      act: (token) => engine.commandButton(token, (text, from) => dispatcher.dispatch(text, from), buttonSender),
      problems: () => health.problems(),
      agents: engine.agentReports,
      alertmanager: (payload) => engine.alertReceiver.receive(payload),
      // The status page (GET /, /overview.json, /live): read only, from the store and the patrol's committed runs.
      overview: overviewBuilder(engine, new OverviewQueries(db), () => clock.now()),
      // 'result' is emitted after the run is committed: the overview built then shows it.
      live: (listener) => {
        engine.patrol.on('result', listener);
        return () => void engine.patrol.off('result', listener);
      },
    });
    recordStart(events, lock, clock, { config: config.source, http: httpAddress });

    const channels: ChatChannel[] = [
      new ConsoleChannel({ input: stdin, output: stdout, onInputClosed: () => log.debug('stdin closed; console commands are off, the bot keeps running') }),
      ...(await createChatChannels(config.channels, describeCommands(commands), log)),
    ];
    // The outbox stops before the channels it delivers to.
    this.undo.push(() => Promise.allSettled(channels.map((c) => c.stop())));
    this.undo.push(() => outbox.stop());
    await connectChannels(channels, { dispatcher, questions: engine.questions, inbound, outbox, redactor, events, clock, log });

    const retention = new Retention(events, outboxStore, config.retention.eventsMs, log);
    const housekeeping = new Housekeeping(
      [
        { name: 'questions', run: () => engine.expireQuestions() },
        // Platforms do not redeliver after days: older update ids are forgotten.
        { name: 'update ids', run: (now) => inbound.prune(now - 7 * DAY_MS) },
        { name: 'retention', run: (now) => retention.run(now) },
      ],
      { now: () => clock.now(), onError: reportError },
    );
    housekeeping.start();
    this.undo.push(() => housekeeping.stop());
    router.start();
    this.undo.push(() => router.stop());

    const printer = new SummaryPrinter(engine.patrol, config.checks.length, () => engine.summary(), stdout);
    this.undo.push(() => printer.stop());
    this.undo.push(() => engine.stop());
    await engine.start();

    // Who watches the watcher: an outside dead man's switch hears from us every watchdog.every, /fail while DOWN.
    if (config.watchdog) {
      // Its path is the key: removed wherever it would be logged; only the origin is named.
      redactor.addSecrets([config.watchdog.pingUrl]);
      const heartbeat = new Heartbeat({ ...config.watchdog, summary: () => engine.summary(), log });
      heartbeat.start();
      this.undo.push(() => heartbeat.stop());
      log.info({ origin: heartbeat.origin, everyMs: config.watchdog.everyMs }, 'watchdog pings started');
    }

    if (lock.takenOver) send({ severity: 'warning', title: `Took over a stale lock: ${lock.takenOver.reason}. The previous run did not stop cleanly.` });
    log.info({ http: httpAddress, dataDir: config.dataDir, config: config.source, checks: config.checks.length }, 'nightshift started');
    return { http: httpAddress, engine, outbox, send };
  }

  /** Sends a message on every channel through the outbox (briefings and reports use this); throws before start. */
  notify(message: OutgoingMessage, key?: string): void {
    this.started().send(message, key ? { key } : {});
  }

  /** Resolves when every channel's queue is empty (benchmarks, tests). */
  drained(timeoutMs?: number): Promise<void> {
    return this.started().outbox.drained(timeoutMs);
  }

  /** Applies a new, validated configuration's checks (SIGHUP, `nightshift reload`); throws before start. */
  reload(next: Config): Promise<ReloadOutcome> {
    return this.started().engine.reload(next);
  }

  /** A reload found the file invalid: nothing changed; recorded, and said on chat (a SIGHUP has no terminal to answer on). */
  reloadRefused(source: string, problems: string): void {
    const { engine, send } = this.started();
    engine.reloadRefused(source, problems);
    send({ severity: 'warning', title: `Configuration reload refused: nothing changed`, body: `${source}\n${problems}` });
  }

  /** Asks a question on every channel (consent and proposals use this); throws before start. */
  ask(input: Parameters<Engine['questions']['ask']>[0]): ReturnType<Engine['questions']['ask']> {
    return this.started().engine.questions.ask(input);
  }

  /** Stops everything that was started, in reverse order, records the stop and closes the database. Safe to call twice. */
  stop(signal?: string): Promise<void> {
    this.stopping ??= this.undoAll(signal);
    return this.stopping;
  }

  private started(): Running {
    if (!this.running) throw new Error('nightshift has not started');
    return this.running;
  }

  private async undoAll(signal: string | undefined): Promise<void> {
    this.stopSignal = signal;
    for (const step of this.undo.reverse()) {
      try {
        await step();
      } catch (err) {
        this.log.error({ err }, 'error while stopping');
      }
    }
    if (this.running) this.log.info({ signal }, 'nightshift stopped');
  }

  private closeDatabase(db: Db, events: EventLog, startedAt: number): void {
    if (!db.open) return;
    try {
      if (this.running)
        events.append(this.clock.now(), 'instance.stopped', 'nightshift', 'info', {
          pid: process.pid,
          ...(this.stopSignal ? { signal: this.stopSignal } : {}),
          uptimeMs: this.clock.now() - startedAt,
        });
    } catch (err) {
      this.log.error({ err }, 'could not record the stop');
    }
    db.close();
  }
}

/** Records the start (and a stale lock taken over) in the event log. */
function recordStart(events: EventLog, lock: InstanceLock, clock: Clock, where: { config: string; http: string }): void {
  if (lock.takenOver) {
    events.append(clock.now(), 'instance.stale_lock_taken_over', 'nightshift', 'warning', {
      lockFile: lock.file,
      previousPid: lock.takenOver.previous?.pid ?? 0,
      ...(lock.takenOver.previous ? { previousStartedAt: lock.takenOver.previous.startedAt } : {}),
      reason: lock.takenOver.reason,
    });
  }
  events.append(clock.now(), 'instance.started', 'nightshift', 'info', { pid: process.pid, version, ...where });
}

/** The HTTP server's own names (configured, the public URL's, the listen host's) and its token. */
function accessPolicy(config: Config): AccessPolicy {
  const names = new Set(config.http.allowedHosts);
  if (config.chat.publicUrl) names.add(new URL(config.chat.publicUrl).hostname.toLowerCase().replace(/^\[|\]$/g, ''));
  names.add(config.http.listen.host.toLowerCase());
  return {
    allowedHosts: names,
    ...(config.http.token ? { token: config.http.token } : {}),
    ...(config.http.agentToken ? { agentToken: config.http.agentToken } : {}),
    ...(config.http.alertmanagerToken ? { alertmanagerToken: config.http.alertmanagerToken } : {}),
  };
}

function formatAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
