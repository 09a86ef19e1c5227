import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { tempDir, waitFor } from './helpers/temp.js';
import { startInProcess } from './helpers/bot.js';

const SERVICES = join(packageRoot, 'test', 'fakes', 'services');

/** A real bot in this process: real store, real patrol, real children; console output captured. */
async function startApp(t: TestContext, yaml: string) {
  const dataDir = tempDir(t);
  return { ...(await startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: dataDir } })), dataDir };
}

test('a child that exits at once on every start is restarted at most maxHeals times and escalated exactly once', async (t) => {
  const bot = await startApp(
    t,
    `
patrol: { interval: 1s }
checks:
  - name: crashy
    kind: process
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(SERVICES, 'exit-at-once.mjs'))}]
    heal: [restart]
    cooldown: 0s
    maxHeals: { count: 3, window: 15m }
`,
  );
  await waitFor(() => bot.events.ofType('escalated').length === 1, { timeoutMs: 20_000, what: 'the escalation' });
  const heals = bot.events.ofType('heal.attempted');
  assert.equal(heals.length, 3, 'restarted exactly maxHeals times');
  assert.deepEqual(
    heals.map((h) => h.context.delayMs),
    [0, 1000, 2000],
    'the first restart is immediate, repeats back off',
  );
  // Keep patrolling a while longer: no more restarts, no second escalation.
  const runsAtEscalation = bot.events.ofType('check.failed').length;
  await waitFor(() => bot.events.ofType('check.failed').length >= runsAtEscalation + 3, { timeoutMs: 10_000, what: 'three more patrols' });
  assert.equal(bot.events.ofType('heal.attempted').length, 3);
  assert.equal(bot.events.ofType('escalated').length, 1);
  assert.equal(readdirSync(join(bot.dataDir, 'escalations')).length, 1);
  assert.match(bot.output(), /\[CRIT\] crashy needs you: healed 3 times within 15 min \(maxHeals 3\)/);
  const failed = bot.events.ofType('check.failed').at(-1)!;
  assert.equal(failed.context.exitCode, 3);
  assert.match(String(failed.context.stderrTail), /boom/);

  const status = (await (await fetch(`http://${bot.http}/status.json`)).json()) as { text: string };
  assert.match(status.text, /^SUMMARY: DEGRADED {2}core=active {2}checks=1 {2}failing=1 {2}stale=0 {2}inactive_timers=0 {2}heals_24h=3 {2}escalations=1/);
  assert.match(status.text, /FAIL {2}crashy \(process, critical\): exited with code 3 .*escalated/);
  const metrics = await (await fetch(`http://${bot.http}/metrics`)).text();
  assert.match(metrics, /nightshift_check_heals_24h\{check="crashy"\} 3/);
  assert.match(metrics, /nightshift_escalations_24h 1/);
});

test('a supervised service killed with -9 is respawned at once, answers again, and wakes nobody', async (t) => {
  const bot = await startApp(
    t,
    `
chat: { groupWait: 0s }
checks:
  - name: web
    kind: process
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(SERVICES, 'http-health.mjs'))}]
    heal: [restart]
`,
  );
  const pidOf = () => {
    const state = bot.db.prepare("SELECT value FROM probe_state WHERE check_name = 'web'").get() as { value: string } | undefined;
    return state ? (JSON.parse(state.value) as { pid?: number } | null)?.pid : undefined;
  };
  const first = await waitFor(() => pidOf(), { what: 'the child pid' });
  process.kill(first, 'SIGKILL');
  const second = await waitFor(
    () => {
      const pid = pidOf();
      return pid !== undefined && pid !== first ? pid : undefined;
    },
    { what: 'a respawned child' },
  );
  assert.notEqual(second, first);
  await waitFor(() => bot.events.ofType('incident.closed').length === 1, { what: 'the incident to close' });
  const [heal] = bot.events.ofType('heal.succeeded');
  assert.equal(heal!.context.steps[0]!.action, 'restart');
  // Healed in time: recorded for the briefing, never pushed, and so no recovery either.
  await waitFor(() => bot.events.ofType('incident.unannounced').length === 1, { what: 'the incident to be kept for the briefing' });
  assert.doesNotMatch(bot.output(), /web is failing/);
  assert.doesNotMatch(bot.output(), /web recovered/);
});

test("a dead-man's switch: pings keep it healthy, /fail and silence fail it", async (t) => {
  const bot = await startApp(
    t,
    `
patrol: { interval: 1s }
checks:
  - name: nightly-backup
    kind: heartbeat
    period: 1s
    grace: 1s
    severity: optional
`,
  );
  const base = `http://${bot.http}/ping/nightly-backup`;
  assert.equal((await fetch(`http://${bot.http}/ping/unknown-job`)).status, 404);
  assert.equal((await fetch(base)).status, 200);
  await waitFor(
    async () =>
      (
        (await (await fetch(`http://${bot.http}/status.json`)).json()) as { details: Array<{ status: string; message: string }> }
      ).details[0]!.message.startsWith('last ping'),
    { what: 'the ping to count' },
  );
  assert.equal((await fetch(`${base}/fail`, { method: 'POST', body: 'pg_dump: connection refused' })).status, 200);
  await waitFor(() => bot.events.ofType('check.failed').some((e) => /reported failure.*pg_dump: connection refused/.test(e.context.message)), {
    what: 'the reported failure',
  });
  await fetch(base);
  await waitFor(() => bot.events.ofType('check.recovered').length >= 1, { what: 'recovery after a good ping' });
  await waitFor(() => bot.events.ofType('check.failed').some((e) => /last ping .* ago; expected every period 1s \+ grace 1s/.test(e.context.message)), {
    timeoutMs: 10_000,
    what: 'silence to be noticed',
  });
});
