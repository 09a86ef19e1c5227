import { readFile } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import { z } from 'zod';
import type { CheckKind } from './types.js';
import { formatBytes } from '../util/format.js';

const params = z.strictObject({
  /** Fail when available memory drops below this share of total (percent). */
  minAvailablePercent: z.number().min(0).max(100).default(10),
});

/**
 * Available memory on the machine. Reads MemAvailable from /proc/meminfo
 * (what the kernel can hand out without swapping, page cache included);
 * falls back to os.freemem() where /proc is absent.
 */
export const memoryCheck: CheckKind<z.output<typeof params>> = {
  kind: 'memory',
  description: 'available memory on the machine (percent of total)',
  params,
  create(p) {
    return {
      async run() {
        const total = totalmem();
        const available = await memAvailable();
        const percent = (available / total) * 100;
        const details = { availableBytes: available, totalBytes: total, availablePercent: Number(percent.toFixed(2)) };
        const text = `${formatBytes(available)} available of ${formatBytes(total)} (${percent.toFixed(1)}%)`;
        if (percent < p.minAvailablePercent) return { ok: false, message: `${text}, below ${p.minAvailablePercent}%`, details };
        return { ok: true, message: text, details };
      },
    };
  },
};

async function memAvailable(): Promise<number> {
  try {
    const meminfo = await readFile('/proc/meminfo', 'utf8');
    const match = /^MemAvailable:\s+(\d+)\s+kB/m.exec(meminfo);
    if (match) return Number(match[1]) * 1024;
  } catch {
    // No /proc (macOS, BSD): os.freemem() is the best figure available.
  }
  return freemem();
}
