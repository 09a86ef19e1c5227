import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { proposalReply } from './reject.js';

/** /approve <id>: approves a proposed fix. */
export const approveCommand = defineCommand({
  name: 'approve',
  description: 'Approve a proposed fix',
  args: z.object({ id: z.string().describe('proposal id') }),
  role: 'operator',
  run({ services, invoker }, args) {
    return proposalReply(args.id, services.diagnosis.decideProposal(args.id, true, invoker));
  },
});
