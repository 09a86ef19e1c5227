import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { OutgoingMessage } from '../../src/chat/channel.js';
import type { CheckResult, HealResult, Probe } from '../../src/checks/types.js';
import type { CheckConfig } from '../../src/config/schema.js';
import { ManualClock } from '../../src/clock.js';
import { createHealStep } from '../../src/heal/index.js';
import { Recovery } from '../../src/heal/recovery.js';
import type { HealStep } from '../../src/heal/types.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { IncidentTracker } from '../../src/patrol/incidents.js';
import { Composer } from '../../src/notify/composer.js';
import { RegretIndex } from '../../src/regret/regret.js';
import { RegretStore } from '../../src/store/regret.js';
import { Patrol } from '../../src/patrol/patrol.js';
import { ActionStore } from '../../src/store/actions.js';
import { CheckStateStore } from '../../src/store/check-state.js';
import { openDatabase } from '../../src/store/database.js';
import { EscalationStore } from '../../src/store/escalations.js';
import { EventLog } from '../../src/store/events.js';
import { IncidentStore } from '../../src/store/incidents.js';
import { tempDir } from './temp.js';
import { childEnvironment } from '../../src/config/child-env.js';

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

/** The Level-1 engine on a real database with a hand-moved clock; runs happen when the test says. */
export function createEngine(t: TestContext, checks: CheckConfig[], options: { backoffBaseMs?: number } = {}) {
  const dataDir = tempDir(t);
  const db = openDatabase(join(dataDir, 'n.db'));
  const clock = new ManualClock();
  const { logger, lines } = createCapturedLogger(new Redactor());
  const checkState = new CheckStateStore(db);
  const events = new EventLog(db);
  const incidents = new IncidentStore(db);
  const actions = new ActionStore(db);
  const probes = new Map<string, SteeredProbe>(checks.map((c) => [c.name, new SteeredProbe()]));
  const alerts: OutgoingMessage[] = [];
  const notify = (m: OutgoingMessage) => void alerts.push(m);
  const verifyRequests: string[] = [];
  const patrol = new Patrol({ checks, probes, db, checkState, events, clock, log: logger, intervalMs: 10_000, concurrency: 8 });
  const steps = new Map<string, HealStep[]>(
    checks.map((c) => [
      c.name,
      c.heal.map((s) => createHealStep(s.action, s.params, { log: logger, dataDir, now: () => clock.now(), childEnv: childEnvironment })),
    ]),
  );
  // Group wait 0: each notice becomes a message at once (grouping has its own tests).
  const composer = new Composer({ clock, incidents, groupWaitMs: 0, stormThreshold: 20, repeatIntervalMs: 4 * 3_600_000, send: (m) => notify(m) });
  const tracker = new IncidentTracker({
    db,
    checks,
    incidents,
    checkState,
    events,
    clock,
    log: logger,
    flapping: { maxChanges: 5, windowMs: 600_000 },
    notify,
    notice: (n) => composer.notice(n),
  });
  const regret = new RegretIndex({ db, store: new RegretStore(db), events, clock, log: logger, checks, notify });
  const recovery = new Recovery({
    db,
    dataDir,
    timezone: 'UTC',
    probes,
    steps,
    checkState,
    incidents,
    actions,
    escalations: new EscalationStore(db),
    events,
    clock,
    log: logger,
    redactor: new Redactor(),
    healTimeoutMs: 5_000,
    notify,
    requestRun: (name) => verifyRequests.push(name),
    flagged: (check) => regret.flaggedReason(check),
    onAction: (action) => regret.onAction(action),
    ...(options.backoffBaseMs !== undefined ? { backoffBaseMs: options.backoffBaseMs } : {}),
  });
  patrol.on('result', (outcome) => {
    const update = tracker.onResult(outcome);
    regret.onResult(outcome);
    recovery.onResult(outcome, update);
  });
  t.after(async () => {
    await recovery.stop();
    await patrol.stop();
    db.close();
  });
  /** One patrol of every check, then every heal it started. */
  const patrolOnce = async () => {
    await patrol.runAll();
    await recovery.settled();
  };
  return {
    db,
    dataDir,
    clock,
    patrol,
    recovery,
    regret,
    probes,
    alerts,
    events,
    incidents,
    actions,
    checkState,
    lines,
    verifyRequests,
    patrolOnce,
    probe: (name: string) => probes.get(name)!,
  };
}
