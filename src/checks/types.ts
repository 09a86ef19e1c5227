import type { z } from 'zod';
import type { Logger } from '../log/logger.js';

/** What one run of a check found. `details` becomes the context of its events (exit code, latency, bytes...). */
export interface CheckResult {
  ok: boolean;
  /** One human line: "12.4 GiB free (41%)", "connection refused". */
  message: string;
  /**
   * Structured evidence for the event log and diagnosis: exitCode, stderrTail,
   * httpStatus, latencyMs, bytes... Two keys mean something to the engine:
   * `restartLoop: true` (escalate, never restart again) and `timer: true`
   * (the check watches a timer; counted in inactive_timers while failing).
   */
  details?: Record<string, unknown> | undefined;
}

/** Passed to every run: the abort signal fires when the check's timeout expires or the bot stops. */
export interface CheckRunContext {
  signal: AbortSignal;
  now: () => number;
}

/** What a heal step did. */
export interface HealResult {
  ok: boolean;
  message: string;
  details?: Record<string, unknown> | undefined;
}

/** Passed to every heal step: aborted when the bot stops. */
export interface HealRunContext {
  signal: AbortSignal;
  now: () => number;
}

/** Small state a probe keeps across restarts of Nightshift (a child's pid, a log offset). */
export interface ProbeState {
  get<T>(): T | undefined;
  set<T>(value: T): void;
}

/** Dead-man's-switch pings received on /ping/<name>, kept in the store. */
export interface HeartbeatBoard {
  /** The newest ping of each kind for a name (empty when none ever arrived). */
  latest(name: string): HeartbeatSnapshot;
  /** Declares a ping name as expected (others are refused with 404) and who to tell when one arrives; returns how to stop expecting it. */
  expect(name: string, onPing: () => void): () => void;
}

export interface HeartbeatSnapshot {
  /** ms since epoch of the last /ping/<name> (success). */
  lastPingAt?: number;
  /** ms since epoch of the last /ping/<name>/start. */
  lastStartAt?: number;
  /** ms since epoch and body of the last /ping/<name>/fail. */
  lastFailAt?: number;
  lastFailBody?: string;
}

/** A firing alert received from Alertmanager (POST /alertmanager), as the `alert` checks read it. */
export interface ReceivedAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** When Alertmanager says it began firing (ms); null when it did not say. */
  startsAt: number | null;
  /** The Alertmanager group it arrived in. */
  groupKey: string;
  /** When Nightshift last heard of it (ms). */
  receivedAt: number;
}

/** Alerts received from Alertmanager, kept in the store. */
export interface AlertBoard {
  /** Every alert firing now, oldest first. */
  firing(): ReceivedAlert[];
  /**
   * Declares the alerts a check wants (by their labels) and who to tell when one of them arrives or resolves.
   * `catchAll`: it takes what no other check claims (and does not count as claiming).
   */
  listen(wants: (labels: Record<string, string>) => boolean, onAlert: () => void, catchAll?: boolean): () => void;
  /** Whether a check other than the catch-all ones wants an alert with these labels. */
  claimed(labels: Record<string, string>): boolean;
}

/** Services a probe may need from the running bot; the composition root fills them in. */
export interface CheckEnvironment {
  /** The check's own name (for file names, log lines). */
  checkName: string;
  log: Logger;
  dataDir: string;
  now: () => number;
  /** Probes the bot itself: event-loop delay, store writability, heartbeat age. */
  self: SelfProbe;
  /** Asks the patrol to run this check as soon as possible (a supervised child just exited). */
  requestRun: () => void;
  /** Persisted state of this check's probe. */
  state: ProbeState;
  heartbeats: HeartbeatBoard;
  /** Alerts from Alertmanager (the `alert` kind). */
  alerts: AlertBoard;
  /**
   * The environment for a program this check starts: the bot's own without
   * its chat and HTTP secrets, with `extra` over it.
   */
  childEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Records an event about this check (every task a queue heal moved, every script quarantined), committed when it returns. */
  record: RecordProbeEvent;
}

/**
 * Events a probe or heal step records beyond its result, typed in
 * src/store/events.ts (EventContexts) under the same names.
 */
export type ProbeEventType = 'task.requeued' | 'task.gave_up' | 'script.quarantined' | 'change';

/** Appends one event about `subject` (a check's name); the engine dates it and cleans it of secrets. */
export type RecordProbeEvent = (type: ProbeEventType, severity: 'info' | 'warning' | 'critical', context: Record<string, unknown>) => void;

export interface SelfProbe {
  /** p99 event-loop delay over the last measurement window, in ms. */
  eventLoopDelayP99Ms(): number;
  /** Writes and reads back a row; throws when the store cannot be written. */
  storeRoundTrip(): void;
  /** Resident set size in bytes. */
  rssBytes(): number;
}

/** A configured check bound to its parameters; may keep state between runs (offsets, children). */
export interface Probe {
  /** Called once when the bot starts, before the first run (spawn a supervised child, clean up orphans). */
  start?(): Promise<void>;
  run(ctx: CheckRunContext): Promise<CheckResult>;
  /** What the `restart` heal does for this kind (respawn, pm2 restart, systemctl restart); absent when the kind cannot restart. */
  restart?(ctx: HealRunContext): Promise<HealResult>;
  /**
   * The operator acknowledged this check's incident (/ack): a check that fails until someone has seen a change
   * (drift) accepts what it sees now. Absent: an ack only quiets reminders.
   */
  acknowledge?(): void | Promise<void>;
  /** Releases what the probe holds (timers, children) when the bot stops. */
  dispose?(): Promise<void> | void;
}

/**
 * A check kind: one module under src/checks/, registered in index.ts.
 * `params` is the zod schema of its kind-specific keys in nightshift.yml.
 */
export interface CheckKind<Params = unknown> {
  kind: string;
  description: string;
  /**
   * What a failure of this kind is to the causal analysis: `symptom` when it
   * only reflects trouble elsewhere (a log's error spike), so it is never
   * counted as an effect or cascade; `cause` (the default) when it can be
   * the trouble itself.
   */
  causalRole?: CausalRole;
  params: z.ZodType<Params, Record<string, unknown>>;
  create(params: Params, env: CheckEnvironment): Probe;
}

export type CausalRole = 'symptom' | 'cause';

/** A registry holds kinds of different parameter types; each is checked where it is defined. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCheckKind = CheckKind<any>;

/** One heal step as configured: an action and its (already validated) parameters. */
export interface HealStepConfig<Action extends string = string> {
  action: Action;
  /** The step's keys as written (already validated); the action parses them with its schema. */
  params: Record<string, unknown>;
}

/**
 * A configured check, as every part of the bot sees it. config/ narrows
 * `kind` and the heal actions to the registered names.
 */
export interface CheckConfig<Kind extends string = string, Action extends string = string> {
  name: string;
  kind: Kind;
  severity: 'critical' | 'optional';
  intervalMs: number;
  timeoutMs: number;
  dependsOn: string[];
  failAfter: number;
  heal: HealStepConfig<Action>[];
  /** A failure returning this soon after a heal counts against the heal (regret -1). */
  cooldownMs: number;
  maxHeals: { count: number; windowMs: number };
  /** After an escalation the heal is retried this often; null: never. */
  retryAfterEscalationMs: number | null;
  /** The kind-specific keys as written (already validated); the probe parses them with its schema. */
  params: Record<string, unknown>;
}
