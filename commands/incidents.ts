import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { formatDuration } from '../src/util/duration.js';

/** /incidents: every open incident, roots first with their symptoms under them. */
export const incidentsCommand = defineCommand({
  name: 'incidents',
  description: 'List open incidents (roots, their symptoms, ack and escalation state)',
  args: z.object({}),
  role: 'viewer',
  run({ services, now }) {
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
