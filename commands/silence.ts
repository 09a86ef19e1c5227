import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { formatDuration, parseDuration } from '../src/util/duration.js';

/** /silence <matcher> <duration> [reason]: every check the matcher covers alerts, reminds and heals nobody until it expires. */
export const silenceCommand = defineCommand({
  name: 'silence',
  description: 'Silence checks by matcher (web-*, kind:http, severity:optional) for a while: no alerts or heals',
  args: z.object({
    matcher: z.string().describe('check name or glob (web-*), kind:<kind>, severity:critical|optional; several joined by commas'),
    duration: z
      .string()
      .refine((d) => (parseDuration(d) ?? 0) >= 60_000, 'expected a duration such as 30m or 2h')
      .describe('how long, e.g. 2h (1m to 30d)'),
    reason: z.string().max(200).optional().describe('why, shown in /silences'),
  }),
  role: 'operator',
  run({ services, invoker }, args) {
    const ms = parseDuration(args.duration)!;
    const silence = services.silences.add(args.matcher, ms, args.reason ?? null, invoker);
    return {
      text: `Silence #${silence.id} set for ${formatDuration(ms)}: ${silence.matcher} (${silence.covers.join(', ')}) keeps running and recording, without alerts or heals. /unsilence ${silence.id} ends it.`,
    };
  },
});
