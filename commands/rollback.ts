import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /rollback <id>: restores the backup of a repair that was kept. */
export const rollbackCommand = defineCommand({
  name: 'rollback',
  description: 'Undo a kept repair: restore its backup exactly and restart',
  args: z.object({ id: z.string().describe('repair id') }),
  role: 'operator',
  async run({ services, invoker }, args) {
    const outcome = await services.repair.rollback(args.id, invoker);
    switch (outcome.kind) {
      case 'unknown-repair':
        return { text: `No such repair: ${args.id}. /repairs lists them.` };
      case 'not-committed':
        return { text: `Repair ${args.id} is ${outcome.state}: only a kept (committed) repair can be rolled back.` };
      case 'moved-on':
        return { text: `Repair ${args.id} was not rolled back: ${outcome.reason}. Nothing was changed.` };
      case 'failed':
        return { text: `Repair ${args.id}: the rollback failed: ${outcome.reason}.` };
      case 'rolled-back':
        return { text: `Repair ${args.id} rolled back: the folder is as it was before it, and its checks were restarted.` };
    }
  },
});
