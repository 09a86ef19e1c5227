/**
 * bench:diagnose: the deterministic causal analysis over a week of stored events.
 *
 * Builds a temporary database (through the real migrations) holding 1,000,000
 * events about 50 checks: mostly check.failed rows of cascading outages in
 * seven stacks (a database process dies, its two APIs answer 502, the queue
 * behind one API stalls, its worker crashes, the worker's log spikes), with
 * recoveries, flapping APIs, standalone failures (a disk that fills often, an
 * Ollama that times out, a late backup) and the other event types the bot
 * writes (incidents, heals, heartbeats), and recorded changes (`change`
 * events: a deploy before one outage in three, env edits, model pulls, config
 * edits), which the analysis reads to name candidate latent causes. Failure
 * rows are dated by when their run began, as the patrol writes them. Then it
 * times `analyzeCausality` over
 * the whole window three times and prints each time and the best.
 * Target: <= 1 s. The last line is one JSON object.
 *
 * The analysis wants an index on events (type, subject, at). Until the
 * migrations create it, the bench times one run without it, then creates it
 * with the statement the migration would hold and times the three runs with
 * it; the JSON line says which ("index").
 *
 * `--db <file>` keeps the database there and reuses it on the next run (the
 * build takes longer than the analysis).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { analyzeCausality, type CausalCheck } from '../src/diagnose/causal.js';
import { openDatabase, type Db } from '../src/store/database.js';
import { machineInfo, round } from './lib/proc-stats.js';

const TARGET_EVENTS = 1_000_000;
const TARGET_MS = 1_000;
const RUNS = 3;
const WEEK_START = Date.UTC(2025, 0, 6);
const WEEK_MS = 7 * 86_400_000;
const SECOND = 1_000;
const MINUTE = 60_000;

const STACKS = ['billing', 'search', 'agents', 'ingest', 'mail', 'media', 'chat'];

/** The 50 checks: seven stacks of six cascading checks, and eight standalone ones. */
function benchChecks(): CausalCheck[] {
  const checks: CausalCheck[] = [];
  for (const s of STACKS) {
    checks.push(
      { name: `${s}-db`, kind: 'process', dependsOn: [] },
      { name: `${s}-api-1`, kind: 'http', dependsOn: [`${s}-db`] },
      { name: `${s}-api-2`, kind: 'http', dependsOn: [`${s}-db`] },
      { name: `${s}-queue`, kind: 'command', dependsOn: [`${s}-api-1`] },
      { name: `${s}-worker`, kind: 'pm2', dependsOn: [`${s}-queue`] },
      { name: `${s}-worker-log`, kind: 'log', dependsOn: [`${s}-worker`] },
    );
  }
  checks.push(
    { name: 'disk-root', kind: 'disk', dependsOn: [] },
    { name: 'disk-data', kind: 'disk', dependsOn: [] },
    { name: 'memory', kind: 'memory', dependsOn: [] },
    { name: 'ollama', kind: 'http', dependsOn: [] },
    { name: 'nightly-backup', kind: 'heartbeat', dependsOn: [] },
    { name: 'cron-lock', kind: 'lockfile', dependsOn: [] },
    { name: 'agent-config', kind: 'file', dependsOn: [] },
    { name: 'nightshift', kind: 'self', dependsOn: [] },
  );
  return checks;
}

