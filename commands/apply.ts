import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { describeRefusal } from '../src/repair/repairer.js';
import { formatDuration } from '../src/util/duration.js';

/** /apply <id>: applies an approved fix now (a command fix always needs it, whatever auto-repair says). */
export const applyCommand = defineCommand({
  name: 'apply',
  description: 'Apply an approved fix now: backup, apply, restart, verify, then commit or roll back',
  args: z.object({ id: z.string().describe('proposal id') }),
  role: 'operator',
  run({ services, invoker }, args) {
    const outcome = services.repair.apply(args.id, invoker);
    if (outcome.kind !== 'started') return { text: `Proposal ${args.id}: ${describeRefusal(outcome)}` };
    return {
      text: `Repair ${outcome.id} started on ${outcome.target}: backup, apply, restart, verify (at most ${formatDuration(outcome.timeoutMs)}). The result follows; /repairs shows where it is.`,
    };
  },
});
