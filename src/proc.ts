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
