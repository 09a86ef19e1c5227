// Idle footprint bench: what Nightshift costs beside the agents it watches. The real bot (bin/nightshift.js
// start, a child process, production Node flags) patrols 50 checks (http and tcp against local servers in
// this process, file) every 10 s, twice: with Discord, Telegram and ntfy on (the fakes, in a process of their
// own: bench/fake-platforms.ts) and with no chat channel. After warm-up (every check ran once, every channel
// connected) we watch the bot's pid for 60 s from /proc: RSS (mean, max, peak) and CPU % of one core.
// Targets: chat on <= 90 MB RSS and <= 0.5 % of a core; no chat <= 70 MB.
// Usage: npm run bench:idle   (BENCH_SECONDS=15 for a quick trial; BENCH_BOT_NODE_ARGS="--heap-prof
// --heap-prof-dir=/tmp/prof" to profile the bot). The last line printed is one JSON object with the figures.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { stringify } from 'yaml';
import { packageRoot } from '../src/paths.js';
import { botEnv } from '../test/helpers/cli.js';
import { platformEnv } from '../test/helpers/platforms.js';
import type { PlatformTraffic } from './fake-platforms.js';
import {
  BenchBot,
  botNodeArgs,
  checksConfig,
  cpuSplit,
  hardLimit,
  heapMiB,
  measureWindow,
  positiveNumber,
  printResult,
  runBench,
  scrapeMetrics,
  sumRuns,
  type WindowFigures,
} from './lib/bot-process.js';
import { machineInfo, round } from './lib/proc-stats.js';
import { startTargets, type Targets } from './lib/targets.js';

const MIX = { http: 20, tcp: 15, file: 15 };
const CHECK_COUNT = MIX.http + MIX.tcp + MIX.file;
const INTERVAL_S = 10;
const TARGETS = { withChat: { rssMiB: 90, cpuPercent: 0.5 }, noChat: { rssMiB: 70 } };
/** Log lines that say a channel is up (adapters/*.ts), and the last start-up call each client makes. */
const CHANNEL_MILESTONES: Record<string, RegExp> = {
  'discord gateway': /"msg":"discord gateway connected"/,
  'discord slash commands': /"msg":"discord slash commands registered"/,
  'telegram polling': /"msg":"telegram: polling"/,
  'ntfy reply stream': /"msg":"ntfy reply stream open"/,
};
const MILESTONE_TIMEOUT_MS = 30_000;

const seconds = positiveNumber(process.env.BENCH_SECONDS, 60);

let fakes: ChildProcess | undefined;
let bot: BenchBot | undefined;
let tempRoot: string | undefined;
// Five minutes for two default 60 s windows; longer trials get the extra time they ask for.
hardLimit('bench:idle', 300_000 + Math.max(0, seconds - 60) * 2000, () => {
  bot?.kill();
  fakes?.kill('SIGKILL');
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
});

/** Where the fakes listen: what `platformEnv` takes besides the data dir. */
type PlatformOptions = Omit<Parameters<typeof platformEnv>[0], 'dataDir'>;

/** The fakes' process: spawned, its addresses read, and "report" answered line by line. */
class FakePlatforms {
  private readonly lines: Interface;
  private readonly pending: Array<(line: string) => void> = [];

