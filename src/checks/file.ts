import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { ageDuration, formatDuration } from '../util/duration.js';
import type { CheckKind } from './types.js';
import { formatBytes } from '../util/format.js';

const params = z.strictObject({
  path: z.string().min(1),
  /** The file must have been modified more recently than this (a heartbeat file, a nightly backup). */
  maxAge: ageDuration.optional(),
  minBytes: z.number().int().min(0).optional(),
  maxBytes: z.number().int().min(0).optional(),
  /** When false, an absent file is healthy (and the other bounds apply only when it exists). */
  mustExist: z.boolean().default(true),
});

/** A file exists, is fresh enough (mtime within maxAge) and has a size within bounds. */
export const fileCheck: CheckKind<z.output<typeof params>> = {
  kind: 'file',
  description: 'a file exists, was modified recently enough and has a size within bounds',
  params,
  create(p) {
    return {
      async run(ctx) {
        let info: Stats;
        try {
          info = await stat(p.path);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'ENOTDIR') {
            return { ok: false, message: `cannot read ${p.path}: ${code ?? String(err)}`, details: { path: p.path, exists: null, errorCode: code } };
          }
          const details = { path: p.path, exists: false };
          return p.mustExist ? { ok: false, message: `missing: ${p.path}`, details } : { ok: true, message: `absent (allowed): ${p.path}`, details };
        }
        // A clock step or a copy with a future mtime gives a negative age; count it as just written.
        const ageMs = Math.max(0, ctx.now() - info.mtimeMs);
        const details = { path: p.path, exists: true, bytes: info.size, ageMs: Math.round(ageMs), mtime: info.mtime.toISOString() };
        const problems: string[] = [];
        if (p.maxAge !== undefined && ageMs > p.maxAge) problems.push(`stale: modified ${formatDuration(ageMs)} ago (max ${formatDuration(p.maxAge)})`);
        if (p.minBytes !== undefined && info.size < p.minBytes) problems.push(`too small: ${formatBytes(info.size)} (min ${formatBytes(p.minBytes)})`);
        if (p.maxBytes !== undefined && info.size > p.maxBytes) problems.push(`too large: ${formatBytes(info.size)} (max ${formatBytes(p.maxBytes)})`);
        if (problems.length > 0) return { ok: false, message: problems.join('; '), details };
        return { ok: true, message: `${formatBytes(info.size)}, modified ${formatDuration(ageMs)} ago`, details };
      },
    };
  },
};
