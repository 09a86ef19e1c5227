import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import type { ConsentRecord, SurgeryRecord } from '../src/consent/consent.js';

/** /consent: what Nightshift may do on its own and who said so; `/consent analysis on|off` (admin) changes it. */
export const consentCommand = defineCommand({
  name: 'consent',
  description: 'Show what Nightshift may do; admins: /consent analysis|auto-repair on|off',
  args: z
    .object({
      name: z.enum(['analysis', 'auto-repair']).optional().describe('analysis or auto-repair'),
      value: z.enum(['on', 'off']).optional().describe('on or off'),
    })
    .refine((a) => a.name === undefined || a.value !== undefined, { message: 'expected on or off after the consent name', path: ['value'] }),
  // Viewing is open to viewers; changing a consent is an admin's decision.
  role: (args) => (args.value === undefined ? 'viewer' : 'admin'),
  run({ services, invoker }, args) {
    const consent = services.consent;
    if (args.name === undefined || args.value === undefined) {
      const surgery = consent.surgery();
      return {
        text: [
          `analysis: ${describe(consent.get('analysis'), 'asked after repeated critical failures')}`,
          `auto-repair: ${describe(consent.get('auto-repair'), 'asked after the first diagnosis that proposes a fix')}`,
          `surgery: ${surgery.enabled ? 'enabled' : 'disabled'}${changedBy(surgery)}`,
        ].join('\n'),
      };
    }
    const on = args.value === 'on';
    if (!consent.set(args.name, on, invoker)) return { text: `${args.name} is already ${consent.get(args.name).state}.` };
    return { text: `${args.name}: ${on ? 'granted' : 'declined'}.` };
  },
});

function describe(record: ConsentRecord, whenAsked: string): string {
  return `${record.state}${record.changedBy ? changedBy(record) : ` (${whenAsked})`}`;
}

function changedBy(record: ConsentRecord | SurgeryRecord): string {
  return record.changedBy ? ` (by ${record.changedBy} on ${record.channel}, ${new Date(record.changedAt!).toISOString()})` : '';
}
