import { z } from 'zod';
import { UserError } from '../src/errors.js';
import { defineCommand } from '../src/bot/command.js';
import { roleAllows } from '../src/chat/roles.js';

/** /consent: what Nightshift may do on its own and who said so; `/consent analysis on|off` (admin) changes it. */
export const consentCommand = defineCommand({
  name: 'consent',
  description: 'Show what Nightshift may do; admins: /consent analysis|auto-repair on|off',
  args: z.object({
    name: z.enum(['analysis', 'auto-repair']).optional().describe('analysis or auto-repair'),
    value: z.enum(['on', 'off']).optional().describe('on or off'),
  }),
  role: 'viewer',
  run({ services, invoker }, args) {
    if (!args.name) return { text: services.consent().join('\n') };
    if (!args.value) throw new UserError('usage', 'Usage: /consent [analysis|auto-repair] [on|off]');
    // Viewing is open to viewers; changing a consent is an admin's decision.
    if (!roleAllows(invoker.role, 'admin')) return { kind: 'refused', text: 'Sorry, changing a consent needs the admin role. Nothing was changed.' };
    return { text: services.setConsent(args.name, args.value === 'on', invoker) };
  },
});
