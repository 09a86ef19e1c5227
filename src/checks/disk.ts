import { statfs } from 'node:fs/promises';
import { z } from 'zod';
import type { CheckKind } from './types.js';
import { formatBytes } from '../util/format.js';

const params = z.strictObject({
  /** Any path on the filesystem to measure. */
  path: z.string().min(1),
  /** Fail below this share of free space (percent of the filesystem). */
  minFreePercent: z.number().min(0).max(100).optional(),
  /** Fail below this many free bytes. */
  minFreeBytes: z.number().int().min(0).optional(),
});

/** Free space on the filesystem holding `path`, as the unprivileged user sees it (bavail). */
export const diskCheck: CheckKind<z.output<typeof params>> = {
  kind: 'disk',
  description: 'free space on the filesystem of a path (percent and/or bytes)',
  params,
  create(p) {
    const minPercent = p.minFreePercent ?? (p.minFreeBytes === undefined ? 10 : undefined);
    return {
      async run() {
        const fs = await statfs(p.path);
        const total = fs.blocks * fs.bsize;
        const free = fs.bavail * fs.bsize;
        const freePercent = total > 0 ? (free / total) * 100 : 0;
        const details = { path: p.path, freeBytes: free, totalBytes: total, freePercent: Number(freePercent.toFixed(2)) };
        const text = `${formatBytes(free)} free of ${formatBytes(total)} (${freePercent.toFixed(1)}%) on ${p.path}`;
        if (minPercent !== undefined && freePercent < minPercent) {
          return { ok: false, message: `${text}, below ${minPercent}%`, details };
        }
        if (p.minFreeBytes !== undefined && free < p.minFreeBytes) {
          return { ok: false, message: `${text}, below ${formatBytes(p.minFreeBytes)}`, details };
        }
        return { ok: true, message: text, details };
      },
    };
  },
};
