import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { UserError } from '../src/errors.js';

/** /unsilence <id>: ends a silence early. */
export const unsilenceCommand = defineCommand({
  name: 'unsilence',
  description: 'End a silence now (see /silences)',
  args: z.object({
    id: z
      .string()
      .regex(/^#?\d+$/, 'expected a silence number such as 3')
      .describe('silence number (see /silences)'),
  }),
  role: 'operator',
  run({ services, invoker }, args) {
    const id = Number(args.id.replace('#', ''));
    const removed = services.silences.remove(id, invoker);
    if (!removed) throw new UserError('no_such_silence', `No active silence #${id}. /silences lists them.`);
    return { text: `Silence #${id} (${removed.matcher}) ended: its checks alert and heal again.` };
  },
});
