import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { formatDuration } from '../src/util/duration.js';

/** /incidents: every open incident, roots first with their symptoms under them; --recent: those closed in the last 24 h. */
export const incidentsCommand = defineCommand({
  name: 'incidents',
  description: 'List open incidents (roots, their symptoms, ack and escalation state); --recent: closed in the last 24 h',
  args: z.object({ recent: z.enum(['--recent', 'recent']).optional().describe('--recent: incidents closed in the last 24 h') }),
  role: 'viewer',
  run({ services, now }, args) {
    if (args.recent) {
      const recent = services.incidents.recent();
      if (recent.length === 0) return { text: 'No incidents closed in the last 24h.' };
      const lines = recent.map(
        (i) =>
          `#${i.id} ${i.checkName} (${i.severity}) ${formatDuration(Math.max(1, now - i.openedAt))} ago, back after ${formatDuration(Math.max(1, (i.closedAt ?? now) - i.openedAt))}: ${i.firstMessage}${i.lastNotifiedAt === null && i.escalatedAt === null ? ' [healed quietly]' : ''}`,
      );
      return { text: `${recent.length} incident${recent.length === 1 ? '' : 's'} closed in the last 24h:\n${lines.join('\n')}` };
    }
    const open = services.incidents.open();
    if (open.length === 0) return { text: 'No open incidents.' };
    const byId = new Map(open.map((i) => [i.id, i]));
    const line = (i: (typeof open)[number], indent: string) =>
      `${indent}#${i.id} ${i.checkName} (${i.severity}) failing for ${formatDuration(now - i.openedAt)}: ${i.lastMessage}${i.ackedAt ? ` [acked by ${i.ackedBy}]` : ''}${i.escalatedAt ? ' [escalated]' : ''}`;
    const lines: string[] = [];
    for (const root of open.filter((i) => i.rootId === null || !byId.has(i.rootId))) {
      lines.push(line(root, ''));
      for (const symptom of open.filter((i) => i.rootId === root.id)) lines.push(line(symptom, '   ↳ '));
    }
    return { text: `${open.length} open incident${open.length === 1 ? '' : 's'}:\n${lines.join('\n')}` };
  },
});
