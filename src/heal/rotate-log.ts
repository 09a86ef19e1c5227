import { existsSync, type Stats } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import { runCommand } from '../exec.js';
import type { HealAction, HealResult } from './types.js';
import { tailAtWord } from '../util/text.js';
import { formatBytes } from '../util/format.js';

const params = z.strictObject({
  /** The live log file; its writer keeps it open with O_APPEND. */
  path: z.string().min(1),
  /** How many rotated files to keep (<path>.1 is the newest). */
  keep: z.number().int().min(1).max(100).default(3),
});

export type RotateLogParams = z.output<typeof params>;

const FALLOCATE = 'fallocate';
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * Rotates a log whose writer keeps it open, without losing a line. The first
 * N bytes (the size rounded down to the filesystem block, strictly below the
 * end) are copied to <path>.1, then cut from the front of the live file in
 * one atomic step (fallocate FALLOC_FL_COLLAPSE_RANGE); whatever the writer
 * appends meanwhile stays in the live file. The writer must use O_APPEND (a
 * writer with its own file offset would leave a hole, as with any
 * copy-truncate). A line may be split across <path>.1 and <path> at the block
 * boundary: concatenated, the files hold every byte exactly once. Where the
 * filesystem cannot collapse (tmpfs, no util-linux fallocate), it falls back
 * to copy-then-truncate, which may lose the bytes written between the last
 * copy and the truncate, and says so. Two rotations must not run on the same
 * file at once (the heal engine runs one step at a time per check).
 */
export const rotateLogAction: HealAction<RotateLogParams> = {
  action: 'rotate-log',
  description: 'rotate a log its writer keeps open (collapse-range, no line lost) to <path>.1 .. <path>.<keep>',
  params,
  create(p, env) {
    return {
      async run(_target, ctx): Promise<HealResult> {
        let handle: FileHandle;
        try {
          handle = await open(p.path, 'r+');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, message: `missing: ${p.path}`, details: { path: p.path } };
          throw err;
        }
        try {
          const stats = await handle.stat();
          if (!stats.isFile()) return { ok: false, message: `not a regular file: ${p.path}`, details: { path: p.path } };
          const block = stats.blksize > 0 ? stats.blksize : 4096;
          // Collapse must stop short of the end of the file (the kernel refuses a range that reaches it).
          const cut = Math.floor((stats.size - 1) / block) * block;
          if (stats.size <= block || cut <= 0) {
            return {
              ok: true,
              message: 'nothing to rotate',
              details: { path: p.path, method: 'none', rotatedBytes: 0, keptFiles: await existingRotations(p.path, p.keep), bytes: stats.size },
            };
          }
          const staging = `${p.path}.rotating`;
          const staged = await open(staging, 'w', stats.mode & 0o777);
          // Once bytes are cut from the live file, the staging file is their only copy: never delete it after that.
          let liveCut = false;
          try {
            await copyRange(handle, staged, 0, cut, ctx.signal);
            await staged.sync();
            const collapse = await runCommand([FALLOCATE, '--collapse-range', '--offset', '0', '--length', String(cut), sameFile(p.path, handle)], {
              env: env.childEnv(),
              signal: ctx.signal,
              keepBytes: 2048,
            });
            let result: HealResult;
            if (collapse.exitCode === 0) {
              liveCut = true;
              result = {
                ok: true,
                message: `rotated ${formatBytes(cut)} to ${basename(p.path)}.1`,
                details: { path: p.path, method: 'collapse-range', rotatedBytes: cut },
              };
            } else {
              const why = collapse.spawnError ?? (collapse.stderr.trim().split('\n').at(-1) || `exit ${collapse.exitCode}`);
              if (!collapseUnsupported(collapse.spawnError, collapse.stderr)) {
                return {
                  ok: false,
                  message: `fallocate --collapse-range failed: ${why}`,
                  details: { path: p.path, method: 'collapse-range', exitCode: collapse.exitCode, stderrTail: tailAtWord(collapse.stderr, 500) },
                };
              }
              ctx.signal.throwIfAborted();
              const copied = await copyThenTruncate(handle, staged, cut, ctx.signal, () => (liveCut = true));
              env.log.warn(
                { path: p.path, reason: why, rotatedBytes: copied },
                'rotate-log: collapse-range unsupported here; fell back to copy-truncate, lines written during the copy may be lost',
              );
              result = {
                ok: true,
                message: `rotated ${formatBytes(copied)} to ${basename(p.path)}.1 by copy-truncate (collapse-range unsupported: ${why}); lines written during the copy may be lost`,
                details: { path: p.path, method: 'copy-truncate', mayLoseBytes: true, rotatedBytes: copied, reason: why },
              };
            }
            await shiftRotations(p.path, p.keep);
            await rename(staging, `${p.path}.1`);
            result.details!.keptFiles = await existingRotations(p.path, p.keep);
            return result;
          } catch (err) {
            if (liveCut) throw new Error(`rotation of ${p.path} interrupted after cutting the live file; the rotated bytes are in ${staging}`, { cause: err });
            throw err;
          } finally {
            await staged.close();
            if (!liveCut) await rm(staging, { force: true });
          }
        } finally {
          await handle.close();
        }
      },
    };
  },
};

