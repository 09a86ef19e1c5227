/** How many names a change summary lists before "+N more". */
export const LISTED_NAMES = 10;

/** "a, b, c" or "a, b, …, +3 more": a summary stays one readable line however much changed. */
export function listed(items: readonly string[], max = LISTED_NAMES): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')}, +${items.length - max} more`;
}

/** "1 commit", "3 commits". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Names whose fingerprint differs between two maps, each group sorted. */
export interface KeyedDifferences {
  removed: string[];
  added: string[];
  changed: string[];
}

export function keyedDifferences(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): KeyedDifferences {
  return {
    removed: Object.keys(before)
      .filter((k) => !Object.hasOwn(after, k))
      .sort(),
    added: Object.keys(after)
      .filter((k) => !Object.hasOwn(before, k))
      .sort(),
    changed: Object.keys(after)
      .filter((k) => Object.hasOwn(before, k) && before[k] !== after[k])
      .sort(),
  };
}

/** "X removed", "Y added", "Z changed" (each name after `prefix`: "check db changed"), in that order. */
export function differenceWords(d: KeyedDifferences, prefix = ''): string[] {
  return [...d.removed.map((k) => `${prefix}${k} removed`), ...d.added.map((k) => `${prefix}${k} added`), ...d.changed.map((k) => `${prefix}${k} changed`)];
}
