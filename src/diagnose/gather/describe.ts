import { clip } from '../../util/text.js';
import type { Gathered, GatherToolName } from './types.js';

/** What each tool's look is called in the "Looked at:" list, and what it adds to the target. */
const LABELS: Record<GatherToolName, { label: string; extra?: (g: Gathered) => string }> = {
  'log-tail': { label: 'log tail', extra: (g) => linesShown(g.text) },
  process: { label: 'process' },
  ports: { label: 'listeners' },
  disk: { label: 'free space' },
};

/** Why a look failed, as much as fits in a list item. */
const REASON_CHARS = 100;

/**
 * One line for a diagnosis's "Looked at:" list: "log tail of db
 * (data/logs/db.log, 40 lines)", "listeners of api (port 5432)", and for a
 * look that could not be made "… : could not look: journalctl not found".
 */
export function describeGathered(g: Gathered): string {
  const { label, extra } = LABELS[g.tool];
  if (!g.ok) return `${label} of ${g.check} (${g.target}): could not look: ${firstLine(g.text)}`;
  return `${label} of ${g.check} (${g.target}${extra?.(g) ?? ''})`;
}

function linesShown(text: string): string {
  if (text === '') return ', empty';
  const count = text.split('\n').length;
  return `, ${count} line${count === 1 ? '' : 's'}`;
}

function firstLine(text: string): string {
  return clip(text.split('\n', 1)[0] ?? '', REASON_CHARS);
}
