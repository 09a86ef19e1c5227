import { readFileSync } from 'node:fs';

/**
 * Facts about other processes from signal 0 and /proc (Linux). One place,
 * because the instance lock, the supervised children and lock files all need
 * the same two answers: is it running, and is it still the process that was
 * started then (a pid can be reused).
 */

/** The fields of /proc/<pid>/stat from field 3 (state) on, or null where /proc cannot tell. */
function statFields(pid: number): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // The process is gone, or this system has no /proc: callers treat both as "unknown".
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null where /proc is absent. */
export function processStartTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/**
 * Whether a process with this pid is running: signal 0 finds it (EPERM: it
 * exists under another user), and it is not a zombie waiting to be reaped,
 * which can no longer do anything.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return statFields(pid)?.[0] !== 'Z';
}
/** The largest pid Linux can hand out (pid_max is at most 2^22, but the type allows this). */
const LARGEST_PID = 2 ** 31 - 1;

/** The owner pid written in a lock file: a number on the first line, or JSON with a `pid` field (number or digits). */
export function parsePid(text: string): number | undefined {
  const firstLine = text.trim().split('\n', 1)[0]?.trim() ?? '';
  if (/^\d+$/.test(firstLine)) return validPid(Number(firstLine));
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && 'pid' in parsed) {
      const { pid } = parsed;
      if (typeof pid === 'number') return validPid(pid);
      if (typeof pid === 'string' && /^\d+$/.test(pid.trim())) return validPid(Number(pid.trim()));
    }
  } catch {
    // Not JSON either: the lock carries no pid we can read.
  }
  return undefined;
}

/** Zero and negative numbers address process groups in kill(2); they are never a lock owner. */
function validPid(pid: number): number | undefined {
  return Number.isInteger(pid) && pid > 0 && pid <= LARGEST_PID ? pid : undefined;
}