/** A small deterministic PRNG (mulberry32): the same database on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Row = [at: number, type: string, subject: string, severity: string, context: string];

/** What a failed run of each kind writes (the shapes the real check kinds produce). */
function failedContext(kind: string, name: string, consecutive: number, random: () => number): string {
  const durationMs = round(1 + random() * 40, 2);
  const base = { kind, durationMs, consecutiveFailures: consecutive };
  const latencyMs = Math.round(2 + random() * 30);
  switch (kind) {
    case 'process': {
      const uptimeMs = Math.round(random() * 600_000);
      return JSON.stringify({
        ...base,
        message: `exited with code 1 after ${Math.round(uptimeMs / 1000)}s`,
        pid: 10_000 + Math.floor(random() * 50_000),
        exitCode: 1,
        signal: null,
        uptimeMs,
        stderrTail: 'FATAL:  could not open file "base/16384/2619": No space left on device\nLOG:  database system is shut down',
        spawns: consecutive,
      });
    }
    case 'http':
      if (name === 'ollama')
        return JSON.stringify({
          ...base,
          message: `no answer from http://127.0.0.1:11434/api/tags after 5000 ms (aborted)`,
          url: 'http://127.0.0.1:11434/api/tags',
          latencyMs: 5000,
          errorCode: 'ABORTED',
          timedOut: true,
        });
      return JSON.stringify({
        ...base,
        message: `HTTP 502 after ${latencyMs} ms (expected 200-299)`,
        httpStatus: 502,
        latencyMs,
        bytes: 157,
        url: `http://127.0.0.1:${8000 + (name.length % 50)}/health`,
        bodySnippet: '{"error":"upstream database unavailable","retry":true}',
      });
    case 'command':
      return JSON.stringify({
        ...base,
        message: 'exit 2',
        exitCode: 2,
        signal: null,
        stderrTail: `queue depth ${1000 + Math.floor(random() * 9000)} > 1000 and no consumer ack for ${Math.floor(random() * 600)}s`,
        cwd: '/srv/agents',
      });
    case 'pm2':
      return JSON.stringify({ ...base, message: `errored (restarts ${consecutive + 3})`, pmId: 3, status: 'errored', restarts: consecutive + 3, uptimeMs: 0 });
    case 'log': {
      const errors = 11 + Math.floor(random() * 200);
      return JSON.stringify({
        ...base,
        message: `error spike: ${errors} errors in the last 5m (max 10)`,
        path: `/var/log/agents/${name}.log`,
        bytes: 48_000_000,
        newBytes: 20_000,
        newLines: 180,
        errorsInWindow: errors,
        sampleErrors: ['ERROR queue.consume: connection reset by peer', 'ERROR job 88121 failed: upstream returned 502'],
        rotated: false,
        truncated: false,
      });
    }
    case 'disk': {
      const percent = 91 + Math.floor(random() * 8);
      return JSON.stringify({
        ...base,
        message: `/data ${percent}% full (max 90%), ${(random() * 4).toFixed(1)} GiB free`,
        path: '/data',
        usedPercent: percent,
        freeBytes: Math.floor(random() * 4e9),
      });
    }
    case 'memory':
      return JSON.stringify({ ...base, message: `memory ${93 + Math.floor(random() * 5)}% used (max 92%)`, usedPercent: 95, availableBytes: 800_000_000 });
    case 'heartbeat':
      return JSON.stringify({ ...base, message: `no ping for ${25 + Math.floor(random() * 5)}h (expected every 24h)`, lastPingAt: WEEK_START, timer: true });
    default:
      return JSON.stringify({ ...base, message: `${kind} check failed: stale for ${Math.floor(random() * 900)}s`, path: '/srv/agents/run.lock' });
  }
}

/** Appends the failed runs of one failing stretch and its recovery (when it recovers before the week ends). */
function stretch(rows: Row[], check: CausalCheck, start: number, end: number, everyMs: number, random: () => number): void {
  let consecutive = 0;
  for (let at = start; at < end; at += everyMs) {
    consecutive++;
    rows.push([Math.round(at), 'check.failed', check.name, 'critical', failedContext(check.kind, check.name, consecutive, random)]);
  }
  if (consecutive > 0) {
    rows.push([
      Math.round(start),
      'incident.opened',
      check.name,
      'critical',
      JSON.stringify({ incidentId: rows.length, message: 'opened', symptomOf: check.dependsOn[0] ?? null, rootIncidentId: null }),
    ]);
    rows.push([Math.round(end), 'check.recovered', check.name, 'info', JSON.stringify({ kind: check.kind, message: 'ok', downForMs: end - start })]);
    rows.push([
      Math.round(end),
      'incident.closed',
      check.name,
      'info',
      JSON.stringify({ incidentId: rows.length, durationMs: end - start, failures: consecutive, symptomOf: null }),
    ]);
  }
}

