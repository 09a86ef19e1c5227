import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { OutgoingMessage } from '../../src/chat/channel.js';
import type { CheckResult, HealResult, Probe } from '../../src/checks/types.js';
import type { CheckConfig } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/clock.js';
import { Engine } from '../../src/engine.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { keepOnTestEnd } from '../fakes/artefacts.js';
import { tempDir } from './temp.js';

/**
 * A probe the test steers: it answers what `health` says and counts
 * restarts. It stands in for the watched service; the engine around it
 * (patrol, incidents, recovery, store) is the real one.
 */
export class SteeredProbe implements Probe {
  health: CheckResult = { ok: true, message: 'fine' };
  restarts = 0;
  /** What a restart does to the service. */
  onRestart: () => HealResult = () => {
    this.health = { ok: true, message: 'fine after restart' };
    return { ok: true, message: `restarted (${this.restarts})` };
  };
  async run(): Promise<CheckResult> {
    return this.health;
  }
  async restart(): Promise<HealResult> {
    this.restarts++;
    return this.onRestart();
  }
  fail(message = 'down', details?: Record<string, unknown>): void {
    this.health = { ok: false, message, ...(details ? { details } : {}) };
  }
  recover(): void {
    this.health = { ok: true, message: 'fine' };
  }
}

/**
 * The engine the bot runs (src/engine.ts), on a real database with a
 * hand-moved clock and steered probes; runs happen when the test says (the
 * patrol is not started). Messages the bot would send are collected.
 */
export function createEngine(t: TestContext, checks: CheckConfig[], options: { backoffBaseMs?: number; yaml?: string } = {}) {
  const dataDir = tempDir(t);
  const db = openDatabase(join(dataDir, 'n.db'));
  const clock = new ManualClock();
  const redactor = new Redactor();
  const { logger, lines } = createCapturedLogger(redactor);
  const events = new EventLog(db, redactor);
  // Group wait 0: each notice becomes a message at once (grouping has its own tests).
  const base = parseConfig(
    `chat:\n  groupWait: 0s\npatrol:\n  healTimeout: 5s\n${options.yaml ?? ''}`,
    'test.yml',
    { TZ: 'UTC', NIGHTSHIFT_HTTP: '127.0.0.1:0', NIGHTSHIFT_DATA_DIR: dataDir },
    dataDir,
  );
  const config = { ...base, checks };
  const probes = new Map<string, SteeredProbe>(checks.map((c) => [c.name, new SteeredProbe()]));
  const alerts: OutgoingMessage[] = [];
  const engine = new Engine({
    config,
    db,
    events,
    clock,
    log: logger,
    redactor,
    send: (message) => void alerts.push(message),
    publicUrl: 'http://127.0.0.1:8787',
    startedAt: clock.now(),
    probeFor: (check) => probes.get(check.name)!,
    ...(options.backoffBaseMs !== undefined ? { healBackoffBaseMs: options.backoffBaseMs } : {}),
  });
  // The runs the engine asks for (a heal's verification, a dependency checked first), recorded as they reach the patrol.
  const verifyRequests: string[] = [];
  const requestRun = engine.patrol.requestRun.bind(engine.patrol);
  engine.patrol.requestRun = (name: string) => {
    verifyRequests.push(name);
    requestRun(name);
  };
  t.after(async () => {
    await engine.stop();
    db.close();
  });
  keepOnTestEnd(t, 'engine', () => [...lines(), ...alerts]);
  /** One patrol of every check, then every heal it started. */
  const patrolOnce = async () => {
    await engine.patrol.runAll();
    await engine.settled();
  };
  return {
    db,
    dataDir,
    clock,
    engine,
    patrol: engine.patrol,
    recovery: engine.recovery,
    regret: engine.regret,
    probes,
    alerts,
    events,
    incidents: engine.incidents,
    actions: engine.actions,
    checkState: engine.checkState,
    lines,
    verifyRequests,
    patrolOnce,
    probe: (name: string) => probes.get(name)!,
  };
}
