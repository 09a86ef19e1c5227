import { join } from 'node:path';
import { z } from 'zod';
import { fileStampSchema, fingerprint, requireFolder, sameContent, stampFile, type FileStamp } from './files.js';
import type { ChangeSource, DetectedChange, WatchedThing } from './types.js';

/** Dependency lockfiles looked for at the root of each watched tree: an upgrade shows up here before it shows up anywhere else. */
const LOCKFILE_NAMES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'poetry.lock',
  'Pipfile.lock',
  'requirements.txt',
  'uv.lock',
  'Cargo.lock',
  'go.sum',
] as const;

interface LockTree extends WatchedThing {
  path: string;
}

/** The lockfiles present, by name. */
const lockState = z.object({ files: z.record(z.string(), fileStampSchema) });
type LockState = z.output<typeof lockState>;

/** A lockfile at the root of a watched tree appeared, disappeared or changed content (hashed, up to 64 MiB). */
export const lockfileChanges: ChangeSource<LockTree, LockState> = {
  source: 'lockfile',
  state: lockState,
  things: (plan) => plan.trees.map((t) => ({ key: t.path, subject: t.name, checks: t.checks, label: `${t.name} (${t.path})`, path: t.path })),

  async read(tree, ctx, previous) {
    await requireFolder(tree.path);
    const files: Record<string, FileStamp> = {};
    for (const name of LOCKFILE_NAMES) {
      const stamp = await stampFile(join(tree.path, name), previous?.files[name], ctx.signal);
      if (stamp) files[name] = stamp;
    }
    return { files };
  },

  async compare(tree, before, after) {
    const changes: DetectedChange[] = [];
    for (const name of LOCKFILE_NAMES) {
      const was = before.files[name];
      const now = after.files[name];
      const path = join(tree.path, name);
      if (was && !now) changes.push({ summary: `${name} of ${tree.subject} removed`, path, before: fingerprint(was) });
      else if (!was && now) changes.push({ summary: `${name} of ${tree.subject} added`, path, before: null, after: fingerprint(now), happenedAt: now.mtimeMs });
      else if (was && now && !sameContent(was, now))
        changes.push({ summary: `${name} of ${tree.subject} changed`, path, before: fingerprint(was), after: fingerprint(now), happenedAt: now.mtimeMs });
    }
    return changes;
  },
};
