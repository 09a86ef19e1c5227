import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on every Linux we run on). */
export const CLOCK_TICKS_PER_SECOND: number = (() => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 });
  const value = Number(result.stdout?.trim());
  return Number.isInteger(value) && value > 0 ? value : 100;
})();

/** CPU time a process has used so far, in clock ticks: user and system over all its threads, and its main thread alone. */
export interface CpuTimes {
  userTicks: number;
  systemTicks: number;
  /** The JavaScript thread (tid = pid); the rest is libuv's pool, V8's GC and compiler threads. */
  mainThreadTicks: number;
}

/** Reads utime and stime from /proc/<pid>/stat and /proc/<pid>/task/<pid>/stat. */
export function readCpuTimes(pid: number): CpuTimes {
  const whole = statTimes(`/proc/${pid}/stat`);
  const main = statTimes(`/proc/${pid}/task/${pid}/stat`);
  return { userTicks: whole.user, systemTicks: whole.system, mainThreadTicks: main.user + main.system };
}

function statTimes(file: string): { user: number; system: number } {
  const stat = readFileSync(file, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces; the fields after its last ")" are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name, field 3 (state) is index 0, so utime (14) is index 11 and stime (15) is index 12.
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

/** CPU % of one core that `ticks` clock ticks amount to over `seconds`. */
export function cpuPercent(ticks: number, seconds: number): number {
  return (ticks / CLOCK_TICKS_PER_SECOND / seconds) * 100;
}

/** Resident memory of a process in kB: now (VmRSS) and its peak since start (VmHWM). */
export interface MemoryReading {
  rssKB: number;
  peakRssKB: number;
}

/**
 * Memory only this process holds, in kB (Private_Clean + Private_Dirty of /proc/<pid>/smaps_rollup):
 * what the machine gets back when it exits. RSS also counts pages it shares with other processes, such
 * as the `node` binary's own pages when other Node processes (agents, pm2) run beside it.
 */
export function readPrivateMemoryKB(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? Number.NaN);
  return field('Private_Clean') + field('Private_Dirty');
}

/** Reads VmRSS and VmHWM from /proc/<pid>/status. */
export function readMemory(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]);
  };
  return { rssKB: field('VmRSS'), peakRssKB: field('VmHWM') };
}

/** What the figures were measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryMB: number;
  loadAverage: [number, number, number];
  node: string;
}

/** The machine's CPU, core count, memory and load averages (1, 5, 15 min) right now. */
export function machineInfo(): MachineInfo {
  const [one, five, fifteen] = loadavg();
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryMB: Math.round(totalmem() / 1024 / 1024),
    loadAverage: [round(one ?? 0, 2), round(five ?? 0, 2), round(fifteen ?? 0, 2)],
    node: process.version,
  };
}

/** Rounds to `digits` decimals (for printing figures). */
export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
