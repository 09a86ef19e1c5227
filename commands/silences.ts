import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { formatDuration } from '../src/util/duration.js';

/** /silences: the active silences and the configured maintenance windows. */
export const silencesCommand = defineCommand({
  name: 'silences',
  description: 'List active silences and maintenance windows',
  args: z.object({}),
  role: 'viewer',
  run({ services, now }) {
    const { silences, windows } = services.silences.list();
    const lines: string[] = [];
    if (silences.length === 0) lines.push('No active silences.');
    else lines.push(`${silences.length} active silence${silences.length === 1 ? '' : 's'}:`);
    for (const s of silences) {
      lines.push(
        `#${s.id} ${s.matcher} (${s.covers.join(', ') || 'no check'}) for ${formatDuration(s.until - now)} more, by ${s.createdBy}${s.reason ? `: ${s.reason}` : ''}`,
      );
    }
    if (windows.length > 0) lines.push(`Maintenance window${windows.length === 1 ? '' : 's'}:`);
    for (const w of windows) {
      const when =
        w.openUntil !== null
          ? `open, closes in ${formatDuration(w.openUntil - now)}`
          : w.nextOpen !== null
            ? `opens in ${formatDuration(w.nextOpen - now)}`
            : 'not due within a week';
      lines.push(
        `${w.name}: ${w.match} (${w.covers.join(', ') || 'no check'}) "${w.cron}" for ${formatDuration(w.durationMs)}, ${when}${w.reason ? `: ${w.reason}` : ''}`,
      );
    }
    return { text: lines.join('\n') };
  },
});
