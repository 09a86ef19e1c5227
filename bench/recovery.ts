/**
 * npm run bench:recovery — how fast a killed service is noticed and healthy
 * again, through the real path: `nightshift start` (a child process) with a
 * `process` check supervising a small HTTP server, and a `pm2` check on the
 * same server run by a real pm2 daemon. Each is killed with SIGKILL N times;
 * the bench measures kill → detection (the check.failed event the bot
 * committed) and kill → the service answering HTTP again. The floor is the
 * same service respawned by a bare parent.
 *
 * Env: BENCH_KILLS (default 20), BENCH_PM2_KILLS (default 10).
 * Last line: one JSON object.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { packageRoot } from '../src/paths.js';
import { closedPort } from '../test/helpers/net.js';
import { hardLimit } from './lib/bot-process.js';
import { BOT_ENV, HTTP_SERVICE as SERVICE, startBot, stats, waitHealthy } from './lib/service-health.js';

const KILLS = Number(process.env.BENCH_KILLS ?? 20);
const PM2_KILLS = Number(process.env.BENCH_PM2_KILLS ?? 10);
const BARE = join(packageRoot, 'bench', 'services', 'bare-supervisor.mjs');
const PM2 = join(packageRoot, 'node_modules', '.bin', 'pm2');
const HARD_LIMIT_MS = 5 * 60_000;

const work = mkdtempSync(join(tmpdir(), 'nightshift-bench-recovery-'));
const children: ChildProcess[] = [];
hardLimit('bench:recovery', HARD_LIMIT_MS, cleanup);

async function floor(): Promise<number[]> {
  const port = await closedPort();
  // The same environment the bot (and so its children) gets.
  const bare = spawn(process.execPath, [BARE, SERVICE, String(port)], { stdio: 'ignore', env: BOT_ENV });
  children.push(bare);
  let pid = await waitHealthy(port);
  const samples: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    pid = await waitHealthy(port, pid);
    samples.push(performance.now() - killedAt);
  }
  bare.kill('SIGTERM');
  await once(bare, 'exit');
  return samples;
}

/** Wall-clock ms of the first check.failed event after `since` (the bot's own commit of the detection). */
async function detectedAt(db: Database.Database, check: string, since: number, timeoutMs = 10_000): Promise<number> {
  const query = db.prepare("SELECT at FROM events WHERE type = 'check.failed' AND subject = ? AND at >= ? ORDER BY id LIMIT 1");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = query.get(check, since) as { at: number } | undefined;
    if (row) return row.at;
    if (Date.now() > deadline) throw new Error(`no check.failed for ${check} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function nightshiftProcess(): Promise<{ detect: number[]; healthy: number[] }> {
  const port = await closedPort();
  // maxHeals is raised so that 20 kills in a minute are all healed: the bench measures one recovery, 20 times.
  // cooldown 0s: the kills are the bench's, not a restart that did not hold, so the regret index must not score
  // each restart -1 for a failure that "came back" (three of those flag restarts, as designed, and stop them).
  const { bot, db } = await startBot(
    join(work, 'process'),
    `patrol: { interval: 1s }\nchecks:\n  - name: svc\n    kind: process\n    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(SERVICE)}, "${port}"]\n    heal: [restart]\n    cooldown: 0s\n    maxHeals: { count: ${KILLS + 5}, window: 15m }\n`,
  );
  children.push(bot.child);
  let pid = await waitHealthy(port);
  const detect: number[] = [];
  const healthy: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    // Let the previous heal hold (healthy through one full patrol interval), as it would between real crashes.
    await new Promise((r) => setTimeout(r, 1_200));
    const wallKilledAt = Date.now();
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    try {
      pid = await waitHealthy(port, pid);
    } catch (err) {
      // What Nightshift did meanwhile, for whoever has to find out why.
      const recent = db.prepare("SELECT type, subject, context FROM events WHERE type != 'check.failed' ORDER BY id DESC LIMIT 15").all() as Array<
        Record<string, unknown>
      >;
      for (const e of recent.reverse()) console.error(`  ${String(e.type)} ${String(e.subject)} ${String(e.context)}`);
      throw err;
    }
    healthy.push(performance.now() - killedAt);
    detect.push((await detectedAt(db, 'svc', wallKilledAt)) - wallKilledAt);
  }
  const escalations = (db.prepare("SELECT count(*) AS n FROM events WHERE type = 'escalated'").get() as { n: number }).n;
  if (escalations > 0) console.error(`warning: ${escalations} escalation(s) during the process bench`);
  db.close();
  await bot.stop();
  return { detect, healthy };
}

function pm2(args: string[], home: string): string {
  const result = spawnSync(PM2, args, { env: { ...process.env, PM2_HOME: home }, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`pm2 ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function pm2Pid(home: string, app: string): number {
  const listing = pm2(['jlist'], home);
  const list = JSON.parse(listing.slice(listing.indexOf('['))) as Array<{ name: string; pid: number }>;
  return list.find((a) => a.name === app)!.pid;
}