/**
 * The path fallocate should open: our own descriptor through /proc, so the
 * bytes cut are those just copied even if the log was renamed meanwhile.
 */
function sameFile(path: string, handle: FileHandle): string {
  const viaProc = `/proc/${process.pid}/fd/${handle.fd}`;
  return existsSync(viaProc) ? viaProc : path;
}

/** fallocate failed because this filesystem or this fallocate cannot collapse, not because of the file. */
function collapseUnsupported(spawnError: string | undefined, stderr: string): boolean {
  if (spawnError) return true;
  // EOPNOTSUPP (tmpfs, nfs...), EINVAL (block size not the allocation unit), an fallocate without --collapse-range (busybox).
  return /not supported|Invalid argument|unrecognized option|invalid option|unknown option/i.test(stderr);
}

async function copyRange(from: FileHandle, to: FileHandle, start: number, end: number, signal: AbortSignal): Promise<number> {
  const buffer = Buffer.alloc(COPY_CHUNK_BYTES);
  let position = start;
  while (position < end) {
    signal.throwIfAborted();
    const { bytesRead } = await from.read(buffer, 0, Math.min(buffer.length, end - position), position);
    if (bytesRead === 0) break;
    // The staged copy mirrors the live file from its start: same offsets in both.
    await to.write(buffer, 0, bytesRead, position);
    position += bytesRead;
  }
  return position - start;
}

/**
 * The fallback: copy up to the current end (again while the writer keeps
 * adding), then truncate at once. Bytes appended after the last copy and
 * before the truncate are lost; the loop keeps that window as short as it can.
 */
async function copyThenTruncate(live: FileHandle, staged: FileHandle, alreadyCopied: number, signal: AbortSignal, onTruncated: () => void): Promise<number> {
  let copied = alreadyCopied;
  for (let round = 0; round < 10; round++) {
    const size = (await live.stat()).size;
    if (size <= copied) break;
    copied += await copyRange(live, staged, copied, size, signal);
  }
  await staged.sync();
  await live.truncate(0);
  onTruncated();
  return copied;
}

/** <path>.1 .. <path>.(keep-1) move up by one; <path>.<keep> is deleted. */
async function shiftRotations(path: string, keep: number): Promise<void> {
  await rm(`${path}.${keep}`, { force: true });
  for (let index = keep - 1; index >= 1; index--) {
    try {
      await rename(`${path}.${index}`, `${path}.${index + 1}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

async function existingRotations(path: string, keep: number): Promise<string[]> {
  const names: string[] = [];
  for (let index = 1; index <= keep; index++) {
    const candidate = `${path}.${index}`;
    const found: Stats | undefined = await stat(candidate).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (found) names.push(basename(candidate));
  }
  return names;
}
