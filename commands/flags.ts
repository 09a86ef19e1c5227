import { z } from 'zod';
import { UserError } from '../src/errors.js';
import { defineCommand } from '../src/bot/command.js';
import { roleAllows } from '../src/chat/roles.js';

/** /flags: what the regret index stopped Nightshift from doing; `/flags clear <id>` (operator) lets it try again. */
export const flagsCommand = defineCommand({
  name: 'flags',
  description: 'List regret flags; operators: /flags clear <id>',
  args: z.object({
    action: z.enum(['clear']).optional().describe('clear'),
    id: z
      .string()
      .regex(/^#?\d+$/, 'expected a flag number')
      .optional()
      .describe('flag number'),
  }),
  role: 'viewer',
  run({ services, invoker }, args) {
    if (!args.action) {
      const lines = services.flags();
      return { text: lines.length ? lines.join('\n') : 'No regret flags: every heal is allowed.' };
    }
    if (!args.id) throw new UserError('usage', 'Usage: /flags clear <id>');
    if (!roleAllows(invoker.role, 'operator')) return { kind: 'refused', text: 'Sorry, clearing a flag needs the operator role. Nothing was changed.' };
    return { text: services.clearFlag(Number(args.id.replace('#', '')), invoker) };
  },
});
