import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { UserError } from '../src/errors.js';

/** /ack <incident>: quiets an incident's reminders until it recovers. */
export const ackCommand = defineCommand({
  name: 'ack',
  description: 'Acknowledge an incident: no more reminders until it recovers',
  args: z.object({
    incident: z
      .string()
      .regex(/^#?\d+$/, 'expected an incident number such as 12')
      .describe('incident number (see /incidents)'),
  }),
  role: 'operator',
  run({ services, invoker }, args) {
    const id = Number(args.incident.replace('#', ''));
    if (!services.incidents.ack(id, invoker)) throw new UserError('no_such_incident', `No open incident #${id}. /incidents lists them.`);
    return { text: `Incident #${id} acknowledged: no reminders until it recovers.` };
  },
});
