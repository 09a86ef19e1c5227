import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /disable-surgery: stops all self-repair at once, from any channel; never argued with. */
export const disableSurgeryCommand = defineCommand({
  name: 'disable-surgery',
  description: 'Stop all self-repair now (stays off across restarts)',
  args: z.object({}),
  role: 'operator',
  run({ services, invoker }) {
    services.consent.setSurgery(false, invoker);
    return {
      text: 'Surgery disabled: no repair will start; any repair not yet applied is cancelled. An admin can turn it back on with /enable-surgery.',
    };
  },
});
