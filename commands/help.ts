import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { roleAllows } from '../src/chat/roles.js';
import { usage } from '../src/bot/dispatch.js';

/** /help: every command the asker may run, with its usage; generated from the command list. */
export const helpCommand = defineCommand({
  name: 'help',
  description: 'List the commands you may run',
  args: z.object({}),
  role: 'viewer',
  run({ services, invoker }) {
    const lines = services
      .commands()
      .filter((c) => roleAllows(invoker.role, c.role))
      .map((c) => `${usage(c)}  ${c.description}`);
    return { text: `Nightshift commands:\n${lines.join('\n')}` };
  },
});
