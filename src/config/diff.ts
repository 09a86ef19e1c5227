import { isDeepStrictEqual } from 'node:util';
import type { CheckConfig } from '../checks/types.js';
import type { Config } from './schema.js';

/** What a reload would change: checks by name, and the other settings by top-level key. */
export interface ConfigDiff {
  added: string[];
  removed: string[];
  /** Same name, other settings (kind, params, heal steps, interval...): the check restarts. */
  changed: string[];
  unchanged: string[];
  /** Top-level settings that differ besides the checks: they apply at the next restart, not on a reload. */
  needRestart: string[];
}

/** Settings that are not compared: where the file was read from and what was derived from it. */
const NOT_COMPARED = new Set<keyof Config>(['checks', 'source', 'warnings', 'secrets']);

/** Compares two validated configurations; names keep the order of the file they come from. */
export function diffConfig(before: Config, after: Config): ConfigDiff {
  const old = new Map(before.checks.map((c) => [c.name, c]));
  const now = new Map(after.checks.map((c) => [c.name, c]));
  const same = (a: CheckConfig, b: CheckConfig) => isDeepStrictEqual(a, b);
  const keys = new Set([...Object.keys(before), ...Object.keys(after)] as Array<keyof Config>);
  return {
    added: after.checks.filter((c) => !old.has(c.name)).map((c) => c.name),
    removed: before.checks.filter((c) => !now.has(c.name)).map((c) => c.name),
    changed: after.checks.filter((c) => old.has(c.name) && !same(old.get(c.name)!, c)).map((c) => c.name),
    unchanged: after.checks.filter((c) => old.has(c.name) && same(old.get(c.name)!, c)).map((c) => c.name),
    needRestart: [...keys].filter((key) => !NOT_COMPARED.has(key) && !isDeepStrictEqual(before[key], after[key])).sort(),
  };
}

/** One line: "check api added; check old removed; check web changed; chat changes at the next restart". */
export function describeDiff(diff: ConfigDiff): string {
  const part = (names: string[], what: string) => (names.length === 0 ? [] : [`${names.length === 1 ? 'check' : 'checks'} ${names.join(', ')} ${what}`]);
  const parts = [...part(diff.added, 'added'), ...part(diff.removed, 'removed'), ...part(diff.changed, 'changed')];
  if (diff.needRestart.length > 0) parts.push(`${diff.needRestart.join(', ')} changed: takes effect at the next restart`);
  return parts.length === 0 ? 'nothing changed' : parts.join('; ');
}
