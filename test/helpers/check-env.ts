import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { AlertBoard, CheckEnvironment, CheckKind, CheckResult, HeartbeatSnapshot, ProbeEventType } from '../../src/checks/types.js';
import { tempDir } from './temp.js';
import type { HealEnvironment } from '../../src/heal/types.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { childEnvironment } from '../../src/config/child-env.js';

/**
 * A CheckEnvironment for testing one probe alone: probe state in memory,
 * heartbeats set by the test, and a count of requestRun calls. Pass a shared
 * `state` map to simulate a restart of Nightshift (a new probe, same state).
 */
export function testCheckEnv(options: {
  checkName?: string;
  dataDir: string;
  state?: Map<string, unknown> | undefined;
  heartbeats?: Record<string, HeartbeatSnapshot>;
  now?: () => number;
  /** Alerts the probe sees (the `alert` kind); none by default. */
  alerts?: AlertBoard;
}) {
  const { logger, lines } = createCapturedLogger(new Redactor());
  const state = options.state ?? new Map<string, unknown>();
  const checkName = options.checkName ?? 'test-check';
  const runRequests: number[] = [];
  const events: RecordedEvent[] = [];
  const env: CheckEnvironment = {
    checkName,
    log: logger,
    dataDir: options.dataDir,
    now: options.now ?? Date.now,
    self: { eventLoopDelayP99Ms: () => 3, storeRoundTrip: () => {}, rssBytes: () => 50 * 1024 * 1024 },
    requestRun: () => runRequests.push(Date.now()),
    state: {
      get: <T>() => state.get(checkName) as T | undefined,
      set: <T>(value: T) => void state.set(checkName, value),
    },
    heartbeats: { latest: (name) => options.heartbeats?.[name] ?? {}, expect: () => () => {} },
    alerts: options.alerts ?? { firing: () => [], listen: () => () => {}, claimed: () => false },
    childEnv: childEnvironment,
    record: (type, severity, context) => void events.push({ type, subject: checkName, severity, context }),
  };
  return { env, logLines: lines, runRequests, state, events };
}

/** An event a probe or heal step recorded, as the engine would append it. */
export interface RecordedEvent {
  type: ProbeEventType;
  subject: string;
  severity: 'info' | 'warning' | 'critical';
  context: Record<string, unknown>;
}

/** A HealEnvironment for testing one heal action alone: the events it records are collected in `events`. */
export function testHealEnv(options: { dataDir: string; now?: () => number }) {
  const { logger, lines } = createCapturedLogger(new Redactor());
  const events: RecordedEvent[] = [];
  const env: HealEnvironment = {
    log: logger,
    dataDir: options.dataDir,
    now: options.now ?? Date.now,
    childEnv: childEnvironment,
    record: (type, subject, severity, context) => void events.push({ type, subject, severity, context }),
  };
  return { env, logLines: lines, events };
}

/** A run context with no deadline. */
export function runContext(): { signal: AbortSignal; now: () => number } {
  return { signal: new AbortController().signal, now: Date.now };
}

/** One probe of `kind` made from `params` in a temporary data dir; the function runs it once, at `now`. */
export function runnableProbe<P>(
  t: TestContext,
  kind: CheckKind<P>,
  params: Record<string, unknown>,
  now: () => number = Date.now,
): () => Promise<CheckResult> {
  const { env } = testCheckEnv({ dataDir: tempDir(t), now });
  const probe = kind.create(kind.params.parse(params), env);
  return () => probe.run({ signal: new AbortController().signal, now });
}

/** Why a kind's params schema refuses `params`: every issue's message (it fails the test when they are accepted). */
export function refusalOf(kind: Pick<CheckKind<unknown>, 'params'>, params: Record<string, unknown>): string[] {
  const parsed = kind.params.safeParse(params);
  assert.equal(parsed.success, false, `expected ${JSON.stringify(params)} to be refused`);
  return parsed.error.issues.map((issue) => issue.message);
}
