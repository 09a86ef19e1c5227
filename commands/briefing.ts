import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /briefing: the morning briefing, now. */
export const briefingCommand = defineCommand({
  name: 'briefing',
  description: 'The briefing since the last one, now',
  args: z.object({}),
  role: 'viewer',
  run({ services }) {
    return { text: services.briefing() };
  },
});
