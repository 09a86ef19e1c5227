/**
 * The lines that differ between two small texts (unit files), as `-old` and
 * `+new` lines in file order, from their longest common subsequence. Unit
 * files are tens of lines, so the quadratic table is cheap.
 */
export function lineDiff(before: string, after: string, limit = 40): string[] {
  const a = before.replace(/\n$/, '').split('\n');
  const b = after.replace(/\n$/, '').split('\n');
  // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const common = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--) common[i]![j] = a[i] === b[j] ? common[i + 1]![j + 1]! + 1 : Math.max(common[i + 1]![j]!, common[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && (i === a.length || common[i]![j + 1]! >= common[i + 1]![j]!)) out.push(`+${b[j++]!}`);
    else out.push(`-${a[i++]!}`);
  }
  return out.length > limit ? [...out.slice(0, limit), `... ${out.length - limit} more changed lines`] : out;
}
