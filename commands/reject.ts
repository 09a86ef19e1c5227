import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /reject <id>: rejects a proposed fix. */
export const rejectCommand = defineCommand({
  name: 'reject',
  description: 'Reject a proposed fix',
  args: z.object({ id: z.string().describe('proposal id') }),
  role: 'operator',
  run({ services, invoker }, args) {
    return { text: services.decideProposal(args.id, false, invoker) };
  },
});