/** A `change` event as the change watcher records it (src/changes/). */
function changeRow(at: number, subject: string, source: string, summary: string, checks: string[]): Row {
  return [Math.round(at), 'change', subject, 'info', JSON.stringify({ source, summary, checks, detectedAt: Math.round(at) })];
}

/** The week's events, in time order, exactly TARGET_EVENTS of them. */
function generateEvents(checks: CausalCheck[]): Row[] {
  const random = prng(20250106);
  const between = (low: number, high: number) => low + random() * (high - low);
  const byName = new Map(checks.map((c) => [c.name, c]));
  const get = (name: string): CausalCheck => byName.get(name)!;
  const rows: Row[] = [];

  // Cascading outages: each stack goes down every few hours for 5 min to 2 h.
  for (const s of STACKS) {
    let t = WEEK_START + between(0, 3 * 60 * MINUTE);
    while (t < WEEK_START + WEEK_MS) {
      const down = between(5 * MINUTE, 120 * MINUTE);
      const end = t + down;
      stretch(rows, get(`${s}-db`), t, end, 10 * SECOND, random);
      // One outage in three follows a deploy of the stack (git HEAD moved) a few minutes before: a candidate latent cause.
      if (random() < 1 / 3) rows.push(changeRow(t - between(1 * MINUTE, 30 * MINUTE), s, 'git', `git HEAD of ${s} moved`, [`${s}-db`, `${s}-api-1`]));
      rows.push([
        Math.round(t + 15 * SECOND),
        'heal.attempted',
        `${s}-db`,
        'info',
        JSON.stringify({ incidentId: 1, steps: ['restart'], delayMs: 0, attempt: 1 }),
      ]);
      rows.push([
        Math.round(t + 25 * SECOND),
        'heal.failed',
        `${s}-db`,
        'warning',
        JSON.stringify({ incidentId: 1, steps: [{ action: 'restart', ok: false, message: 'exited again after 2s', durationMs: 2100 }], durationMs: 2100 }),
      ]);
      const api1 = t + between(5 * SECOND, 60 * SECOND);
      const api2 = t + between(5 * SECOND, 60 * SECOND);
      stretch(rows, get(`${s}-api-1`), api1, end + between(10 * SECOND, 30 * SECOND), 10 * SECOND, random);
      // api-2 flaps: it answers once in the middle of a long outage (a cached health page), then fails again.
      if (down > 40 * MINUTE) {
        const gap = api2 + down / 2;
        stretch(rows, get(`${s}-api-2`), api2, gap, 10 * SECOND, random);
        stretch(rows, get(`${s}-api-2`), gap + 30 * SECOND, end + between(10 * SECOND, 30 * SECOND), 10 * SECOND, random);
      } else {
        stretch(rows, get(`${s}-api-2`), api2, end + between(10 * SECOND, 30 * SECOND), 10 * SECOND, random);
      }
      const queue = api1 + between(30 * SECOND, 3 * MINUTE);
      stretch(rows, get(`${s}-queue`), queue, end + between(30 * SECOND, 90 * SECOND), 15 * SECOND, random);
      const worker = queue + between(20 * SECOND, 90 * SECOND);
      stretch(rows, get(`${s}-worker`), worker, end + between(60 * SECOND, 120 * SECOND), 10 * SECOND, random);
      const log = worker + between(10 * SECOND, 60 * SECOND);
      stretch(rows, get(`${s}-worker-log`), log, end + between(3 * MINUTE, 5 * MINUTE), 10 * SECOND, random);
      t = end + between(20 * MINUTE, 150 * MINUTE);
    }
  }
  // Standalone problems: the data disk fills often (short stretches), Ollama hangs now and then, the backup is late once.
  for (let t = WEEK_START + between(0, 60 * MINUTE); t < WEEK_START + WEEK_MS; t += between(20 * MINUTE, 90 * MINUTE)) {
    stretch(rows, get('disk-data'), t, t + between(2 * MINUTE, 20 * MINUTE), 10 * SECOND, random);
  }
  for (let t = WEEK_START + between(0, 6 * 60 * MINUTE); t < WEEK_START + WEEK_MS; t += between(3 * 60 * MINUTE, 12 * 60 * MINUTE)) {
    stretch(rows, get('ollama'), t, t + between(5 * MINUTE, 30 * MINUTE), 10 * SECOND, random);
  }
  stretch(rows, get('nightly-backup'), WEEK_START + 3 * 86_400_000 + 2 * 60 * MINUTE, WEEK_START + 3 * 86_400_000 + 9 * 60 * MINUTE, 60 * SECOND, random);
  stretch(rows, get('memory'), WEEK_START + 5 * 86_400_000, WEEK_START + 5 * 86_400_000 + 40 * MINUTE, 10 * SECOND, random);
  // Other recorded changes: an env file edit and a model pull twice a day, a config edit each day.
  for (let t = WEEK_START; t < WEEK_START + WEEK_MS; t += 12 * 60 * MINUTE) {
    rows.push(changeRow(t + between(0, 60 * MINUTE), 'stack-a', 'env', '.env of stack-a changed: POOL_SIZE changed', ['stack-a-api-1']));
    rows.push(changeRow(t + between(0, 60 * MINUTE), 'ollama', 'models', 'ollama models changed: qwen2.5:7b pulled', ['ollama']));
  }
  for (let day = 0; day < 7; day++) rows.push(changeRow(WEEK_START + day * 86_400_000 + 9 * 60 * MINUTE, 'config', 'config', 'nightshift.yml changed', []));
  // Noise of other types: cron heartbeats every 15 s from two jobs, and a restart of the bot each day.
  for (let t = WEEK_START; t < WEEK_START + WEEK_MS; t += 15 * SECOND) {
    rows.push([t, 'heartbeat.received', 'sync-job', 'debug', JSON.stringify({ kind: 'ping' })]);
    rows.push([t + 7 * SECOND, 'heartbeat.received', 'embedder', 'debug', JSON.stringify({ kind: 'ping', body: 'ok 42 docs' })]);
  }
  for (let day = 0; day < 7; day++) {
    rows.push([
      WEEK_START + day * 86_400_000 + 4 * 60 * MINUTE,
      'instance.started',
      'nightshift',
      'info',
      JSON.stringify({ pid: 4000 + day, version: '0.1.0', config: '/etc/nightshift.yml', http: '127.0.0.1:8787' }),
    ]);
  }
  rows.sort((a, b) => a[0] - b[0]);
  if (rows.length < TARGET_EVENTS) throw new Error(`the generator made only ${rows.length} events; raise the outage density`);
  rows.length = TARGET_EVENTS;
  return rows;
}

