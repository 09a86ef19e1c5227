// What the footprint benches share: the real bot (bin/nightshift.js start) as a child process with the
// production Node flags, its output drained, log lines awaited, and a measurement window over its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StatusSummary } from '../../src/patrol/summary.js';
import { BIN } from '../../test/helpers/cli.js';
import { cpuPercent, readCpuTimes, readMemory, readPrivateMemoryKB, round, type MachineInfo } from './proc-stats.js';
import type { Targets } from './targets.js';

/** The Node flags `npm start` and the deploy units give the bot (a smaller young generation: less RSS, no CPU cost). */
export const PRODUCTION_NODE_ARGS = '--max-semi-space-size=4';

/** The patrol's concurrency in the benches' configs (the default). */
export const PATROL_CONCURRENCY = 16;
const STARTED = /"http":"([^"]+)"[^\n]*"msg":"nightshift started"/;

/** The bot's Node flags: BENCH_BOT_NODE_ARGS (e.g. --cpu-prof, which NODE_OPTIONS refuses) or the production ones. */
export function botNodeArgs(): string {
  return process.env.BENCH_BOT_NODE_ARGS ?? PRODUCTION_NODE_ARGS;
}

/** A child's output, discarded as it arrives (so it never blocks on a full pipe) but counted, with a tail kept. */
export class OutputDrain {
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

export interface BotExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface BotOptions {
  /** Working directory (the config and data dir live under it). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /**
   * Log lines to watch for from the first byte on (a channel may connect before "nightshift started"),
   * by name; `milestone(name)` resolves with the first match.
   */
  milestones?: Record<string, RegExp>;
}

/** A running bot: its pid, its HTTP address once started, and what it logged. */
export class BenchBot {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<BotExit>;
  private readonly stdout: OutputDrain;
  private readonly stderr: OutputDrain;
  private readonly seen = new Map<string, { match: Promise<RegExpExecArray>; resolve: (match: RegExpExecArray) => void; pattern: RegExp }>();

  private constructor(options: BotOptions) {
    for (const [name, pattern] of Object.entries({ ...options.milestones, started: STARTED })) {
      let resolve: (match: RegExpExecArray) => void = () => {};
      const match = new Promise<RegExpExecArray>((r) => (resolve = r));
      this.seen.set(name, { match, resolve, pattern });
    }
    const args = [...botNodeArgs().split(/\s+/).filter(Boolean), BIN, 'start'];
    this.child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.child.pid!;
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    const watch = (line: string) => {
      for (const milestone of this.seen.values()) {
        const match = milestone.pattern.exec(line);
        if (match) milestone.resolve(match);
      }
    };
    this.stdout = new OutputDrain(this.child.stdout!, watch);
    this.stderr = new OutputDrain(this.child.stderr!, watch);
  }

