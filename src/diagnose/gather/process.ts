import { existsSync, readFileSync } from 'node:fs';
import { errorMessage } from '../../errors.js';
import { processStartTime } from '../../util/proc.js';
import { formatDuration } from '../../util/duration.js';
import { formatBytes } from '../../util/format.js';
import { detailPids, detailString } from './facts.js';
import { commandLine, readProcFile } from './proc-files.js';
import type { GatherTool, LookContext, LookResult } from './types.js';

/** /proc/<pid>/status is about 1.5 KiB; this bounds it all the same. */
const STATUS_READ_BYTES = 8 * 1024;
/** USER_HZ, the unit of /proc/<pid>/stat's start time: 100 on every Linux architecture Nightshift runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * The state of the process the check's last run named (a supervised child,
 * a pm2 app, a unit's MainPID, a lock's owner): state, parent, memory,
 * threads, age and command line, or that it is not running.
 */
export const processTool: GatherTool = {
  name: 'process',
  plan: ({ lastDetails }) => {
    // A supervised child whose exit the check saw: a live process with that pid now is probably another program.
    const sawItEnd = detailString(lastDetails, 'exitedAt') !== undefined;
    return detailPids(lastDetails).map((pid) => ({ target: `pid ${pid}`, run: (ctx: LookContext) => lookAtProcess(pid, sawItEnd, ctx) }));
  },
};

async function lookAtProcess(pid: number, sawItEnd: boolean, ctx: LookContext): Promise<LookResult> {
  let status: Map<string, string>;
  try {
    status = parseStatus((await readProcFile(`/proc/${pid}/status`, STATUS_READ_BYTES)).data.toString('utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') {
      return existsSync('/proc/self') ? { ok: true, text: `pid ${pid} is not running` } : { ok: false, text: 'this system has no /proc' };
    }
    return { ok: false, text: `cannot read /proc/${pid}/status: ${errorMessage(err)}` };
  }
  const state = status.get('State') ?? 'unknown';
  const parent = status.get('PPid') ?? '?';
  if (state.startsWith('Z')) return { ok: true, text: `pid ${pid} has exited: a zombie its parent (pid ${parent}) has not reaped` };
  const facts = [state, `parent pid ${parent}`, ...rss(status), ...threads(status), ...age(pid)];
  const lines = [`pid ${pid}: ${facts.join(', ')}`, `command: ${await commandOrWhy(pid, ctx)}`];
  if (sawItEnd) lines.push(`(the check saw pid ${pid} exit: this may be another program that was given the same pid)`);
  return { ok: true, text: lines.join('\n') };
}

/** "Key:\tvalue" lines. */
function parseStatus(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** Resident memory; kernel threads have none. */
function rss(status: Map<string, string>): string[] {
  const match = /^(\d+)\s*kB$/.exec(status.get('VmRSS') ?? '');
  return match ? [`${formatBytes(Number(match[1]) * 1024)} resident`] : [];
}

function threads(status: Map<string, string>): string[] {
  const count = status.get('Threads');
  return count ? [`${count} thread${count === '1' ? '' : 's'}`] : [];
}

/** How long ago it started, from its start time in ticks since boot and the machine's uptime. */
function age(pid: number): string[] {
  const startTicks = Number(processStartTime(pid) ?? Number.NaN);
  const uptimeSeconds = readUptimeSeconds();
  if (!Number.isFinite(startTicks) || uptimeSeconds === undefined) return [];
  const ageMs = uptimeSeconds * 1000 - (startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
  return ageMs >= 0 ? [`up ${formatDuration(ageMs)}`] : [];
}

function readUptimeSeconds(): number | undefined {
  try {
    const seconds = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(seconds) ? seconds : undefined;
  } catch {
    // No /proc/uptime: the age is left out, the rest still says plenty.
    return undefined;
  }
}

async function commandOrWhy(pid: number, ctx: LookContext): Promise<string> {
  try {
    return await commandLine(pid, ctx.redact);
  } catch (err) {
    return `(unreadable: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`;
  }
}
