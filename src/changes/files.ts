import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';

/** Files larger than this are not read: their size and mtime stand for their content (a lockfile is far smaller). */
const MAX_HASHED_BYTES = 64 * 1024 * 1024;

/**
 * A stat match is trusted only for a file whose last change is this much
 * older than the read that hashed it (git's "racy" rule): a write within the
 * same timestamp tick as that read, keeping the size, would go unseen.
 */
const RACY_MARGIN_MS = 2_000;

/** What is kept of one file: never its content, only its hash (null above MAX_HASHED_BYTES) and stat. */
export const fileStampSchema = z.object({
  size: z.number(),
  mtimeMs: z.number(),
  ctimeMs: z.number(),
  sha256: z.string().nullable(),
  /** Wall-clock time of the read that hashed it: compared with ctime, which the file system takes from the same clock. */
  hashedAt: z.number(),
});
export type FileStamp = z.output<typeof fileStampSchema>;

/** Throws when the watched folder is gone: every file in it would otherwise look removed. */
export async function requireFolder(path: string): Promise<void> {
  const stats = await stat(path);
  if (!stats.isDirectory()) throw new Error(`${path} is no longer a folder`);
}

/** The file's stat; null when nothing (or no regular file) is there. */
export async function statFile(path: string): Promise<Stats | null> {
  try {
    const stats = await stat(path);
    return stats.isFile() ? stats : null;
  } catch (err) {
    if (isAbsent(err)) return null;
    throw err;
  }
}

/** True when `previous` was hashed from exactly this version of the file (same size and times, written well before the read). */
export function stampStillValid(previous: FileStamp | undefined, stats: Stats): previous is FileStamp {
  return (
    previous !== undefined &&
    previous.size === stats.size &&
    previous.mtimeMs === stats.mtimeMs &&
    previous.ctimeMs === stats.ctimeMs &&
    stats.ctimeMs < previous.hashedAt - RACY_MARGIN_MS
  );
}

/**
 * The file's stamp, hashing its content (streamed, up to MAX_HASHED_BYTES)
 * unless `previous` still describes it; null when the file is absent.
 */
export async function stampFile(path: string, previous: FileStamp | undefined, signal: AbortSignal): Promise<FileStamp | null> {
  const stats = await statFile(path);
  if (!stats) return null;
  if (stampStillValid(previous, stats)) return previous;
  const hashedAt = Date.now();
  const sha256 = stats.size > MAX_HASHED_BYTES ? null : await hashFile(path, signal);
  return { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, sha256, hashedAt };
}

/** A stamp for content already read (an env or config file), hashed from `bytes`. */
export function stampOf(stats: Stats, bytes: Buffer, hashedAt: number): FileStamp {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, sha256: sha256Hex(bytes), hashedAt };
}

/** Whether two stamps are the same content: by hash, or by size and mtime for files too big to hash. */
export function sameContent(a: FileStamp, b: FileStamp): boolean {
  if (a.sha256 !== null && b.sha256 !== null) return a.sha256 === b.sha256;
  return a.sha256 === b.sha256 && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** The short fingerprint events carry: the first 12 hex of the content hash (of size and mtime for a file too big to hash). */
export function fingerprint(stamp: FileStamp): string {
  return stamp.sha256?.slice(0, 12) ?? shortHash(`${stamp.size}:${stamp.mtimeMs}`);
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The first 12 hex of a sha256: enough to tell two versions apart, nothing to recover a value from. */
export function shortHash(data: string | Buffer): string {
  return sha256Hex(data).slice(0, 12);
}

/** JSON with object keys sorted, so two equal values always serialise the same (a reordered YAML mapping is no change). */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Nothing at that path (or a path through a file): the thing is absent, which is a state, not an error. */
export function isAbsent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function hashFile(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