/** Writes the rows in one transaction through one prepared statement. */
function insertAll(db: Db, rows: Row[]): void {
  const insert = db.prepare('INSERT INTO events (at, type, subject, severity, context) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (const row of rows) insert.run(row[0], row[1], row[2], row[3], row[4]);
  })();
}

/** The index the stretch queries need (proposed as a migration; see src/diagnose/causal.ts). */
const INDEX_NAME = 'events_type_subject_at';
const INDEX_SQL = `CREATE INDEX IF NOT EXISTS ${INDEX_NAME} ON events (type, subject, at)`;

/** Whether some index on events starts with (type, subject, at), whatever its name. */
function hasStretchIndex(db: Db): boolean {
  const indexes = db.prepare("SELECT name FROM pragma_index_list('events')").pluck().all() as string[];
  return indexes.some((name) => {
    const columns = db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(name) as string[];
    return columns.slice(0, 3).join(',') === 'type,subject,at';
  });
}

/** One timed analysis of the whole window. */
function timed(db: Db, checks: CausalCheck[], from: number, to: number) {
  const started = performance.now();
  const analysis = analyzeCausality(db, checks, { from, to });
  return { ms: round(performance.now() - started, 1), analysis };
}

const args = process.argv.slice(2);
const keepAt = args.includes('--db') ? args[args.indexOf('--db') + 1] : undefined;
const tempFolder = keepAt ? undefined : mkdtempSync(join(tmpdir(), 'nightshift-bench-diagnose-'));
const file = keepAt ?? join(tempFolder!, 'nightshift.db');
const checks = benchChecks();

