import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { describeFlag } from '../src/regret/regret.js';

/** /flags: what the regret index stopped Nightshift from doing; `/flags clear <id>` (operator) lets it try again. */
export const flagsCommand = defineCommand({
  name: 'flags',
  description: 'List regret flags; operators: /flags clear <id>',
  args: z
    .object({
      action: z.enum(['clear']).optional().describe('clear'),
      id: z
        .string()
        .regex(/^#?\d+$/, 'expected a flag number')
        .optional()
        .describe('flag number'),
    })
    .refine((a) => a.action === undefined || a.id !== undefined, { message: 'expected the number of the flag to clear', path: ['id'] }),
  // Reading is open to viewers; clearing a flag lets Nightshift act again, an operator's decision.
  role: (args) => (args.action === 'clear' ? 'operator' : 'viewer'),
  run({ services, invoker }, args) {
    if (args.action === 'clear' && args.id !== undefined) {
      const id = Number(args.id.replace('#', ''));
      const flag = services.regret.clear(id, invoker);
      return { text: flag ? `Flag #${id} on ${describeFlag(flag)} cleared: those heals run again.` : `No active flag #${id}. /flags lists them.` };
    }
    const flags = services.regret.flags();
    if (flags.length === 0) return { text: 'No regret flags: every heal is allowed.' };
    return { text: flags.map((f) => `#${f.id} ${describeFlag(f)}: ${f.reason} (since ${new Date(f.flaggedAt).toISOString()})`).join('\n') };
  },
});