  private constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! });
    this.lines.on('line', (line) => this.pending[0]?.(line));
  }

  static async start(): Promise<{ platforms: FakePlatforms; options: PlatformOptions }> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(packageRoot, 'bench', 'fake-platforms.ts')], {
      cwd: packageRoot,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    fakes = child;
    const platforms = new FakePlatforms(child);
    const addresses = await platforms.nextLine(30_000, 'the fakes did not print their addresses');
    return { platforms, options: JSON.parse(addresses) as PlatformOptions };
  }

  /** What the fakes were asked so far. */
  async traffic(): Promise<PlatformTraffic> {
    const answer = this.nextLine(10_000, 'the fakes did not answer "report"');
    this.child.stdin!.write('report\n');
    return JSON.parse(await answer) as PlatformTraffic;
  }

  /** Closes the fakes' stdin (their signal to stop) and waits for them to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.stdin!.end();
    const forced = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(forced);
  }

  private nextLine(timeoutMs: number, why: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        // A line that comes after a timeout must not go to the next waiter.
        const waiting = this.pending.indexOf(onLine);
        if (waiting >= 0) this.pending.splice(waiting, 1);
        outcome();
      };
      const onLine = (line: string) => settle(() => resolve(line));
      const onExit = () => settle(() => reject(new Error(`${why}: the fakes' process exited`)));
      const timer = setTimeout(() => settle(() => reject(new Error(why))), timeoutMs);
      this.child.once('exit', onExit);
      this.pending.push(onLine);
    });
  }
}

/** One run's figures (MiB = 1024 × 1024 bytes). */
interface RunFigures {
  windowSeconds: number;
  /** Mean of VmRSS sampled every second over the window. */
  rssMiB: number;
  rssMaxMiB: number;
  /** VmHWM: the peak since start, start-up and warm-up included. */
  peakRssMiB: number;
  /** At the end: memory no other process shares (RSS less, e.g., the node binary's pages other Node processes map too). */
  privateMiB: number;
  cpuPercent: number;
  cpuSplit: { userPercent: number; systemPercent: number; mainThreadPercent: number; otherThreadsPercent: number };
  /** The V8 heap and memory outside it (Buffers, sockets' and SQLite's allocations reported to V8) at the end. */
  heapAtEndMiB: { used: number; total: number; external: number };
  runs: number;
  expectedRuns: number;
  failedRuns: number;
  warmupMs: number;
  /** What the bot asked of the platforms during the window (with chat on); ntfy's replySubscribers is the count at the end. */
  channelTrafficInWindow?: PlatformTraffic;
  botOutputLines: number;
}

async function measureRun(label: string, root: string, targets: Targets, platforms?: { fakes: FakePlatforms; options: PlatformOptions }): Promise<RunFigures> {
  const dir = join(root, label);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const configFile = join(dir, 'nightshift.yml');
  writeFileSync(configFile, stringify(checksConfig(targets, MIX, INTERVAL_S)));
  const chatEnv = platforms ? platformEnv({ dataDir: join(dir, 'data'), ...platforms.options }) : {};
  const env = botEnv(dir, { ...chatEnv, NIGHTSHIFT_CONFIG: configFile });

  const launchedAt = performance.now();
  const started = await BenchBot.start({ cwd: dir, env, milestones: platforms ? CHANNEL_MILESTONES : {} });
  const running = started.bot;
  bot = running;
  try {
    const base = `http://${started.address}`;
    console.log(`${label}: bot pid ${running.pid} on ${started.address}, started in ${Math.round(performance.now() - launchedAt)} ms`);
    const warmupStarted = performance.now();
    if (platforms) {
      for (const name of Object.keys(CHANNEL_MILESTONES)) await running.milestone(name, MILESTONE_TIMEOUT_MS);
      console.log(`${label}: every channel connected (${Object.keys(CHANNEL_MILESTONES).join(', ')})`);
    }
    await running.allChecksRan(base, CHECK_COUNT);
    const warmupMs = Math.round(performance.now() - warmupStarted);
    console.log(`${label}: warm-up done in ${warmupMs} ms (every check ran once); measuring for ${seconds} s`);

    const { runs: runsBefore } = await scrapeMetrics(base);
    const trafficBefore = await platforms?.fakes.traffic();
    const window = await measureWindow(running.pid, seconds);
    if (!running.running) throw running.fail('the bot exited during the measurement window');
    const trafficAfter = await platforms?.fakes.traffic();
    const { runs: runsAfter, gauges } = await scrapeMetrics(base);
    const exit = await running.stop();
    if (exit === 'killed') console.error(`${label}: the bot ignored SIGTERM for 15 s and was killed`);

    const figures = runFigures(window, { runsBefore, runsAfter, gauges });
    return {
      ...figures,
      warmupMs,
      ...(trafficBefore && trafficAfter ? { channelTrafficInWindow: trafficDelta(trafficBefore, trafficAfter) } : {}),
      botOutputLines: running.outputLines,
    };
  } finally {
    running.kill();
  }
}