async function pm2Bench(): Promise<{ detect: number[]; healthy: number[]; pm2Autorestart: number[] }> {
  const home = join(work, 'pm2-home');
  const port = await closedPort();
  const autoPort = await closedPort();
  try {
    // Nightshift heals this one: pm2's own autorestart is off.
    pm2(['start', SERVICE, '--name', 'svc', '--no-autorestart', '--', String(port)], home);
    // pm2 alone heals this one: the reference figure.
    pm2(['start', SERVICE, '--name', 'auto', '--', String(autoPort)], home);
    let autoPid = await waitHealthy(autoPort);
    const pm2Autorestart: number[] = [];
    for (let i = 0; i < PM2_KILLS; i++) {
      const killedAt = performance.now();
      process.kill(autoPid, 'SIGKILL');
      autoPid = await waitHealthy(autoPort, autoPid);
      pm2Autorestart.push(performance.now() - killedAt);
    }

    const { bot, db } = await startBot(
      join(work, 'pm2'),
      `patrol: { interval: 1s }\nchecks:\n  - name: svc\n    kind: pm2\n    app: svc\n    pm2Bin: ${JSON.stringify(PM2)}\n    pm2Home: ${JSON.stringify(home)}\n    interval: 1s\n    heal: [restart]\n    maxHeals: { count: ${PM2_KILLS + 5}, window: 15m }\n    restartLoop: { maxRestarts: ${PM2_KILLS + 5}, window: 10m }\n`,
    );
    children.push(bot.child);
    await waitHealthy(port);
    const detect: number[] = [];
    const healthy: number[] = [];
    for (let i = 0; i < PM2_KILLS; i++) {
      await new Promise((r) => setTimeout(r, 2_200));
      const pid = pm2Pid(home, 'svc');
      const wallKilledAt = Date.now();
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      await waitHealthy(port, pid);
      healthy.push(performance.now() - killedAt);
      detect.push((await detectedAt(db, 'svc', wallKilledAt)) - wallKilledAt);
    }
    db.close();
    await bot.stop();
    return { detect, healthy, pm2Autorestart };
  } finally {
    spawnSync(PM2, ['kill'], { env: { ...process.env, PM2_HOME: home }, timeout: 30_000 });
  }
}

function cleanup(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}

try {
  const load = loadavg()[0]!.toFixed(2);
  // The floor is measured before and after the Nightshift runs and the faster is kept, so warm-up does not flatter Nightshift.
  const floorBefore = await floor();
  const proc = await nightshiftProcess();
  const floorAfter = await floor();
  const floorSamples = [stats(floorBefore), stats(floorAfter)].sort((a, b) => a.median - b.median)[0]!;
  console.log(
    `floor (bare parent respawn) → healthy: median ${floorSamples.median} ms, p95 ${floorSamples.p95} ms (before: ${stats(floorBefore).median} ms, after: ${stats(floorAfter).median} ms)`,
  );
  const procDetect = stats(proc.detect);
  const procHealthy = stats(proc.healthy);
  console.log(
    `nightshift process check → detect: median ${procDetect.median} ms, p95 ${procDetect.p95} ms; healthy: median ${procHealthy.median} ms, p95 ${procHealthy.p95} ms (${(procHealthy.median / floorSamples.median).toFixed(2)}x the floor)`,
  );
  const pm2Result = await pm2Bench();
  const pm2Detect = stats(pm2Result.detect);
  const pm2Healthy = stats(pm2Result.healthy);
  const pm2Auto = stats(pm2Result.pm2Autorestart);
  console.log(`pm2 autorestart alone → healthy: median ${pm2Auto.median} ms`);
  console.log(
    `nightshift pm2 check (1 s interval) → detect: median ${pm2Detect.median} ms, p95 ${pm2Detect.p95} ms; healthy: median ${pm2Healthy.median} ms, p95 ${pm2Healthy.p95} ms`,
  );
  console.log(
    JSON.stringify({
      bench: 'recovery',
      kills: KILLS,
      floorHealthyMs: floorSamples,
      process: { detectMs: procDetect, healthyMs: procHealthy, healthyVsFloor: Number((procHealthy.median / floorSamples.median).toFixed(2)) },
      pm2: { kills: PM2_KILLS, intervalS: 1, detectMs: pm2Detect, healthyMs: pm2Healthy, pm2AutorestartHealthyMs: pm2Auto },
      targets: { detectMs: 10, healthyVsFloor: 1.3, pm2DetectMs: 1500 },
      detectResolution: 'ms (event timestamps are wall-clock ms)',
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadAvg1mAtStart: Number(load), node: process.version },
    }),
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  cleanup();
}
