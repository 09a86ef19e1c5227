import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /repairs: repairs and where each stands, newest first, after the approved fixes still waiting. */
export const repairsCommand = defineCommand({
  name: 'repairs',
  description: 'List repairs and their state',
  args: z.object({}),
  role: 'viewer',
  run({ services }) {
    const repairs = services.repair.list();
    if (repairs.length === 0) return { text: 'No repairs yet: an approved fix becomes one (/proposals lists fixes).' };
    return {
      text: repairs
        .map(
          (r) =>
            `${r.id} [${r.state}] ${r.target ?? '-'}: ${r.summary}${r.commitSha ? ` (commit ${r.commitSha.slice(0, 12)})` : ''}${r.reason ? ` (${r.reason})` : ''}, ${new Date(r.at).toISOString()}`,
        )
        .join('\n'),
    };
  },
});
