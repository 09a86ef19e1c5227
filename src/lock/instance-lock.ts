import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import { InstanceLockedError } from '../errors.js';
import { isProcessRunning, processStartTime } from '../util/proc.js';

/** What the lock file records about the instance that holds the data directory. */
export interface LockInfo {
  pid: number;
  /** Kernel start time of the process (Linux), to tell a live owner from a reused pid. */
  procStart: string | null;
  startedAt: string;
  version: string;
  /** host:port of the instance's HTTP server, once it listens; `nightshift status` reads it. */
  http: string | null;
}

/** Why an existing lock was judged stale and taken over. */
export interface StaleLock {
  previous: LockInfo | null;
  reason: string;
}

export interface InstanceLock {
  readonly file: string;
  readonly takenOver: StaleLock | null;
  /** Records the HTTP address once the server listens. */
  update(patch: Partial<Pick<LockInfo, 'http'>>): void;
  /** Removes the lock if it is still ours. */
  release(): void;
}

/**
 * Takes the data directory for this process. A lock held by a live process
 * throws InstanceLockedError; a lock whose owner is gone (killed with -9, or
 * its pid now belongs to another program) is taken over and reported through
 * `takenOver`, never silently.
 */
export function acquireInstanceLock(file: string, version: string): InstanceLock {
  const own: LockInfo = { pid: process.pid, procStart: processStartTime(process.pid), startedAt: new Date().toISOString(), version, http: null };
  let takenOver: StaleLock | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(own), { flag: 'wx', mode: 0o600 });
      return makeHandle(file, own, takenOver);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const existing = readLock(file);
    if (existing === 'missing') continue;
    const verdict = judge(existing);
    if (verdict.alive && existing !== 'unreadable') throw new InstanceLockedError(file, existing.pid);
    takenOver = { previous: existing === 'unreadable' ? null : existing, reason: verdict.reason };
    try {
      unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Error(`could not take the lock ${file}: it keeps reappearing (another nightshift starting at the same time?)`);
}

/** Reads the lock file of a data directory; used by `nightshift status` to find the running instance. */
export function readLock(file: string): LockInfo | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    return Number.isInteger(info.pid) && info.pid > 0 ? info : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** Whether the process recorded in a lock is still the one that wrote it. */
export function judge(info: LockInfo | 'unreadable'): { alive: boolean; reason: string } {
  if (info === 'unreadable') return { alive: false, reason: 'the lock file is empty or corrupt' };
  if (info.pid === process.pid) return { alive: false, reason: 'the lock names this very process id (left by an earlier run in a container)' };
  if (!isProcessRunning(info.pid)) return { alive: false, reason: `its owner (pid ${info.pid}) is no longer running` };
  const start = processStartTime(info.pid);
  if (info.procStart && start && start !== info.procStart) {
    return { alive: false, reason: `pid ${info.pid} now belongs to another process (started later than the lock's owner)` };
  }
  return { alive: true, reason: `pid ${info.pid} is running` };
}

function makeHandle(file: string, info: LockInfo, takenOver: StaleLock | null): InstanceLock {
  let current = info;
  const ours = () => {
    const onDisk = readLock(file);
    return typeof onDisk === 'object' && onDisk.pid === info.pid && onDisk.startedAt === info.startedAt;
  };
  return {
    file,
    takenOver,
    update(patch) {
      if (!ours()) return;
      current = { ...current, ...patch };
      writeFileAtomic(file, JSON.stringify(current));
    },
    release() {
      if (ours()) unlinkSync(file);
    },
  };
}

export const LOCK_FILE = 'nightshift.lock';