  /** Spawns the bot and waits for "nightshift started"; resolves with the bot and its HTTP address. */
  static async start(options: BotOptions, timeoutMs = 30_000): Promise<{ bot: BenchBot; address: string }> {
    const bot = new BenchBot(options);
    try {
      const started = await bot.milestone('started', timeoutMs);
      return { bot, address: started[1]! };
    } catch (err) {
      bot.kill();
      throw err;
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get outputLines(): number {
    return this.stdout.lines + this.stderr.lines;
  }

  /** An error that says why, with the tail of the bot's output. */
  fail(why: string): Error {
    return new Error(`${why}\nbot stdout tail:\n${this.stdout.tail()}\nbot stderr tail:\n${this.stderr.tail()}`);
  }

  /** Resolves with the first line that matched the milestone's pattern; rejects if the bot exits or time runs out first. */
  async milestone(name: string, timeoutMs: number): Promise<RegExpExecArray> {
    const milestone = this.seen.get(name);
    if (!milestone) throw new Error(`no milestone named ${name}`);
    const giveUp = new AbortController();
    try {
      // The losers of this race resolve (never reject) so nothing is left to reject unhandled later.
      const outcome = await Promise.race([
        milestone.match,
        this.exited.then(({ code, signal }) => this.fail(`the bot exited before logging ${name} (code ${code}, signal ${signal})`)),
        sleep(timeoutMs, undefined, { signal: giveUp.signal }).then(
          () => this.fail(`the bot did not log ${name} (${milestone.pattern}) within ${timeoutMs / 1000} s`),
          () => this.fail('wait cancelled'),
        ),
      ]);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    } finally {
      giveUp.abort();
    }
  }

  /** Polls /status.json until it lists `checkCount` checks and every one has run; resolves with the time it took. */
  async allChecksRan(base: string, checkCount: number, timeoutMs = 60_000): Promise<number> {
    const startedAt = performance.now();
    for (;;) {
      if (!this.running) throw this.fail('the bot exited during warm-up');
      const status = await getJson<StatusSummary>(`${base}/status.json`);
      const pending = status.details.filter((d) => d.lastRunAt === null).length;
      if (status.details.length === checkCount && pending === 0) return Math.round(performance.now() - startedAt);
      if (performance.now() - startedAt > timeoutMs) throw this.fail(`warm-up: ${pending} checks still had not run after ${timeoutMs / 1000} s`);
      await sleep(500);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended (`killed` when SIGTERM was not enough). */
  stop(graceMs = 15_000): Promise<BotExit | 'killed'> {
    return terminate(this.child, graceMs);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.child.kill(signal);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how the child ended (`killed` when SIGTERM was not enough). */
export async function terminate(child: ChildProcess, graceMs = 15_000): Promise<BotExit | 'killed'> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  child.kill('SIGTERM');
  const giveUp = new AbortController();
  const stopped = await Promise.race([exited, sleep(graceMs, null, { signal: giveUp.signal }).catch(() => null)]);
  giveUp.abort();
  if (stopped !== null) return stopped;
  child.kill('SIGKILL');
  await exited;
  return 'killed';
}

/** How many checks of each kind a bench config has. */
export interface CheckMix {
  http: number;
  tcp: number;
  file: number;
}

/** A nightshift.yml document: `mix` checks every `intervalS` against the local targets (round robin), no heal. */
export function checksConfig(targets: Targets, mix: CheckMix, intervalS: number): Record<string, unknown> {
  const interval = `${intervalS}s`;
  // One in four is critical so both severities take their path through the summary.
  const severity = (i: number) => (i % 4 === 0 ? 'critical' : 'optional');
  const checks: Record<string, unknown>[] = [];
  for (let i = 0; i < mix.http; i++) {
    const port = targets.httpPorts[i % targets.httpPorts.length];
    checks.push({ name: `http-${i}`, kind: 'http', severity: severity(i), interval, url: `http://127.0.0.1:${port}/health/${i}`, expectStatus: 200 });
  }
  for (let i = 0; i < mix.tcp; i++) {
    const port = targets.tcpPorts[i % targets.tcpPorts.length];
    checks.push({ name: `tcp-${i}`, kind: 'tcp', severity: severity(i), interval, host: '127.0.0.1', port });
  }
  targets.files.slice(0, mix.file).forEach((path, i) => {
    checks.push({ name: `file-${i}`, kind: 'file', severity: severity(i), interval, path, maxAge: '1h' });
  });
  return { patrol: { interval, concurrency: PATROL_CONCURRENCY }, checks };
}

/** What a measurement window saw of one process. */
export interface WindowFigures {
  seconds: number;
  /** CPU time over the window, in % of one core: all threads, user and system, and the JavaScript thread alone. */
  cpu: { percent: number; userPercent: number; systemPercent: number; mainThreadPercent: number; otherThreadsPercent: number };
  /** VmRSS sampled every `sampleEveryMs` (first sample at the start, last at the end), in kB. */
  rss: { meanKB: number; maxKB: number; endKB: number; samples: number };
  /** VmHWM at the end: the peak since the process started (start-up and warm-up included). */
  peakRssKB: number;
  /** At the end: the memory no other process shares (readPrivateMemoryKB). */
  privateKB: number;
}

/**
 * Watches `pid` for `seconds` from outside (/proc only: the process is not asked anything, so the
 * figures are its own work): CPU ticks at both ends and RSS sampled along the way.
 */
export async function measureWindow(pid: number, seconds: number, sampleEveryMs = 1000): Promise<WindowFigures> {
  const cpuBefore = readCpuTimes(pid);
  const startedAt = performance.now();
  const rssSamples: number[] = [readMemory(pid).rssKB];
  const sampler = setInterval(() => {
    try {
      rssSamples.push(readMemory(pid).rssKB);
    } catch (err) {
      // The process exited mid-window; the caller's check after the window reports it.
      console.error(`rss sample failed: ${String(err)}`);
    }
  }, sampleEveryMs);
  // The measurement window itself: a fixed wait is the point here.
  await sleep(seconds * 1000);
  clearInterval(sampler);
  const cpuAfter = readCpuTimes(pid);
  const windowSeconds = (performance.now() - startedAt) / 1000;
  const memory = readMemory(pid);
  rssSamples.push(memory.rssKB);

  const user = cpuAfter.userTicks - cpuBefore.userTicks;
  const system = cpuAfter.systemTicks - cpuBefore.systemTicks;
  const mainThread = cpuAfter.mainThreadTicks - cpuBefore.mainThreadTicks;
  const percent = (ticks: number) => cpuPercent(ticks, windowSeconds);
  return {
    seconds: windowSeconds,
    cpu: {
      percent: percent(user + system),
      userPercent: percent(user),
      systemPercent: percent(system),
      mainThreadPercent: percent(mainThread),
      otherThreadsPercent: percent(user + system - mainThread),
    },
    rss: {
      meanKB: rssSamples.reduce((sum, kb) => sum + kb, 0) / rssSamples.length,
      maxKB: Math.max(...rssSamples),
      endKB: memory.rssKB,
      samples: rssSamples.length,
    },
    peakRssKB: memory.peakRssKB,
    privateKB: readPrivateMemoryKB(pid),
  };
}

/**
 * One scrape of /metrics: `nightshift_check_runs_total` summed per check (keyed by name, failures also
 * under "name\tfailed"), and every unlabelled gauge by name (heap sizes and the like).
 */
export async function scrapeMetrics(base: string): Promise<{ runs: Map<string, number>; gauges: Map<string, number> }> {
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

/** The sum of a scrape's `runs` over every check: the failed runs only, or all of them. */
export function sumRuns(runs: Map<string, number>, failed: boolean): number {
  let sum = 0;
  for (const [key, count] of runs) if (key.endsWith('\tfailed') === failed) sum += count;
  return sum;
}

/** The V8 heap and the memory outside it (Buffers, sockets' and SQLite's allocations reported to V8) from a scrape's gauges, in MiB. */
export function heapMiB(gauges: Map<string, number>): { used: number; total: number; external: number } {
  const mebibytes = (name: string) => round((gauges.get(name) ?? Number.NaN) / 1024 / 1024, 1);
  return {
    used: mebibytes('nightshift_process_nodejs_heap_size_used_bytes'),
    total: mebibytes('nightshift_process_nodejs_heap_size_total_bytes'),
    external: mebibytes('nightshift_process_nodejs_external_memory_bytes'),
  };
}

/** A window's CPU split (user, system, the JavaScript thread and the others), in % of one core to two decimals. */
export function cpuSplit(window: WindowFigures): Omit<WindowFigures['cpu'], 'percent'> {
  return {
    userPercent: round(window.cpu.userPercent, 2),
    systemPercent: round(window.cpu.systemPercent, 2),
    mainThreadPercent: round(window.cpu.mainThreadPercent, 2),
    otherThreadsPercent: round(window.cpu.otherThreadsPercent, 2),
  };
}

/** A footprint bench's last two lines: the machine it ran on, then the figures as one JSON object. */
export function printResult(machineAtStart: MachineInfo, result: object): void {
  console.log(`machine: ${machineAtStart.cpuModel}, ${machineAtStart.cores} cores, load ${machineAtStart.loadAverage.join(' ')} at start`);
  console.log(JSON.stringify(result));
}

/** Runs a bench's `main` and exits with its code, or 1 with one line when it throws. */
export function runBench(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return (await response.json()) as T;
}

/** BENCH_SECONDS and the like: a positive number, or `fallback` when unset. */
export function positiveNumber(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`expected a positive number of seconds, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * Gives up after `ms`: runs `cleanUp` (kill children, remove temp dirs; synchronous, the process exits
 * right after) and exits 2. The timer does not keep the bench alive.
 */
export function hardLimit(name: string, ms: number, cleanUp: () => void): void {
  setTimeout(() => {
    console.error(`${name}: gave up after ${ms / 1000} s (hard limit); killing what it started`);
    cleanUp();
    process.exit(2);
  }, ms).unref();
}
