/**
 * Everything `name` depends on, directly or through others: the names
 * reachable along `dependsOnOf`, `name` itself left out. A cycle ends the
 * walk (the config refuses cycles; the causal analysis reports them).
 */
export function upstreamOf(name: string, dependsOnOf: (name: string) => readonly string[]): Set<string> {
  const found = new Set<string>();
  const stack = [...dependsOnOf(name)];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (next === name || found.has(next)) continue;
    found.add(next);
    stack.push(...dependsOnOf(next));
  }
  return found;
}
