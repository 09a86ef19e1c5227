import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { UserError } from '../src/errors.js';

/** /diagnose [check]: a diagnosis now (the causal chain, explained by the local model when it answers). */
export const diagnoseCommand = defineCommand({
  name: 'diagnose',
  description: 'Diagnose recent failures now (optionally of one check)',
  args: z.object({ check: z.string().optional().describe('check name (optional)') }),
  role: 'operator',
  async run({ services }, args) {
    if (args.check && !services.status.checkNames().includes(args.check))
      throw new UserError('no_such_check', `No check named "${args.check}". /status lists them.`);
    const outcome = await services.diagnosis.diagnoseNow(args.check);
    switch (outcome.kind) {
      case 'not-granted':
        return {
          text: `Analysis is ${outcome.state}, not granted: Nightshift does not analyse error patterns. An admin can allow it with /consent analysis on.`,
        };
      case 'already-running':
        return { text: 'A diagnosis of this is already running; its result is posted when it is done.' };
      case 'failed':
        return { kind: 'error', text: `The causal analysis failed: ${outcome.error}` };
      case 'made':
        return {
          text: !outcome.proposal
            ? `${outcome.title} (posted on every channel).`
            : outcome.proposal.status === 'unfit'
              ? `${outcome.title} (posted on every channel); its proposed fix ${outcome.proposal.id} is diagnosis only: ${outcome.proposal.unfitReason}.`
              : `${outcome.title} (posted on every channel); proposed fix ${outcome.proposal.id} waits for approval: ${outcome.proposal.summary}`,
        };
    }
  },
});
