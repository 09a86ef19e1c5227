import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { formatDuration, parseDuration } from '../src/util/duration.js';
import { UserError } from '../src/errors.js';

/** /mute <check> <duration>: a maintenance window; the check still runs and records, but does not alert. */
export const muteCommand = defineCommand({
  name: 'mute',
  description: 'Silence a check\'s alerts for a while (maintenance); "off" unmutes',
  args: z.object({
    check: z.string().describe('check name'),
    duration: z
      .string()
      .refine((d) => d === 'off' || (parseDuration(d) ?? 0) > 0, 'expected a duration such as 30m or 2h, or off')
      .describe('how long, e.g. 2h; off to unmute'),
  }),
  role: 'operator',
  run({ services, invoker, now }, args) {
    if (!services.status.checkNames().includes(args.check)) throw new UserError('no_such_check', `No check named "${args.check}". /status lists them.`);
    if (args.duration === 'off') {
      services.incidents.mute(args.check, null, invoker);
      return { text: `${args.check} unmuted.` };
    }
    const ms = parseDuration(args.duration)!;
    services.incidents.mute(args.check, now + ms, invoker);
    return { text: `${args.check} muted for ${formatDuration(ms)}: it keeps running and recording, without alerts.` };
  },
});
