import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';

/** /consent: what Nightshift may do on its own, and who said so. */
export const consentCommand = defineCommand({
  name: 'consent',
  description: 'Show what Nightshift may do (analysis, auto-repair, surgery)',
  args: z.object({}),
  role: 'viewer',
  run({ services }) {
    return { text: services.consent().join('\n') };
  },
});
