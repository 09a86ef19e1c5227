import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /briefing: the morning briefing, now. */
export const briefingCommand = defineCommand({
  name: 'briefing',
  description: 'The briefing since the last one, now',
  args: z.object({}),
  role: 'viewer',
  run({ services, now }) {
    const { message } = services.briefing.compose(now);
    return { text: message.body ? `${message.title}\n${message.body}` : message.title };
  },
});
