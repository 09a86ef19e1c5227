import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { MAX_CONFIG_BYTES } from '../config/load.js';
import { fileStampSchema, fingerprint, sameContent, sha256Hex, stableJson, stampFile, stampOf, stampStillValid, statFile } from './files.js';
import type { ChangeSource, DetectedChange, WatchedThing } from './types.js';
import { differenceWords, keyedDifferences, listed, type KeyedDifferences } from './wording.js';

/** The subject of config changes. */
const CONFIG_SUBJECT = 'config';

interface ConfigThing extends WatchedThing {
  path: string;
}

const configState = z.object({
  stamp: fileStampSchema,
  /** Per check name, a hash of its entry as written (before ${VAR} is filled in); null when the file is no YAML mapping. */
  checks: z.record(z.string(), z.string()).nullable(),
  /** Per other top-level key (patrol, chat...), a hash of its value. */
  sections: z.record(z.string(), z.string()).nullable(),
});
type ConfigState = z.output<typeof configState>;

/**
 * The config file Nightshift was started from: at start compared with the
 * last run's (what this run applies that the last one did not), while
 * running compared with what is on disk (an edit waiting for a restart).
 * Checks are compared by name, other sections by top-level key; comments
 * and key order are no change.
 */
export const configChanges: ChangeSource<ConfigThing, ConfigState> = {
  source: 'config',
  state: configState,
  // One key whatever the file: pointing NIGHTSHIFT_CONFIG at another file between two runs is a change too.
  things: (plan) => (plan.configFile ? [{ key: CONFIG_SUBJECT, subject: CONFIG_SUBJECT, checks: [], label: plan.configFile, path: plan.configFile }] : []),

  async read(thing, ctx, previous) {
    const stats = await statFile(thing.path);
    // Gone from disk: this run goes on with what it loaded; the next start will say what it finds.
    if (!stats) return null;
    if (stampStillValid(previous?.stamp, stats)) return previous;
    if (stats.size > MAX_CONFIG_BYTES) {
      const stamp = await stampFile(thing.path, undefined, ctx.signal);
      return stamp ? { stamp, checks: null, sections: null } : null;
    }
    const hashedAt = Date.now();
    const bytes = await readFile(thing.path, { signal: ctx.signal });
    return { stamp: stampOf(stats, bytes, hashedAt), ...fingerprints(bytes.toString('utf8')) };
  },

  async compare(thing, before, after, ctx) {
    if (sameContent(before.stamp, after.stamp)) return [];
    const file = basename(thing.path);
    const change: DetectedChange = {
      summary: '',
      path: thing.path,
      before: fingerprint(before.stamp),
      after: fingerprint(after.stamp),
      happenedAt: after.stamp.mtimeMs,
    };
    const apply = ctx.firstLook ? '' : '; restart Nightshift to apply it';
    const changed = ctx.firstLook ? 'changed' : 'changed on disk';
    if (!after.checks || !after.sections)
      return [{ ...change, summary: `${file} ${changed}; it does not read as a YAML mapping now (Nightshift would refuse it)` }];
    if (!before.checks || !before.sections) return [{ ...change, summary: `${file} ${changed}${apply}`, checks: Object.keys(after.checks) }];
    const checks = keyedDifferences(before.checks, after.checks);
    const sections = keyedDifferences(before.sections, after.sections);
    const sectionWords = differenceWords(sections);
    const words = [...differenceWords(checks, 'check '), ...sectionWords];
    // Only comments, formatting or key order moved.
    if (words.length === 0) return [];
    // Checks apply on a reload; any other setting only at a restart.
    const howToApply = ctx.firstLook ? '' : sectionWords.length === 0 ? '; `nightshift reload` applies it' : apply;
    return [{ ...change, summary: `${file} ${changed}: ${listed(words)}${howToApply}`, checks: concerned(checks) }];
  },
};

/** The checks added or changed; when none was (only other sections changed), none named: it concerns them all. */
function concerned(checks: KeyedDifferences): string[] {
  return [...checks.added, ...checks.changed].sort();
}

/** A hash per check (by name; "#3" for an entry without one) and per other top-level key; nulls when the text is no YAML mapping. */
function fingerprints(text: string): Pick<ConfigState, 'checks' | 'sections'> {
  const none = { checks: null, sections: null };
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) return none;
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch {
    // Aliases that expand without bound: no mapping to compare, like a syntax error.
    return none;
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) return none;
  const { checks: rawChecks, ...rest } = raw as Record<string, unknown>;
  const checks: Record<string, string> = {};
  if (Array.isArray(rawChecks)) {
    rawChecks.forEach((entry: unknown, index) => {
      const name = (entry as { name?: unknown } | null)?.name;
      checks[typeof name === 'string' ? name : `#${index + 1}`] = sha256Hex(stableJson(entry));
    });
  }
  const sections = Object.fromEntries(
    Object.keys(rest)
      .sort()
      .map((key) => [key, sha256Hex(stableJson(rest[key]))]),
  );
  return { checks: sortedKeys(checks), sections };
}

function sortedKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}
