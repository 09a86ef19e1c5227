import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /proposals: fixes proposed by diagnoses and what became of them. */
export const proposalsCommand = defineCommand({
  name: 'proposals',
  description: 'List proposed fixes and their status',
  args: z.object({}),
  role: 'viewer',
  run({ services }) {
    const proposals = services.diagnosis.proposals();
    if (proposals.length === 0) return { text: 'No proposals yet: they come with diagnoses that find a fix.' };
    return {
      text: proposals
        .map(
          (p) =>
            `${p.id} [${p.status}${p.decidedBy ? ` by ${p.decidedBy}` : ''}] ${p.summary} (diagnosis #${p.diagnosisId}, ${new Date(p.createdAt).toISOString()})`,
        )
        .join('\n'),
    };
  },
});
