import { z } from 'zod';
import { UserError } from '../src/errors.js';
import { defineCommand } from '../src/bot/command.js';

/** /heal <check>: runs the check's heal steps now, whatever the cooldown says. */
export const healCommand = defineCommand({
  name: 'heal',
  description: "Run a check's heal steps now",
  args: z.object({ check: z.string().describe('check name') }),
  role: 'operator',
  async run({ services, invoker }, args) {
    if (!services.checkNames().includes(args.check)) throw new UserError('no_such_check', `No check named "${args.check}". /status lists them.`);
    return { text: await services.healNow(args.check, invoker) };
  },
});
