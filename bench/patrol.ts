// Patrol bench: the real bot (bin/nightshift.js start, a child process) patrols 1,000 checks
// (http against local servers, tcp, file) every 10 s; we measure its CPU % of one core and peak RSS
// over a window after every check has run once. Targets: <= 5 % CPU and <= 150 MB RSS.
// Usage: npm run bench:patrol   (BENCH_SECONDS=15 for a quick trial; BENCH_BOT_NODE_ARGS="--cpu-prof
// --cpu-prof-dir=/tmp/prof" to profile the bot). The last line printed is one JSON object with the figures.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { StatusSummary } from '../src/patrol/summary.js';
import { botEnv } from '../test/helpers/cli.js';
import {
  BenchBot,
  botNodeArgs,
  checksConfig,
  cpuSplit,
  getJson,
  hardLimit,
  heapMiB,
  measureWindow,
  PATROL_CONCURRENCY,
  positiveNumber,
  printResult,
  runBench,
  scrapeMetrics,
  sumRuns,
} from './lib/bot-process.js';
import { machineInfo, readMemory, round } from './lib/proc-stats.js';
import { startTargets, type Targets } from './lib/targets.js';

const MIX = { http: 400, tcp: 300, file: 300 };
const CHECK_COUNT = MIX.http + MIX.tcp + MIX.file;
const INTERVAL_S = 10;
const HTTP_SERVERS = 4;
const TCP_SERVERS = 2;
const TARGET_CPU_PERCENT = 5;
const TARGET_RSS_MB = 150;

const seconds = positiveNumber(process.env.BENCH_SECONDS, 60);

let bot: BenchBot | undefined;
let tempRoot: string | undefined;
// Three minutes for the default 60 s window; longer trials get the extra time they ask for.
hardLimit('bench:patrol', 180_000 + Math.max(0, seconds - 60) * 1000, () => {
  bot?.kill();
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
});

async function main(): Promise<number> {
  const machineAtStart = machineInfo();
  const root = mkdtempSync(join(tmpdir(), 'nightshift-bench-patrol-'));
  tempRoot = root;
  let targets: Targets | undefined;
  try {
    targets = await startTargets({ httpServers: HTTP_SERVERS, tcpServers: TCP_SERVERS, fileCount: MIX.file, fileDir: join(root, 'files') });
    const configFile = join(root, 'nightshift.yml');
    writeFileSync(configFile, stringify(checksConfig(targets, MIX, INTERVAL_S)));
    mkdirSync(join(root, 'data'));

    const launchedAt = performance.now();
    const started = await BenchBot.start({ cwd: root, env: botEnv(root, { NIGHTSHIFT_CONFIG: configFile }) });
    bot = started.bot;
    const base = `http://${started.address}`;
    const pid = bot.pid;
    console.log(
      `bot pid ${pid} listening on ${started.address}; started in ${Math.round(performance.now() - launchedAt)} ms; waiting for all ${CHECK_COUNT} checks to run once`,
    );

    const warmupMs = await bot.allChecksRan(base, CHECK_COUNT);
    console.log(`warm-up done in ${warmupMs} ms (every check ran once); measuring for ${seconds} s`);

    const afterWarmup = readMemory(pid);
    const { runs: runsBefore } = await scrapeMetrics(base);
    const requestsBefore = { http: targets.httpRequests, tcp: targets.tcpConnections };
    const loadAtWindowStart = machineInfo().loadAverage;
    const benchCpuBefore = process.cpuUsage();
    const window = await measureWindow(pid, seconds);
    const benchCpu = process.cpuUsage(benchCpuBefore);
    if (!bot.running) throw bot.fail('the bot exited during the measurement window');
    const windowSeconds = window.seconds;
    const requests = { http: targets.httpRequests - requestsBefore.http, tcp: targets.tcpConnections - requestsBefore.tcp };

    const { runs: runsAfter, gauges } = await scrapeMetrics(base);
    const status = await getJson<StatusSummary>(`${base}/status.json`);
    const perCheck = status.details.map((d) => (runsAfter.get(d.name) ?? 0) - (runsBefore.get(d.name) ?? 0));
    const runs = perCheck.reduce((sum, n) => sum + n, 0);
    const failedRuns = sumRuns(runsAfter, true) - sumRuns(runsBefore, true);
    const durations = status.details.map((d) => d.lastDurationMs ?? 0).sort((a, b) => a - b);

    const stop = await bot.stop();

    const cpu = window.cpu.percent;
    const peakRssMB = window.peakRssKB / 1024;
    const result = {
      bench: 'patrol',
      botNodeArgs: botNodeArgs(),
      checks: CHECK_COUNT,
      mix: MIX,
      intervalS: INTERVAL_S,
      concurrency: PATROL_CONCURRENCY,
      seconds: round(windowSeconds, 1),
      cpuPercentOfOneCore: round(cpu, 2),
      cpuSplit: cpuSplit(window),
      peakRssMB: round(peakRssMB, 1),
      rssAtEndMB: round(window.rss.endKB / 1024, 1),
      maxSampledRssMB: round(window.rss.maxKB / 1024, 1),
      // Where the peak comes from: start-up and the first burst of 1,000 runs, or the steady state.
      afterWarmup: { rssMB: round(afterWarmup.rssKB / 1024, 1), peakRssMB: round(afterWarmup.peakRssKB / 1024, 1) },
      heapAtEndMB: heapMiB(gauges),
      runs,
      expectedRuns: Math.round((CHECK_COUNT * windowSeconds) / INTERVAL_S),
      runsPerCheck: { min: Math.min(...perCheck), max: Math.max(...perCheck) },
      failedRuns,
      failing: status.failing,
      stale: status.stale,
      lastDurationMs: { p50: round(percentile(durations, 0.5), 2), p95: round(percentile(durations, 0.95), 2), max: round(durations.at(-1) ?? 0, 2) },
      targetHits: requests,
      warmupMs,
      botOutputLines: bot.outputLines,
      botExit: stop === 'killed' ? 'killed after 15 s (SIGTERM ignored)' : stop,
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
    printResult(machineAtStart, result);
    return 0;
  } finally {
    bot?.kill();
    await targets?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

runBench('bench:patrol', main);
