import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /score <action> <-2..1> [note]: an operator's verdict on one of Nightshift's actions replaces its automatic score. */
export const scoreCommand = defineCommand({
  name: 'score',
  description: "Score one of Nightshift's actions yourself (-2..1)",
  args: z.object({
    action: z
      .string()
      .regex(/^#?\d+$/, 'expected an action number')
      .describe('action number'),
    score: z.enum(['-2', '-1', '0', '1', '+1']).describe('-2, -1, 0 or 1'),
    note: z.string().optional().describe('why (optional)'),
  }),
  role: 'operator',
  run({ services, invoker }, args) {
    const id = Number(args.action.replace('#', ''));
    const outcome = services.regret.override(id, Number(args.score), args.note, invoker);
    if (outcome.kind === 'unknown-action') return { text: `No action #${id}.` };
    const { action, score } = outcome;
    return { text: `Action #${id} (${action.category} of ${action.target}) scored ${score > 0 ? '+' : ''}${score}.` };
  },
});
