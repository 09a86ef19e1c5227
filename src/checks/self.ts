import { z } from 'zod';
import type { CheckKind } from './types.js';
import { formatBytes } from '../util/format.js';

const params = z.strictObject({
  /** Fail when the event loop's p99 delay exceeds this many ms (the bot is too busy to patrol on time). */
  maxEventLoopDelayMs: z.number().positive().default(1000),
  /** Fail when the bot's own resident memory exceeds this many MiB (a leak). */
  maxRssMiB: z.number().positive().default(512),
});

/**
 * The bot's own heartbeat: its store still takes writes, its event loop is
 * responsive and its memory is bounded. A bot that cannot write its store
 * patrols without leaving evidence, which is the silence DESIGN.md forbids.
 */
export const selfCheck: CheckKind<z.output<typeof params>> = {
  kind: 'self',
  description: "the bot's own heartbeat: store writable, event loop responsive, memory bounded",
  params,
  create(p, env) {
    return {
      async run() {
        env.self.storeRoundTrip();
        const delay = env.self.eventLoopDelayP99Ms();
        const rss = env.self.rssBytes();
        const details = { eventLoopDelayP99Ms: Number(delay.toFixed(1)), rssBytes: rss };
        const problems: string[] = [];
        if (delay > p.maxEventLoopDelayMs) problems.push(`event loop p99 delay ${delay.toFixed(0)}ms > ${p.maxEventLoopDelayMs}ms`);
        if (rss > p.maxRssMiB * 1024 * 1024) problems.push(`rss ${formatBytes(rss)} > ${p.maxRssMiB} MiB`);
        if (problems.length > 0) return { ok: false, message: problems.join('; '), details };
        return { ok: true, message: `store writable, loop p99 ${delay.toFixed(0)}ms, rss ${formatBytes(rss)}`, details };
      },
    };
  },
};
