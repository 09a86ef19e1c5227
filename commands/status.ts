import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { renderSummary } from '../src/patrol/summary.js';

/** /status: the one-line summary, then one line per failing or stale check. */
export const statusCommand = defineCommand({
  name: 'status',
  description: 'Show the summary line and every failing or stale check',
  args: z.object({}),
  role: 'viewer',
  run({ services }) {
    return { text: renderSummary(services.status.summary()) };
  },
});
