import { lstat, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ageDuration, formatDuration } from '../util/duration.js';
import type { HealAction } from './types.js';
import { formatBytes } from '../util/format.js';

const params = z.strictObject({
  /** The directory to clean; it is never deleted itself. */
  dir: z.string().min(1),
  /** A glob on file names (not paths): `*` any run of characters, `?` one character. A leading dot must be matched explicitly. */
  pattern: z
    .string()
    .min(1)
    .refine((glob) => !glob.includes('/'), { message: 'a pattern matches file names, so it cannot contain "/"' })
    .default('*'),
  /** Only files last modified longer ago than this are deleted. */
  olderThan: ageDuration,
  /** Also clean sub-directories (never following symlinks). */
  recursive: z.boolean().default(false),
  /** Report what would be deleted, delete nothing. */
  dryRun: z.boolean().default(false),
});

export type CleanFilesParams = z.output<typeof params>;

const EXAMPLES = 5;

/**
 * Deletes old files matching a name pattern in one directory (optionally its
 * sub-directories). Only regular files are deleted; symlinks are neither
 * deleted nor followed, so nothing outside `dir` is touched; `dir` itself
 * stays. Opt-in by design: it runs only where the operator lists it.
 */
export const cleanFilesAction: HealAction<CleanFilesParams> = {
  action: 'clean-files',
  description: 'delete regular files matching a name pattern and older than a duration in a directory',
  params,
  create(p) {
    const matches = globMatcher(p.pattern);
    return {
      async run(_target, ctx) {
        const root = await stat(p.dir).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        });
        if (!root) return { ok: false, message: `missing: ${p.dir}`, details: { dir: p.dir, deleted: 0, freedBytes: 0, examples: [] } };
        if (!root.isDirectory()) return { ok: false, message: `not a directory: ${p.dir}`, details: { dir: p.dir, deleted: 0, freedBytes: 0, examples: [] } };
        const cutoff = ctx.now() - p.olderThan;
        let deleted = 0;
        let freedBytes = 0;
        const examples: string[] = [];
        const failures: string[] = [];
        const pending = [p.dir];
        while (pending.length > 0) {
          const dir = pending.pop()!;
          for (const name of await readdir(dir)) {
            ctx.signal.throwIfAborted();
            const full = join(dir, name);
            // lstat, never stat: a symlink is skipped, not followed (and readdir's type may be unknown on some filesystems).
            const info = await lstat(full).catch((err: NodeJS.ErrnoException) => {
              if (err.code === 'ENOENT') return undefined;
              throw err;
            });
            if (!info) continue;
            if (info.isDirectory()) {
              if (p.recursive) pending.push(full);
              continue;
            }
            if (!info.isFile() || !matches(name) || info.mtimeMs >= cutoff) continue;
            if (!p.dryRun) {
              try {
                await unlink(full);
              } catch (err) {
                const code = (err as NodeJS.ErrnoException).code;
                if (code === 'ENOENT') continue;
                failures.push(`${full}: ${code ?? (err as Error).message}`);
                continue;
              }
            }
            deleted++;
            freedBytes += info.size;
            if (examples.length < EXAMPLES) examples.push(full.slice(p.dir.length).replace(/^\/+/, ''));
          }
        }
        const details: Record<string, unknown> = { dir: p.dir, pattern: p.pattern, deleted, freedBytes, examples, dryRun: p.dryRun };
        if (failures.length > 0) details.failures = failures.slice(0, EXAMPLES);
        const age = formatDuration(p.olderThan);
        const summary = `${deleted} ${p.pattern} file${deleted === 1 ? '' : 's'} older than ${age} (${formatBytes(freedBytes)})`;
        if (failures.length > 0) return { ok: false, message: `deleted ${summary}; ${failures.length} could not be deleted: ${failures[0]}`, details };
        if (deleted === 0) return { ok: true, message: `nothing to delete (no ${p.pattern} older than ${age})`, details };
        return { ok: true, message: p.dryRun ? `dry run: would delete ${summary}` : `deleted ${summary}`, details };
      },
    };
  },
};

/**
 * A file-name matcher for `*` and `?` (Node 20 has no fs.globSync). As in
 * the shell, a wildcard does not match a leading dot.
 */
export function globMatcher(glob: string): (name: string) => boolean {
  const source = [...glob].map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  const regex = new RegExp(`^${source}$`, 's');
  const dotExplicit = glob.startsWith('.');
  return (name) => (dotExplicit || !name.startsWith('.')) && regex.test(name);
}
