import { z } from 'zod';
import { UserError } from '../src/errors.js';
import { defineCommand } from '../src/bot/command.js';

/** /diagnose [check]: a diagnosis now (the causal chain, explained by the local model when it answers). */
export const diagnoseCommand = defineCommand({
  name: 'diagnose',
  description: 'Diagnose recent failures now (optionally of one check)',
  args: z.object({ check: z.string().optional().describe('check name (optional)') }),
  role: 'operator',
  async run({ services, invoker }, args) {
    if (args.check && !services.checkNames().includes(args.check)) throw new UserError('no_such_check', `No check named "${args.check}". /status lists them.`);
    return { text: await services.diagnose(args.check, invoker) };
  },
});
