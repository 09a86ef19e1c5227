import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { UserError } from '../src/errors.js';

/** /heal <check>: runs the check's heal steps now, whatever the cooldown says. */
export const healCommand = defineCommand({
  name: 'heal',
  description: "Run a check's heal steps now",
  args: z.object({ check: z.string().describe('check name') }),
  role: 'operator',
  async run({ services, invoker }, args) {
    const result = await services.heal.healNow(args.check, invoker);
    switch (result.kind) {
      case 'unknown-check':
        throw new UserError('no_such_check', `No check named "${args.check}". /status lists them.`);
      case 'no-steps':
        return { text: `${args.check} has no heal steps configured.` };
      case 'busy':
        return { text: `${args.check} is being healed right now; /status shows the result shortly.` };
      case 'stopping':
        return { text: 'Nightshift is stopping; the heal was abandoned.' };
      case 'done':
        return { text: `${args.check}: ${result.steps.map((o) => `${o.action} ${o.ok ? 'ok' : 'FAILED'}: ${o.message}`).join('; ')}` };
    }
  },
});
