import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /approve <id>: approves a proposed fix. */
export const approveCommand = defineCommand({
  name: 'approve',
  description: 'Approve a proposed fix',
  args: z.object({ id: z.string().describe('proposal id') }),
  role: 'operator',
  run({ services, invoker }, args) {
    return { text: services.decideProposal(args.id, true, invoker) };
  },
});