function runFigures(
  window: WindowFigures,
  metrics: { runsBefore: Map<string, number>; runsAfter: Map<string, number>; gauges: Map<string, number> },
): Omit<RunFigures, 'warmupMs' | 'channelTrafficInWindow' | 'botOutputLines'> {
  const mebibytes = (kB: number) => round(kB / 1024, 1);
  return {
    windowSeconds: round(window.seconds, 1),
    rssMiB: mebibytes(window.rss.meanKB),
    rssMaxMiB: mebibytes(window.rss.maxKB),
    peakRssMiB: mebibytes(window.peakRssKB),
    privateMiB: mebibytes(window.privateKB),
    cpuPercent: round(window.cpu.percent, 2),
    cpuSplit: cpuSplit(window),
    heapAtEndMiB: heapMiB(metrics.gauges),
    runs: sumRuns(metrics.runsAfter, false) - sumRuns(metrics.runsBefore, false),
    expectedRuns: Math.round((CHECK_COUNT * window.seconds) / INTERVAL_S),
    failedRuns: sumRuns(metrics.runsAfter, true) - sumRuns(metrics.runsBefore, true),
  };
}

function trafficDelta(before: PlatformTraffic, after: PlatformTraffic): PlatformTraffic {
  const delta = <T extends Record<string, number>>(a: T, b: T): T => Object.fromEntries(Object.entries(b).map(([key, value]) => [key, value - a[key]!])) as T;
  // Open reply streams are a level, not a count: the one at the end says the stream stayed up.
  const ntfy = { ...delta(before.ntfy, after.ntfy), replySubscribers: after.ntfy.replySubscribers };
  return { discord: delta(before.discord, after.discord), telegram: delta(before.telegram, after.telegram), ntfy };
}

function describe(label: string, run: RunFigures, rssTarget: number, cpuTarget?: number): string {
  const rss = `RSS mean ${run.rssMiB} MiB (target <= ${rssTarget}: ${run.rssMiB <= rssTarget ? 'met' : 'MISSED'}), max ${run.rssMaxMiB}, peak ${run.peakRssMiB}; private ${run.privateMiB} MiB`;
  const cpuVerdict = cpuTarget === undefined ? '' : ` (target <= ${cpuTarget}: ${run.cpuPercent <= cpuTarget ? 'met' : 'MISSED'})`;
  return `${label}: ${rss}; CPU ${run.cpuPercent} % of one core${cpuVerdict}; heap ${run.heapAtEndMiB.used}/${run.heapAtEndMiB.total} MiB, external ${run.heapAtEndMiB.external} MiB; ${run.runs} runs (expected ~${run.expectedRuns}), ${run.failedRuns} failed`;
}

async function main(): Promise<number> {
  const machineAtStart = machineInfo();
  const root = mkdtempSync(join(tmpdir(), 'nightshift-bench-idle-'));
  tempRoot = root;
  let targets: Targets | undefined;
  let platforms: FakePlatforms | undefined;
  try {
    targets = await startTargets({ httpServers: 2, tcpServers: 1, fileCount: MIX.file, fileDir: join(root, 'files') });
    const started = await FakePlatforms.start();
    platforms = started.platforms;
    const withChat = await measureRun('with chat', root, targets, { fakes: platforms, options: started.options });
    await platforms.stop();
    const noChat = await measureRun('no chat', root, targets);

    const met = {
      withChat: { rss: withChat.rssMiB <= TARGETS.withChat.rssMiB, cpu: withChat.cpuPercent <= TARGETS.withChat.cpuPercent },
      noChat: { rss: noChat.rssMiB <= TARGETS.noChat.rssMiB },
    };
    const result = {
      bench: 'idle',
      botNodeArgs: botNodeArgs(),
      checks: CHECK_COUNT,
      mix: MIX,
      intervalS: INTERVAL_S,
      seconds,
      withChat,
      noChat,
      targets: TARGETS,
      met,
      machine: { ...machineAtStart, loadAverageAtEnd: machineInfo().loadAverage },
    };
    console.log(describe('with Discord, Telegram and ntfy', withChat, TARGETS.withChat.rssMiB, TARGETS.withChat.cpuPercent));
    console.log(describe('with no chat channel', noChat, TARGETS.noChat.rssMiB));
    printResult(machineAtStart, result);
    return 0;
  } finally {
    bot?.kill();
    await platforms?.stop();
    await targets?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

runBench('bench:idle', main);
