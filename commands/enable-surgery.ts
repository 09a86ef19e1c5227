import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';

/** /enable-surgery: re-enables self-repair; admins only, on purpose. */
export const enableSurgeryCommand = defineCommand({
  name: 'enable-surgery',
  description: 'Allow self-repair again (admin)',
  args: z.object({}),
  role: 'admin',
  run({ services, invoker }) {
    services.consent.setSurgery(true, invoker);
    return { text: 'Surgery enabled: approved repairs may be applied again.' };
  },
});
