import { lstat, open, unlink } from 'node:fs/promises';
import { z } from 'zod';
import { ageDuration, formatDuration } from '../util/duration.js';
import type { HealAction } from './types.js';
import { isProcessRunning } from '../util/proc.js';
import { parsePid } from '../util/proc.js';

const params = z.strictObject({
  /** The lock file (a pid on its first line, or JSON with a `pid` field). */
  path: z.string().min(1),
  /** Also remove a lock older than this, whoever holds it (a hung owner). Without it, a lock with a live owner is never removed. */
  maxAge: ageDuration.optional(),
});

export type RemoveLockParams = z.output<typeof params>;

const MAX_LOCK_BYTES = 4096;

/**
 * Removes a stale lock file: one whose owner process is gone, or, when
 * maxAge is set, one older than that. A lock whose owner is alive and within
 * maxAge is never removed. No file: ok 'no lock'.
 */
export const removeLockAction: HealAction<RemoveLockParams> = {
  action: 'remove-lock',
  description: 'remove a stale lock file (dead owner pid, or older than maxAge)',
  params,
  create(p) {
    return {
      async run(_target, ctx) {
        const before = await lstat(p.path).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        });
        if (!before) return { ok: true, message: 'no lock', details: { path: p.path, removed: false } };
        if (!before.isFile()) return { ok: false, message: `not a regular file: ${p.path}; not removed`, details: { path: p.path, removed: false } };
        const content = await readHead(p.path);
        const pid = parsePid(content);
        const ageMs = Math.max(0, Math.round(ctx.now() - before.mtimeMs));
        const owner = pid === undefined ? undefined : ownerStatus(pid);
        const details: Record<string, unknown> = { path: p.path, pid: pid ?? null, ownerAlive: owner?.alive ?? null, ageMs, removed: false };
        const tooOld = p.maxAge !== undefined && ageMs > p.maxAge;
        let reason: string;
        if (owner && !owner.alive) reason = owner.why;
        else if (tooOld) reason = `older than ${formatDuration(p.maxAge!)} (${formatDuration(ageMs)})`;
        else if (pid !== undefined) return { ok: false, message: `lock held by live pid ${pid}; not removed`, details };
        else
          return {
            ok: false,
            message: `lock names no pid${p.maxAge === undefined ? '' : ` and is younger than ${formatDuration(p.maxAge)}`}; not removed`,
            details,
          };
        // Another process may have released and re-taken the lock while we judged it: remove only the file we judged.
        const current = await lstat(p.path).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        });
        if (!current) return { ok: true, message: 'no lock', details };
        if (current.ino !== before.ino || current.mtimeMs !== before.mtimeMs || current.size !== before.size) {
          return { ok: false, message: 'lock changed while it was judged; not removed', details };
        }
        try {
          await unlink(p.path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, message: 'no lock', details };
          throw err;
        }
        details.removed = true;
        details.reason = reason;
        return { ok: true, message: `removed stale lock: ${reason}`, details };
      },
    };
  },
};

async function readHead(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_LOCK_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** "1234\n..." or {"pid": 1234, ...}; undefined when the file names no pid. */
/**
 * The same judgement as the lockfile check (a zombie is dead, EPERM is alive),
 * so the check and the heal never disagree about a lock. Deliberately no
 * "started after the lock was written" rule: on a machine whose clock jumps at
 * boot it would call a live owner dead and delete a lock in use.
 */
function ownerStatus(pid: number): { alive: boolean; why: string } {
  return isProcessRunning(pid) ? { alive: true, why: `pid ${pid} is running` } : { alive: false, why: `owner pid ${pid} is not running` };
}
