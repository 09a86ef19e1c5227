// Patrol bench: the real bot (bin/nightshift.js start, a child process) patrols 1,000 checks
// (http against local servers, tcp, file) every 10 s; we measure its CPU % of one core and peak RSS
// over a window after every check has run once. Targets: <= 5 % CPU and <= 150 MB RSS.
// Usage: npm run bench:patrol   (BENCH_SECONDS=15 for a quick trial; BENCH_BOT_NODE_ARGS="--cpu-prof
// --cpu-prof-dir=/tmp/prof" to profile the bot). The last line printed is one JSON object with the figures.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';

const PRODUCTION_NODE_ARGS = '--max-semi-space-size=4';
import { packageRoot } from '../src/paths.js';
import type { StatusSummary } from '../src/patrol/summary.js';
import { cpuPercent, machineInfo, readCpuTimes, readMemory, round } from './lib/proc-stats.js';
import { startTargets, type Targets } from './lib/targets.js';

const HTTP_CHECKS = 400;
const TCP_CHECKS = 300;
const FILE_CHECKS = 300;
const CHECK_COUNT = HTTP_CHECKS + TCP_CHECKS + FILE_CHECKS;
const INTERVAL_S = 10;
const HTTP_SERVERS = 4;
const TCP_SERVERS = 2;
const TARGET_CPU_PERCENT = 5;
const TARGET_RSS_MB = 150;

const seconds = positiveNumber(process.env.BENCH_SECONDS, 60);
// Three minutes for the default 60 s window; longer trials get the extra time they ask for.
const hardLimitMs = 180_000 + Math.max(0, seconds - 60) * 1000;
const BIN = join(packageRoot, 'bin', 'nightshift.js');

let bot: ChildProcess | undefined;
let tempRoot: string | undefined;
const hardLimit = setTimeout(() => {
  console.error(`bench:patrol: gave up after ${hardLimitMs / 1000} s (hard limit); killing the bot`);
  if (bot && bot.exitCode === null && bot.signalCode === null) bot.kill('SIGKILL');
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  process.exit(2);
}, hardLimitMs);
hardLimit.unref();

/** The bot's output, discarded as it arrives (so it never blocks on a full pipe) but counted, with a tail kept. */
class OutputDrain {
  lines = 0;
  private tailLines: string[] = [];
  private partial = '';

  constructor(
    stream: NodeJS.ReadableStream,
    private readonly onLine: (line: string) => void,
  ) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) {
        this.lines++;
        this.tailLines.push(line);
        if (this.tailLines.length > 20) this.tailLines.shift();
        this.onLine(line);
      }
    });
  }

  tail(): string {
    return [...this.tailLines, this.partial].filter(Boolean).join('\n');
  }
}

