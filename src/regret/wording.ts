import { signed, type CategoryScore } from './regret.js';

const TREND_ARROW: Record<CategoryScore['trend'], string> = { better: '↑', worse: '↓', steady: '→' };

/**
 * One line per category: count, average, trend and flags ("restart: 12
 * scored, average +0.50, trend ↑, flag #3 (worker)"), as /regret and the
 * morning briefing show them.
 */
export function categoryLines(categories: readonly CategoryScore[]): string[] {
  if (categories.length === 0) return ['No scored actions yet.'];
  return categories.map((c) => {
    const flagged = c.flags.map((f) => `flag #${f.id}${f.kind === 'action' ? ` (${f.target})` : ''}`);
    return `${c.category}: ${c.count} scored, average ${signed(c.average)}, trend ${TREND_ARROW[c.trend]}${flagged.length ? `, ${flagged.join(', ')}` : ''}`;
  });
}
