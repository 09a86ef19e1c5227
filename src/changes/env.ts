import { envValues } from '../util/env-file.js';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { fileStampSchema, fingerprint, requireFolder, sameContent, sha256Hex, stampFile, stampOf, stampStillValid, statFile } from './files.js';
import type { ChangeSource, DetectedChange, LookContext, WatchedThing } from './types.js';
import { differenceWords, keyedDifferences, listed } from './wording.js';

/** An env file larger than this is no env file: it is hashed whole, not read key by key. */
const MAX_PARSED_BYTES = 1024 * 1024;

/** A watched tree's root `.env` and `.env.*` files, or one `watch.files` entry. */
interface EnvThing extends WatchedThing {
  /** The tree's folder, or the file itself. */
  path: string;
  kind: 'tree' | 'file';
}

const envFileState = z.object({
  stamp: fileStampSchema,
  /** Per key, a salted sha256 of its value: kept here only, never put in an event. Null: not a KEY=VALUE file (hashed whole). */
  keys: z.record(z.string(), z.string()).nullable(),
  /**
   * Random, per file, kept for its life: a bare sha256 of a short value (a
   * port, a 6-digit PIN) is found again by any table of such hashes; salted,
   * each guess has to be hashed for this file alone.
   */
  salt: z.string().default(''),
});
type EnvFileState = z.output<typeof envFileState>;

/** The env files present, by name (a tree) or by path (a watch.files entry). */
const envState = z.object({ files: z.record(z.string(), envFileState) });
type EnvState = z.output<typeof envState>;

/**
 * An env file changed: which keys were added, removed or changed, by name,
 * never a value (only a hash of each is kept, and only in the snapshot). A
 * file that is not KEY=VALUE is hashed whole and said to have "changed".
 */
export const envChanges: ChangeSource<EnvThing, EnvState> = {
  source: 'env',
  state: envState,
  things: (plan) => [
    ...plan.trees.map((t): EnvThing => ({ key: t.path, subject: t.name, checks: t.checks, label: `${t.name} (${t.path})`, path: t.path, kind: 'tree' })),
    ...plan.files.map((f): EnvThing => ({ key: f.path, subject: f.path, checks: f.checks, label: f.path, path: f.path, kind: 'file' })),
  ],

  async read(thing, ctx, previous) {
    const files: Record<string, EnvFileState> = {};
    const paths = thing.kind === 'file' ? [thing.path] : await rootEnvFiles(thing.path);
    for (const path of paths) {
      const name = thing.kind === 'file' ? path : basename(path);
      const state = await readEnvFile(path, previous?.files[name], ctx);
      if (state) files[name] = state;
    }
    return { files };
  },

  async compare(thing, before, after) {
    const changes: DetectedChange[] = [];
    const names = [...new Set([...Object.keys(before.files), ...Object.keys(after.files)])].sort();
    for (const name of names) {
      const change = compareFile(thing.kind === 'file' ? name : `${name} of ${thing.subject}`, before.files[name], after.files[name]);
      if (change) changes.push({ ...change, path: thing.kind === 'file' ? thing.path : join(thing.path, name) });
    }
    return changes;
  },
};

function compareFile(label: string, was: EnvFileState | undefined, now: EnvFileState | undefined): DetectedChange | undefined {
  if (was && !now) return { summary: `${label} removed`, before: fingerprint(was.stamp) };
  if (!was && now) return { summary: `${label} added`, before: null, after: fingerprint(now.stamp), happenedAt: now.stamp.mtimeMs };
  if (!was || !now || sameContent(was.stamp, now.stamp)) return undefined;
  const change = { before: fingerprint(was.stamp), after: fingerprint(now.stamp), happenedAt: now.stamp.mtimeMs };
  if (!was.keys || !now.keys) return { summary: `${label} changed`, ...change };
  const differences = differenceWords(keyedDifferences(was.keys, now.keys));
  // Only comments, blank lines or quoting moved: no key or value differs, so nothing a service would see.
  if (differences.length === 0) return undefined;
  return { summary: `${label} changed: ${listed(differences)}`, ...change };
}

/** `.env` and `.env.*` at the root of a folder (regular files, symlinks followed), sorted. */
async function rootEnvFiles(folder: string): Promise<string[]> {
  await requireFolder(folder);
  const names = (await readdir(folder)).filter((name) => name === '.env' || name.startsWith('.env.')).sort();
  return names.map((name) => join(folder, name));
}

async function readEnvFile(path: string, previous: EnvFileState | undefined, ctx: LookContext): Promise<EnvFileState | null> {
  const stats = await statFile(path);
  if (!stats) return null;
  if (stampStillValid(previous?.stamp, stats)) return previous;
  if (stats.size > MAX_PARSED_BYTES) {
    const stamp = await stampFile(path, undefined, ctx.signal);
    return stamp ? { stamp, keys: null, salt: '' } : null;
  }
  const hashedAt = Date.now();
  const bytes = await readFile(path, { signal: ctx.signal });
  const values = envValues(bytes.toString('utf8'));
  const salt = previous?.salt || randomBytes(16).toString('hex');
  const keys = values
    ? Object.fromEntries([...values].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => [key, sha256Hex(`${salt}\0${key}\0${value}`)]))
    : null;
  return { stamp: stampOf(stats, bytes, hashedAt), keys, salt };
}