try {
  const reuse = existsSync(file);
  const db = openDatabase(file);
  let buildMs = 0;
  if (!reuse) {
    const started = performance.now();
    const rows = generateEvents(checks);
    insertAll(db, rows);
    db.pragma('wal_checkpoint(TRUNCATE)');
    // No ANALYZE: the bot never runs it, so the planner works without statistics here too.
    buildMs = Math.round(performance.now() - started);
    console.log(`built ${rows.length.toLocaleString('en')} events over ${checks.length} checks in ${buildMs} ms (one transaction, one prepared statement)`);
  } else {
    console.log(`reusing ${file}`);
  }
  const { events, from, to } = db.prepare('SELECT COUNT(*) AS events, MIN(at) AS "from", MAX(at) AS "to" FROM events').get() as {
    events: number;
    from: number;
    to: number;
  };

  const changeEvents = (db.prepare("SELECT count(*) AS n FROM events WHERE type = 'change'").get() as { n: number }).n;
  const indexInSchema = hasStretchIndex(db);
  let withoutIndexMs: number | null = null;
  if (!indexInSchema) {
    withoutIndexMs = timed(db, checks, from, to).ms;
    console.log(`the migrations have no index on events (type, subject, at): one run without it took ${withoutIndexMs} ms`);
    const started = performance.now();
    db.exec(INDEX_SQL);
    console.log(`created ${INDEX_NAME} as the pending migration would (${Math.round(performance.now() - started)} ms); the runs below use it`);
  }

  const times: number[] = [];
  let chains = 0;
  let totalFailures = 0;
  let top = '';
  let latentCauses = 0;
  let clusters = 0;
  for (let run = 1; run <= RUNS; run++) {
    const { ms, analysis } = timed(db, checks, from, to);
    times.push(ms);
    chains = analysis.chains.length;
    totalFailures = analysis.totalFailures;
    top = analysis.chains[0] ? `${analysis.chains[0].root.check} (explains ${analysis.chains[0].explainedFailures})` : 'none';
    latentCauses = analysis.chains.reduce((sum, c) => sum + c.latentCauses.length, 0);
    clusters = analysis.clusters.length;
    console.log(
      `run ${run}: analysis of ${events.toLocaleString('en')} events in ${ms} ms: ${chains} chains, ${totalFailures.toLocaleString('en')} failures, top root ${top}`,
    );
  }
  db.close();
  const bestMs = Math.min(...times);
  console.log(`best ${bestMs} ms (target <= ${TARGET_MS} ms): ${bestMs <= TARGET_MS ? 'met' : 'NOT met'}`);
  console.log(
    JSON.stringify({
      bench: 'diagnose',
      events,
      checks: checks.length,
      failures: totalFailures,
      buildMs: reuse ? null : buildMs,
      analysisMs: times,
      bestMs,
      targetMs: TARGET_MS,
      chains,
      topRoot: top,
      changeEvents,
      latentCauses,
      clusters,
      index: indexInSchema ? 'from migrations' : 'created by the bench (migration pending)',
      withoutIndexMs,
      machine: machineInfo(),
    }),
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  if (tempFolder) rmSync(tempFolder, { recursive: true, force: true });
}
