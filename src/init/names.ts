/** What the config schema accepts as a check name. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Turns anything ("My App!", "/stack-api-1") into a valid check name, or "" when nothing is left. */
export function toCheckName(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64);
}

/** Hands out check names that are valid and unique within one nightshift.yml. */
export class NameRegistry {
  private readonly taken = new Set<string>();

  /** Reserves a name the file always has. */
  reserve(name: string): void {
    this.taken.add(name);
  }

  /** The first free candidate, else the first one with "-2", "-3"... appended; `fallback` when no candidate is usable. */
  claim(candidates: string[], fallback = 'check'): string {
    const usable = candidates.map(toCheckName).filter((name) => NAME.test(name));
    if (usable.length === 0) usable.push(fallback);
    for (const name of usable) {
      if (!this.taken.has(name)) {
        this.taken.add(name);
        return name;
      }
    }
    const base = usable[0]!.slice(0, 60);
    for (let n = 2; ; n++) {
      const name = `${base}-${n}`;
      if (!this.taken.has(name)) {
        this.taken.add(name);
        return name;
      }
    }
  }
}