async function main(): Promise<number> {
  const machineAtStart = machineInfo();
  const root = mkdtempSync(join(tmpdir(), 'nightshift-bench-patrol-'));
  tempRoot = root;
  let targets: Targets | undefined;
  try {
    targets = await startTargets({ httpServers: HTTP_SERVERS, tcpServers: TCP_SERVERS, fileCount: FILE_CHECKS, fileDir: join(root, 'files') });
    const configFile = join(root, 'nightshift.yml');
    writeFileSync(configFile, stringify(benchConfig(targets)));
    mkdirSync(join(root, 'data'));

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TZ: 'UTC',
      NIGHTSHIFT_CONFIG: configFile,
      NIGHTSHIFT_DATA_DIR: join(root, 'data'),
      NIGHTSHIFT_HTTP: '127.0.0.1:0',
    };
    // Node flags for the bot only (e.g. --cpu-prof, which NODE_OPTIONS refuses).
    // By default the bot runs with the Node flags `npm start` and the deploy units use (a smaller young
    // generation: 150 MB peak → 135 MB at 1,000 checks, no CPU cost).
    const botNodeArgs = (process.env.BENCH_BOT_NODE_ARGS ?? PRODUCTION_NODE_ARGS).split(/\s+/).filter(Boolean);
    const child = spawn(process.execPath, [...botNodeArgs, BIN, 'start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    bot = child;
    const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    let onStarted: (address: string) => void = () => {};
    const startedLine = new Promise<string>((resolve) => (onStarted = resolve));
    const watchForStart = (line: string) => {
      const match = /"http":"([^"]+)"[^\n]*"msg":"nightshift started"/.exec(line);
      if (match) onStarted(match[1]!);
    };
    const stdout = new OutputDrain(child.stdout, watchForStart);
    const stderr = new OutputDrain(child.stderr, watchForStart);
    const fail = (why: string) => new Error(`${why}\nbot stdout tail:\n${stdout.tail()}\nbot stderr tail:\n${stderr.tail()}`);

    const launchedAt = performance.now();
    const startGiveUp = new AbortController();
    // The losers of this race resolve (never reject) so nothing is left to reject unhandled later.
    const startOutcome = await Promise.race([
      startedLine,
      exited.then(({ code, signal }) => fail(`the bot exited before starting (code ${code}, signal ${signal})`)),
      sleep(30_000, undefined, { signal: startGiveUp.signal }).then(
        () => fail('the bot did not log "nightshift started" within 30 s'),
        () => fail('start wait cancelled'),
      ),
    ]);
    startGiveUp.abort();
    if (startOutcome instanceof Error) throw startOutcome;
    const address = startOutcome;
    const base = `http://${address}`;
    const pid = child.pid!;
    console.log(
      `bot pid ${pid} listening on ${address}; started in ${Math.round(performance.now() - launchedAt)} ms; waiting for all ${CHECK_COUNT} checks to run once`,
    );

    const warmupStarted = performance.now();
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw fail('the bot exited during warm-up');
      const status = await getJson<StatusSummary>(`${base}/status.json`);
      const pending = status.details.filter((d) => d.lastRunAt === null).length;
      if (status.details.length === CHECK_COUNT && pending === 0) break;
      if (performance.now() - warmupStarted > 60_000) throw fail(`warm-up: ${pending} checks still had not run after 60 s`);
      await sleep(500);
    }
    const warmupMs = Math.round(performance.now() - warmupStarted);
    console.log(`warm-up done in ${warmupMs} ms (every check ran once); measuring for ${seconds} s`);

    const afterWarmup = readMemory(pid);
    const { runs: runsBefore } = await scrapeMetrics(base);
    const requestsBefore = { http: targets.httpRequests, tcp: targets.tcpConnections };
    const loadAtWindowStart = machineInfo().loadAverage;
    const benchCpuBefore = process.cpuUsage();
    const cpuBefore = readCpuTimes(pid);
    const windowStarted = performance.now();
    let maxSampledRssKB = readMemory(pid).rssKB;
    const sampler = setInterval(() => {
      try {
        maxSampledRssKB = Math.max(maxSampledRssKB, readMemory(pid).rssKB);
      } catch (err) {
        // The bot exited mid-window; the check after the window reports it.
        console.error(`rss sample failed: ${String(err)}`);
      }
    }, 1000);
    // The measurement window itself: a fixed wait is the point here.
    await sleep(seconds * 1000);
    clearInterval(sampler);
    if (child.exitCode !== null || child.signalCode !== null) throw fail('the bot exited during the measurement window');
    const cpuAfter = readCpuTimes(pid);
    const windowSeconds = (performance.now() - windowStarted) / 1000;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const memory = readMemory(pid);
    maxSampledRssKB = Math.max(maxSampledRssKB, memory.rssKB);
    const requests = { http: targets.httpRequests - requestsBefore.http, tcp: targets.tcpConnections - requestsBefore.tcp };

    const { runs: runsAfter, gauges } = await scrapeMetrics(base);
    const status = await getJson<StatusSummary>(`${base}/status.json`);
    const perCheck = status.details.map((d) => (runsAfter.get(d.name) ?? 0) - (runsBefore.get(d.name) ?? 0));
    const runs = perCheck.reduce((sum, n) => sum + n, 0);
    const failedRuns = sumFailed(runsAfter) - sumFailed(runsBefore);
    const durations = status.details.map((d) => d.lastDurationMs ?? 0).sort((a, b) => a - b);

    child.kill('SIGTERM');
    const stopGiveUp = new AbortController();
    const stop = await Promise.race([exited, sleep(15_000, null, { signal: stopGiveUp.signal }).catch(() => null)]);
    stopGiveUp.abort();
    if (stop === null) {
      child.kill('SIGKILL');
      await exited;
    }

    const userTicks = cpuAfter.userTicks - cpuBefore.userTicks;
    const systemTicks = cpuAfter.systemTicks - cpuBefore.systemTicks;
    const mainThreadTicks = cpuAfter.mainThreadTicks - cpuBefore.mainThreadTicks;
    const cpu = cpuPercent(userTicks + systemTicks, windowSeconds);
    const megabytes = (name: string) => round((gauges.get(name) ?? Number.NaN) / 1024 / 1024, 1);
    const peakRssMB = memory.peakRssKB / 1024;
    const result = {
      bench: 'patrol',
      botNodeArgs: process.env.BENCH_BOT_NODE_ARGS ?? PRODUCTION_NODE_ARGS,
      checks: CHECK_COUNT,
      mix: { http: HTTP_CHECKS, tcp: TCP_CHECKS, file: FILE_CHECKS },
      intervalS: INTERVAL_S,
      concurrency: 16,
      seconds: round(windowSeconds, 1),
      cpuPercentOfOneCore: round(cpu, 2),
      cpuSplit: {
        userPercent: round(cpuPercent(userTicks, windowSeconds), 2),
        systemPercent: round(cpuPercent(systemTicks, windowSeconds), 2),
        mainThreadPercent: round(cpuPercent(mainThreadTicks, windowSeconds), 2),
        otherThreadsPercent: round(cpuPercent(userTicks + systemTicks - mainThreadTicks, windowSeconds), 2),
      },
      peakRssMB: round(peakRssMB, 1),
      rssAtEndMB: round(memory.rssKB / 1024, 1),
      maxSampledRssMB: round(maxSampledRssKB / 1024, 1),
      // Where the peak comes from: start-up and the first burst of 1,000 runs, or the steady state.
      afterWarmup: { rssMB: round(afterWarmup.rssKB / 1024, 1), peakRssMB: round(afterWarmup.peakRssKB / 1024, 1) },
      heapAtEndMB: {
        used: megabytes('nightshift_process_nodejs_heap_size_used_bytes'),
        total: megabytes('nightshift_process_nodejs_heap_size_total_bytes'),
        external: megabytes('nightshift_process_nodejs_external_memory_bytes'),
      },
      runs,
      expectedRuns: Math.round((CHECK_COUNT * windowSeconds) / INTERVAL_S),
      runsPerCheck: { min: Math.min(...perCheck), max: Math.max(...perCheck) },
      failedRuns,
      failing: status.failing,
      stale: status.stale,
      lastDurationMs: { p50: round(percentile(durations, 0.5), 2), p95: round(percentile(durations, 0.95), 2), max: round(durations.at(-1) ?? 0, 2) },
      targetHits: requests,
      warmupMs,
      botOutputLines: stdout.lines + stderr.lines,
      botExit: stop === null ? 'killed after 15 s (SIGTERM ignored)' : { code: stop.code, signal: stop.signal },
      withinTargets: { cpu: cpu <= TARGET_CPU_PERCENT, rss: peakRssMB <= TARGET_RSS_MB },
      targets: { cpuPercentOfOneCore: TARGET_CPU_PERCENT, peakRssMB: TARGET_RSS_MB },
      // The bench process itself: the HTTP/TCP targets, the RSS sampler and two scrapes.
      benchProcessCpuPercent: round(((benchCpu.user + benchCpu.system) / 1e6 / windowSeconds) * 100, 2),
      machine: { ...machineAtStart, loadAverageAtWindowStart: loadAtWindowStart, loadAverageAtEnd: machineInfo().loadAverage },
    };
    console.log(
      `bot: ${result.cpuPercentOfOneCore} % of one core (target <= ${TARGET_CPU_PERCENT}), peak RSS ${result.peakRssMB} MB (target <= ${TARGET_RSS_MB}), ` +
        `${runs} runs in ${result.seconds} s (expected ~${result.expectedRuns}), ${failedRuns} failed, ${status.failing} failing now`,
    );
    console.log(`machine: ${machineAtStart.cpuModel}, ${machineAtStart.cores} cores, load ${machineAtStart.loadAverage.join(' ')} at start`);
    console.log(JSON.stringify(result));
    return 0;
  } finally {
    if (bot && bot.exitCode === null && bot.signalCode === null) bot.kill('SIGKILL');
    await targets?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** The nightshift.yml document: 1,000 checks at a 10 s interval against the local targets, no heal. */
function benchConfig(targets: Targets): Record<string, unknown> {
  const checks: Record<string, unknown>[] = [];
  // One in four is critical so both severities take their path through the summary.
  const severity = (i: number) => (i % 4 === 0 ? 'critical' : 'optional');
  for (let i = 0; i < HTTP_CHECKS; i++) {
    const port = targets.httpPorts[i % targets.httpPorts.length];
    checks.push({
      name: `http-${i}`,
      kind: 'http',
      severity: severity(i),
      interval: `${INTERVAL_S}s`,
      url: `http://127.0.0.1:${port}/health/${i}`,
      expectStatus: 200,
    });
  }
  for (let i = 0; i < TCP_CHECKS; i++) {
    const port = targets.tcpPorts[i % targets.tcpPorts.length];
    checks.push({ name: `tcp-${i}`, kind: 'tcp', severity: severity(i), interval: `${INTERVAL_S}s`, host: '127.0.0.1', port });
  }
  targets.files.forEach((path, i) => {
    checks.push({ name: `file-${i}`, kind: 'file', severity: severity(i), interval: `${INTERVAL_S}s`, path, maxAge: '1h' });
  });
  return { patrol: { interval: `${INTERVAL_S}s`, concurrency: 16 }, checks };
}

/**
 * One scrape of /metrics: `nightshift_check_runs_total` summed per check (keyed by name, failures also
 * under "name\tfailed"), and every unlabelled gauge by name (heap sizes and the like).
 */
async function scrapeMetrics(base: string): Promise<{ runs: Map<string, number>; gauges: Map<string, number> }> {
  const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  const text = await response.text();
  const runs = new Map<string, number>();
  for (const match of text.matchAll(/^nightshift_check_runs_total\{check="([^"]+)",result="([^"]+)"\} (\d+)$/gm)) {
    const [, check, result, count] = match;
    runs.set(check!, (runs.get(check!) ?? 0) + Number(count));
    if (result === 'failed') runs.set(`${check}\tfailed`, Number(count));
  }
  const gauges = new Map<string, number>();
  for (const match of text.matchAll(/^([a-z_]+) ([0-9.e+-]+)$/gm)) gauges.set(match[1]!, Number(match[2]));
  return { runs, gauges };
}

function sumFailed(totals: Map<string, number>): number {
  let sum = 0;
  for (const [key, count] of totals) if (key.endsWith('\tfailed')) sum += count;
  return sum;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return (await response.json()) as T;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function positiveNumber(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`expected a positive number of seconds, got ${JSON.stringify(text)}`);
  return value;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:patrol failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
