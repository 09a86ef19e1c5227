import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { helpLines } from '../src/bot/dispatch.js';

/** /help: every command the asker may run, with its usage; generated from the command list. */
export const helpCommand = defineCommand({
  name: 'help',
  description: 'List the commands you may run',
  args: z.object({}),
  role: 'viewer',
  run({ commands, invoker }) {
    return { text: `Nightshift commands:\n${helpLines(commands, invoker.role).join('\n')}` };
  },
});
