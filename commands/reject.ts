import { z } from 'zod';
import type { Reply } from '../src/chat/channel.js';
import { defineCommand } from '../src/bot/command.js';
import type { ProposalDecision } from '../src/diagnose/proposals.js';

/** /reject <id>: rejects a proposed fix. */
export const rejectCommand = defineCommand({
  name: 'reject',
  description: 'Reject a proposed fix',
  args: z.object({ id: z.string().describe('proposal id') }),
  role: 'operator',
  run({ services, invoker }, args) {
    return proposalReply(args.id, services.diagnosis.decideProposal(args.id, false, invoker));
  },
});

/** What /approve and /reject answer: the question's own reply (the first answer wins wherever it came from). */
export function proposalReply(id: string, decision: ProposalDecision): Reply {
  return decision.kind === 'unknown-proposal' ? { text: `No such proposal: ${id}. /proposals lists them.` } : decision.reply;
}
