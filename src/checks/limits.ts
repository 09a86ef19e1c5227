import { readdir, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { formatBytes } from '../util/format.js';
import type { CheckResult } from './types.js';

/**
 * Resource limits on what a process, pm2 or systemd check watches (Monit's
 * "if cpu > 80% for 5 cycles then restart"): the process and everything
 * below it, measured from /proc at each run. A limit exceeded `forCycles`
 * runs in a row fails the run, so the check's heal (restart) deals with it;
 * a new process (another pid) starts the count over.
 */

const MIB = 1024 * 1024;

/** The `limits` key of the process, pm2 and systemd kinds. */
export const limitsParam = z
  .strictObject({
    /** CPU of the process and its descendants, in percent of one core (150 = one and a half cores), between two runs. */
    cpuPercent: z.number().min(1).max(10_000).optional(),
    /** Resident memory (RSS) of the process and its descendants, in MiB. */
    memoryMiB: z
      .number()
      .min(1)
      .max(16 * MIB)
      .optional(),
    /** Most processes allowed below it: children, grandchildren and so on, zombies included. */
    children: z.number().int().min(0).max(1_000_000).optional(),
    /** Runs in a row a limit must be exceeded before the run fails (and the heal restarts it). */
    forCycles: z.number().int().min(1).max(1000).default(3),
  })
  .refine(
    (limits) => limits.cpuPercent !== undefined || limits.memoryMiB !== undefined || limits.children !== undefined,
    'expected at least one of cpuPercent, memoryMiB or children',
  )
  .optional();

export type Limits = NonNullable<z.output<typeof limitsParam>>;

/**
 * /proc/<pid>/stat counts CPU time in USER_HZ ticks, which Linux fixes at 100
 * on the architectures it is run on here (x86, arm, arm64, riscv, ppc, s390),
 * whatever the kernel's own HZ; `getconf CLK_TCK` prints it.
 */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A CPU figure needs this much wall time since the last sample: with 100
 * ticks a second, a shorter window is too coarse to judge. A run sooner than
 * this (one the patrol was asked for at once) keeps the older sample and
 * leaves the CPU count as it was.
 */
export const MIN_CPU_WINDOW_MS = 500;

type LimitName = 'cpu' | 'memory' | 'children';

/** What the limits say about one run. */
export interface LimitVerdict {
  /** A limit was exceeded for `forCycles` runs in a row: the run fails. */
  failing: boolean;
  /**
   * "cpu 97% > 80% for 3 checks (pid 4242 and 2 children)" when failing, "cpu 97% > 80% (1 of 3)" while
   * counting, "limits not measured: ..." when /proc cannot tell; undefined while every limit is kept.
   */
  text?: string;
  details: Record<string, unknown>;
}

/** CPU and memory as the watched program's manager reports them (pm2's monit), used where /proc cannot see the process. */
export interface ReportedUsage {
  /** Who reports them, named in the message: "pm2". */
  by: string;
  cpuPercent: number;
  memoryBytes: number;
}

/** One process as /proc/<pid>/stat shows it. */
interface ProcStat {
  ppid: number;
  state: string;
  /** Field 22, start time in ticks since boot: tells a reused pid from the process seen before. */
  start: string;
  /** utime + stime. */
  ticks: number;
  /** cutime + cstime: the CPU time of children it waited for (reaped). */
  childTicks: number;
}

/** The watched processes and all below them, at one moment. */
interface TreeSample {
  at: number;
  members: Map<number, ProcStat>;
}

/** One run's figures; `cpuPercent` is null when this run gives none (first sample, too soon after the last). */
interface Measurement {
  identity: string;
  /** 'proc', or who reported the figures ('pm2'). */
  source: string;
  pids: number[];
  cpuPercent: number | null;
  memoryBytes: number;
  /** null when unknown (figures reported by the manager carry no process tree). */
  children: number | null;
  zombies: number;
}

/**
 * Watches the limits of one check across its runs. Kept in memory: after a
 * restart of Nightshift the count starts over, as it does for a new pid.
 */
export class LimitWatch {
  private identity: string | undefined;
  private baseline: TreeSample | undefined;
  private lastCpuPercent: number | null = null;
  private streaks: Record<LimitName, number> = { cpu: 0, memory: 0, children: 0 };

  /** `procDir` is /proc; another folder stands for a system without it. */
  constructor(
    private readonly limits: Limits,
    private readonly procDir = '/proc',
  ) {}

  /**
   * Samples the processes `pids` (the watched program: one pid, or pm2's
   * cluster instances) with everything below them, and judges the limits.
   * Undefined when `signal` fired: the run is over, nothing is counted.
   */
  async observe(pids: readonly number[], options: { signal: AbortSignal; reported?: ReportedUsage }): Promise<LimitVerdict | undefined> {
    const roots = [...new Set(pids.filter((pid) => Number.isInteger(pid) && pid > 0))].sort((a, b) => a - b);
    const table = await readProcTable(this.procDir);
    if (options.signal.aborted) return undefined;
    const found = table ? roots.filter((pid) => table.has(pid)) : [];
    if (!table || found.length === 0) {
      if (options.reported) return this.judge(this.fromReported(roots, options.reported));
      const why = !table ? `no ${this.procDir} on this system` : `${describePids(roots)} not in ${this.procDir}`;
      return { failing: false, text: `limits not measured: ${why}`, details: { pids: roots, measured: false, reason: why } };
    }
    const measurement = await this.fromProc(found, table);
    if (options.signal.aborted) return undefined;
    return this.judge(measurement);
  }

  private async fromProc(roots: number[], table: Map<number, ProcStat>): Promise<Measurement> {
    const identity = `proc:${roots.map((pid) => `${pid}@${table.get(pid)!.start}`).join(',')}`;
    this.startOverIfChanged(identity);
    const members = treeOf(roots, table);
    const sample: TreeSample = { at: performance.now(), members };
    let cpuPercent: number | null = null;
    if (!this.baseline) this.baseline = sample;
    else if (sample.at - this.baseline.at >= MIN_CPU_WINDOW_MS) {
      const ticks = cpuTicksBetween(this.baseline.members, members);
      cpuPercent = (ticks / CLOCK_TICKS_PER_SECOND / ((sample.at - this.baseline.at) / 1000)) * 100;
      this.baseline = sample;
    }
    const live = [...members].filter(([, stat]) => stat.state !== 'Z').map(([pid]) => pid);
    const rss = await Promise.all(live.map((pid) => residentBytes(this.procDir, pid)));
    return {
      identity,
      source: 'proc',
      pids: roots,
      cpuPercent,
      memoryBytes: rss.reduce((total, bytes) => total + bytes, 0),
      children: members.size - roots.length,
      zombies: members.size - live.length,
    };
  }

  private fromReported(roots: number[], reported: ReportedUsage): Measurement {
    const identity = `reported:${roots.join(',')}`;
    this.startOverIfChanged(identity);
    return { identity, source: reported.by, pids: roots, cpuPercent: reported.cpuPercent, memoryBytes: reported.memoryBytes, children: null, zombies: 0 };
  }

  /** Another process (a restart, a reused pid) is a fresh start: nothing it did counts against the new one. */
  private startOverIfChanged(identity: string): void {
    if (identity === this.identity) return;
    this.identity = identity;
    this.baseline = undefined;
    this.lastCpuPercent = null;
    this.streaks = { cpu: 0, memory: 0, children: 0 };
  }

  private judge(m: Measurement): LimitVerdict {
    const { limits } = this;
    if (m.cpuPercent !== null) this.lastCpuPercent = m.cpuPercent;
    const cpu = this.lastCpuPercent;
    const over: Array<{ name: LimitName; text: string }> = [];
    const count = (name: LimitName, exceeded: boolean | undefined, text: string) => {
      // undefined: not measured this run, so the count stands as it was.
      if (exceeded === undefined) {
        if (this.streaks[name] > 0) over.push({ name, text });
        return;
      }
      this.streaks[name] = exceeded ? this.streaks[name] + 1 : 0;
      if (exceeded) over.push({ name, text });
    };
    if (limits.cpuPercent !== undefined && cpu !== null)
      count('cpu', m.cpuPercent === null ? undefined : m.cpuPercent > limits.cpuPercent, `cpu ${formatPercent(cpu)} > ${limits.cpuPercent}%`);
    if (limits.memoryMiB !== undefined)
      count('memory', m.memoryBytes > limits.memoryMiB * MIB, `memory ${formatBytes(m.memoryBytes)} > ${limits.memoryMiB} MiB`);
    if (limits.children !== undefined && m.children !== null)
      count('children', m.children > limits.children, `${m.children} ${m.children === 1 ? 'child' : 'children'} > ${limits.children}`);

    const failingNow = over.filter(({ name }) => this.streaks[name] >= limits.forCycles);
    const details: Record<string, unknown> = {
      pids: m.pids,
      source: m.source,
      cpuPercent: cpu === null ? null : Math.round(cpu * 10) / 10,
      memoryBytes: m.memoryBytes,
      children: m.children,
      ...(m.zombies > 0 ? { zombies: m.zombies } : {}),
      over: over.map(({ name }) => name),
      overLimitFor: Math.max(0, ...over.map(({ name }) => this.streaks[name])),
      forCycles: limits.forCycles,
      max: { cpuPercent: limits.cpuPercent, memoryMiB: limits.memoryMiB, children: limits.children },
    };
    if (over.length === 0) return { failing: false, details };
    const failingParts = failingNow.map(({ name, text }) => `${text} for ${this.streaks[name]} ${this.streaks[name] === 1 ? 'check' : 'checks'}`);
    const countingParts = over.filter((limit) => !failingNow.includes(limit)).map(({ name, text }) => `${text} (${this.streaks[name]} of ${limits.forCycles})`);
    if (failingParts.length === 0) return { failing: false, text: countingParts.join('; '), details };
    // A sum says whose it is; a count of children needs only the pid.
    const whose = failingNow.some(({ name }) => name !== 'children') ? describeTree(m) : describePids(m.pids);
    return { failing: true, text: [`${failingParts.join('; ')} (${whose})`, ...countingParts].join('; '), details };
  }
}

/**
 * The run's result with the limits' verdict: failing when a limit held for
 * forCycles runs (its message then leads, after `subject`), the note
 * appended while one is counting; the evidence under `details.limits`.
 */
export function withLimits(result: CheckResult, verdict: LimitVerdict | undefined, subject = ''): CheckResult {
  if (!verdict) return result;
  const details = { ...result.details, limits: verdict.details };
  if (verdict.failing) return { ok: false, message: `${subject}${verdict.text ?? ''}`, details: { ...details, limitExceeded: true } };
  return { ...result, message: verdict.text ? `${result.message}; ${verdict.text}` : result.message, details };
}

/** Every process in /proc by pid, or undefined where there is no /proc. */
async function readProcTable(procDir: string): Promise<Map<number, ProcStat> | undefined> {
  let names: string[];
  try {
    names = await readdir(procDir);
  } catch {
    return undefined;
  }
  const pids = names.filter((name) => /^\d+$/.test(name)).map(Number);
  if (pids.length === 0) return undefined;
  const stats = await Promise.all(pids.map((pid) => readStat(procDir, pid)));
  const table = new Map<number, ProcStat>();
  pids.forEach((pid, index) => {
    const stat = stats[index];
    if (stat) table.set(pid, stat);
  });
  return table;
}

async function readStat(procDir: string, pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`${procDir}/${pid}/stat`, 'utf8');
  } catch {
    // It ended while /proc was listed.
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const number = (index: number) => Number(fields[index] ?? 0) || 0;
  return {
    state: fields[0] ?? '?',
    ppid: number(1),
    ticks: number(11) + number(12),
    childTicks: number(13) + number(14),
    start: fields[19] ?? '',
  };
}

