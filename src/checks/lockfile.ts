import { open } from 'node:fs/promises';
import { z } from 'zod';
import { isProcessRunning } from '../util/proc.js';
import { ageDuration, formatDuration } from '../util/duration.js';
import { parsePid } from '../util/proc.js';
import type { CheckKind } from './types.js';
import { clipAtWord } from '../util/text.js';

const params = z.strictObject({
  /** The lock file another program writes while it runs (its pid inside). */
  path: z.string().min(1),
  /** A lock held longer than this is stale even when its owner lives (a hung job). */
  maxAge: ageDuration.optional(),
});

/** Lock files hold a pid or a small JSON object; anything longer is not a lock file, and only its head is read. */
const READ_LIMIT = 4096;

/** Why a lock is judged stale; the `remove-lock` heal and diagnosis read it from details.stale. */
export type LockStaleness = 'owner-dead' | 'too-old' | 'no-pid';

/**
 * A lock file left behind by a dead process is stale and fails the check, so
 * a job that finds it held never exits 0 silently. Healthy: no lock at all,
 * or a lock whose owner (the pid in the file: a number on the first line, or
 * JSON with a `pid` field) is alive and within maxAge. details carry the path,
 * pid, ownerAlive, ageMs and `stale` for the `remove-lock` heal.
 */
export const lockfileCheck: CheckKind<z.output<typeof params>> = {
  kind: 'lockfile',
  description: 'a lock file is not stale: its owner pid is alive and it is younger than maxAge',
  params,
  create(p) {
    return {
      async run(ctx) {
        const lock = await readLockFile(p.path);
        if (lock === 'missing') return { ok: true, message: 'no lock held', details: { path: p.path, exists: false } };
        const ageMs = Math.max(0, Math.round(ctx.now() - lock.mtimeMs));
        const base = { path: p.path, exists: true, ageMs, mtime: new Date(lock.mtimeMs).toISOString() };
        const pid = parsePid(lock.text);
        if (pid === undefined) {
          const stale: LockStaleness = 'no-pid';
          return { ok: false, message: `lock without a pid: ${p.path}`, details: { ...base, pid: null, stale, contentSnippet: clipAtWord(lock.text, 80) } };
        }
        const ownerAlive = isProcessRunning(pid);
        const details = { ...base, pid, ownerAlive };
        if (!ownerAlive) {
          const stale: LockStaleness = 'owner-dead';
          return { ok: false, message: `stale: owner pid ${pid} is gone (lock ${formatDuration(ageMs)} old)`, details: { ...details, stale } };
        }
        if (p.maxAge !== undefined && ageMs > p.maxAge) {
          const stale: LockStaleness = 'too-old';
          return {
            ok: false,
            message: `stale: held by pid ${pid} for ${formatDuration(ageMs)} (max ${formatDuration(p.maxAge)})`,
            details: { ...details, stale },
          };
        }
        return { ok: true, message: `held by pid ${pid} for ${formatDuration(ageMs)}`, details };
      },
    };
  },
};

async function readLockFile(path: string): Promise<{ text: string; mtimeMs: number } | 'missing'> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const info = await handle.stat();
    const buffer = Buffer.alloc(READ_LIMIT);
    const { bytesRead } = await handle.read(buffer, 0, READ_LIMIT, 0);
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), mtimeMs: info.mtimeMs };
  } finally {
    await handle.close();
  }
}
