import type { FoundThing } from './types.js';

/**
 * Adds the dependencies init can only guess, each marked with why: an app
 * whose environment, arguments or log mention a port another chosen thing
 * listens on depends on that port's check (or on the thing, when its port
 * is not watched); an app whose environment sets OLLAMA_* or mentions
 * Ollama's port depends on the ollama check. A guess that would close a
 * dependency cycle is left out.
 */
export function addGuessedDependencies(things: readonly FoundThing[]): void {
  const ollama = things.find((thing) => thing.ollamaPort !== undefined);
  for (const app of things) {
    const mentions = app.mentions;
    if (!mentions) continue;
    const depend = (target: FoundThing, guess: string) => {
      if (target === app || app.check.dependsOn.some((d) => d.name === target.check.name)) return;
      if (reaches(things, target.check.name, app.check.name)) return;
      app.check.dependsOn.push({ name: target.check.name, guess });
    };
    if (ollama) {
      const port = ollama.ollamaPort!;
      if (mentions.ollamaVariable) depend(ollama, `${app.check.name}'s environment sets OLLAMA_* variables`);
      else if (mentions.ports.has(port)) depend(ollama, `Ollama listens on ${port} and ${app.check.name}'s ${mentions.where.get(port)} mentions it`);
    }
    for (const port of [...mentions.ports].sort((a, b) => a - b)) {
      if (app.ports.includes(port) || port === ollama?.ollamaPort) continue;
      // The port's own check stands for its readiness; its owner when that check is not chosen.
      const portCheck = things.find((t) => (t.check.kind === 'http' || t.check.kind === 'tcp') && t.ports.includes(port));
      const owner = things.find((t) => t !== portCheck && t.ports.includes(port));
      const portOwnerName = portCheck?.check.dependsOn[0]?.name ?? owner?.check.name;
      if (portOwnerName === app.check.name) continue;
      const target = portCheck ?? owner;
      if (!target) continue;
      const listener = owner?.check.name ?? portOwnerName ?? target.check.name;
      depend(target, `${listener} listens on ${port} and ${app.check.name}'s ${mentions.where.get(port) ?? 'environment'} mentions it`);
    }
  }
}

/** Whether `from` depends on `to`, directly or through others. */
function reaches(things: readonly FoundThing[], from: string, to: string): boolean {
  const byName = new Map(things.map((thing) => [thing.check.name, thing]));
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (name === to) return true;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const dep of byName.get(name)?.check.dependsOn ?? []) stack.push(dep.name);
  }
  return false;
}

/** Drops dependencies on checks that were not chosen: the file may only name its own checks. */
export function pruneDependencies(things: readonly FoundThing[]): void {
  const names = new Set(things.map((thing) => thing.check.name));
  for (const thing of things) thing.check.dependsOn = thing.check.dependsOn.filter((dep) => names.has(dep.name));
}