/** VmRSS of one process in bytes; 0 when it ended meanwhile or has none (a kernel thread). */
async function residentBytes(procDir: string, pid: number): Promise<number> {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(await readFile(`${procDir}/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The roots and every process below them. */
function treeOf(roots: readonly number[], table: Map<number, ProcStat>): Map<number, ProcStat> {
  const childrenOf = new Map<number, number[]>();
  for (const [pid, stat] of table) {
    const siblings = childrenOf.get(stat.ppid);
    if (siblings) siblings.push(pid);
    else childrenOf.set(stat.ppid, [pid]);
  }
  const members = new Map<number, ProcStat>();
  const queue = [...roots];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    const stat = table.get(pid);
    if (!stat || members.has(pid)) continue;
    members.set(pid, stat);
    queue.push(...(childrenOf.get(pid) ?? []));
  }
  return members;
}

/**
 * CPU ticks the tree spent between two samples. A process's own time counts
 * as it grew (all of it for one born since); the time of children reaped
 * meanwhile shows in their parent's cutime/cstime, which catches a loop of
 * short-lived commands no sample ever sees. A member gone since was reaped
 * by its parent with its whole life, so the part counted before comes off.
 */
function cpuTicksBetween(before: ReadonlyMap<number, ProcStat>, after: ReadonlyMap<number, ProcStat>): number {
  const same = (a: ProcStat | undefined, b: ProcStat | undefined) => a !== undefined && b !== undefined && a.start === b.start;
  let ticks = 0;
  for (const [pid, now] of after) {
    const then = before.get(pid);
    ticks += same(then, now) ? now.ticks - then!.ticks + now.childTicks - then!.childTicks : now.ticks + now.childTicks;
  }
  for (const [pid, then] of before) {
    if (same(then, after.get(pid))) continue;
    // Reaped by a parent still in the tree: counted there in full. An orphan reaped by init is not, and takes nothing off.
    if (same(before.get(then.ppid), after.get(then.ppid))) ticks -= then.ticks + then.childTicks;
  }
  return Math.max(0, ticks);
}

function formatPercent(percent: number): string {
  return percent < 10 ? `${percent.toFixed(1)}%` : `${Math.round(percent)}%`;
}

function describePids(pids: readonly number[]): string {
  return pids.length === 1 ? `pid ${pids[0]}` : `pids ${pids.join(', ')}`;
}

/** "pid 4242 and 2 children", "pids 812, 813", or another's figures: "pid 812, as pm2 reports it". */
function describeTree(m: Measurement): string {
  if (m.source !== 'proc') return `${describePids(m.pids)}, as ${m.source} reports it`;
  if (!m.children) return describePids(m.pids);
  return `${describePids(m.pids)} and ${m.children} ${m.children === 1 ? 'child' : 'children'}`;
}
