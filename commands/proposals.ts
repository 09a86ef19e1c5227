import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /proposals: fixes proposed by diagnoses and what became of them. */
export const proposalsCommand = defineCommand({
  name: 'proposals',
  description: 'List proposed fixes and their status',
  args: z.object({}),
  role: 'viewer',
  run({ services }) {
    const lines = services.proposals();
    return { text: lines.length ? lines.join('\n') : 'No proposals yet: they come with diagnoses that find a fix.' };
  },
});
