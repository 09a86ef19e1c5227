import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { git, gitOk, type GitOptions } from './git.js';

/**
 * The exact state of a target before a repair touched it.
 * git: HEAD (and its branch), the index and the whole work tree (tracked and
 * untracked files) as git objects under `refs/nightshift/backup/<id>`, plus
 * a copy of the ignored files (git keeps no copy of those).
 * copy: a copy of the whole folder (a target that is not a git work tree).
 */
export type Backup =
  | {
      kind: 'git';
      ref: string;
      head: string;
      /** The branch HEAD pointed at; null when detached. */
      branch: string | null;
      indexTree: string;
      worktreeTree: string;
      /** Where the ignored files were copied, and what `git ls-files` listed (folders end with "/"). */
      ignoredDir: string;
      ignored: string[];
      bytes: number;
    }
  | { kind: 'copy'; dir: string; digest: string; bytes: number };

export class BackupTooLarge extends Error {}

/** Who git says made a backup or a repair commit. */
export const NIGHTSHIFT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Nightshift',
  GIT_AUTHOR_EMAIL: 'nightshift@localhost',
  GIT_COMMITTER_NAME: 'Nightshift',
  GIT_COMMITTER_EMAIL: 'nightshift@localhost',
};

export interface BackupPlace {
  /** The target folder (real path). */
  path: string;
  /** Where this repair keeps its files: dataDir/repairs/<id>. */
  workDir: string;
  id: string;
  isGit: boolean;
  maxBytes: number;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** Takes the backup; throws (having changed nothing in the target) when it cannot. */
export async function createBackup(place: BackupPlace): Promise<Backup> {
  mkdirSync(place.workDir, { recursive: true, mode: 0o700 });
  return place.isGit ? gitBackup(place) : copyBackup(place);
}

async function gitBackup(place: BackupPlace): Promise<Backup> {
  const o: GitOptions = { cwd: place.path, env: place.env, signal: place.signal, extraEnv: NIGHTSHIFT_IDENTITY };
  const head = await git(['rev-parse', '--verify', '-q', 'HEAD'], o);
  if (head.exitCode !== 0) throw new Error('the git repository has no commit yet: commit once so a repair has something to go back to');
  const branch = await git(['symbolic-ref', '-q', 'HEAD'], o);
  const indexTree = await gitOk(['write-tree'], o).catch(() => {
    throw new Error('the git index has unresolved conflicts: resolve them before a repair');
  });
  const worktreeTree = await worktreeTreeOf(join(place.workDir, 'scratch-index'), o);
  const ignored = await ignoredPaths(o);
  const bytes = ignored.reduce((sum, p) => sum + sizeOf(join(place.path, p)), 0);
  if (bytes > place.maxBytes) throw new BackupTooLarge(`the ignored files come to ${mib(bytes)} MiB, above repair.maxBackupMiB (${mib(place.maxBytes)} MiB)`);
  const ignoredDir = join(place.workDir, 'ignored');
  rmSync(ignoredDir, { recursive: true, force: true });
  mkdirSync(ignoredDir, { recursive: true, mode: 0o700 });
  for (const p of ignored) copyEntry(join(place.path, p), join(ignoredDir, p));
  const headSha = head.stdout.trim();
  const indexCommit = await gitOk(['commit-tree', indexTree, '-p', headSha, '-m', `nightshift: index before repair ${place.id}`], o);
  const commit = await gitOk(
    ['commit-tree', worktreeTree, '-p', headSha, '-p', indexCommit, '-m', `nightshift: work tree before repair ${place.id} (untracked files included)`],
    o,
  );
  const ref = `refs/nightshift/backup/${place.id}`;
  await gitOk(['update-ref', ref, commit], o);
  return {
    kind: 'git',
    ref,
    head: headSha,
    branch: branch.exitCode === 0 ? branch.stdout.trim() : null,
    indexTree,
    worktreeTree,
    ignoredDir,
    ignored,
    bytes,
  };
}

async function copyBackup(place: BackupPlace): Promise<Backup> {
  const bytes = sizeOf(place.path);
  if (bytes > place.maxBytes) throw new BackupTooLarge(`the folder comes to ${mib(bytes)} MiB, above repair.maxBackupMiB (${mib(place.maxBytes)} MiB)`);
  const dir = join(place.workDir, 'tree');
  rmSync(dir, { recursive: true, force: true });
  copyEntry(place.path, dir);
  return { kind: 'copy', dir, digest: treeDigest(dir), bytes };
}

/**
 * Puts the target back exactly as the backup has it. Idempotent: it starts
 * from the backup alone, so a restore interrupted by a crash is simply run
 * again.
 */
export async function restoreBackup(backup: Backup, place: Pick<BackupPlace, 'path' | 'env' | 'signal' | 'workDir'>): Promise<void> {
  if (backup.kind === 'copy') {
    for (const entry of readdirSync(place.path)) rmSync(join(place.path, entry), { recursive: true, force: true });
    for (const entry of readdirSync(backup.dir)) copyEntry(join(backup.dir, entry), join(place.path, entry));
    return;
  }
  const o: GitOptions = { cwd: place.path, env: place.env, signal: place.signal, extraEnv: NIGHTSHIFT_IDENTITY };
  if (backup.branch) {
    // A repair commit moved the branch on: it goes back with the rest.
    await gitOk(['symbolic-ref', 'HEAD', backup.branch], o);
  }
  await gitOk(['reset', '-q', '--hard', backup.head], o);
  // Untracked and ignored files go, then come back from the backup: files the repair created disappear.
  await gitOk(['clean', '-q', '-ffdx'], o);
  await gitOk(['read-tree', backup.worktreeTree], o);
  await gitOk(['checkout-index', '-a', '-f'], o);
  await gitOk(['read-tree', backup.indexTree], o);
  await git(['update-index', '-q', '--refresh'], o);
  for (const p of backup.ignored) {
    const from = join(backup.ignoredDir, p);
    if (existsSync(from) || isSymlink(from)) copyEntry(from, join(place.path, p));
  }
}

/** Why the target is not what the backup holds, or null when it is. */
export async function restoreMismatch(backup: Backup, place: Pick<BackupPlace, 'path' | 'env' | 'workDir'>): Promise<string | null> {
  if (backup.kind === 'copy') return treeDigest(place.path) === backup.digest ? null : 'the folder differs from its backup copy';
  const o: GitOptions = { cwd: place.path, env: place.env };
  if ((await gitOk(['rev-parse', 'HEAD'], o)) !== backup.head) return 'HEAD is not the commit it was';
  if ((await gitOk(['write-tree'], o)) !== backup.indexTree) return 'the index differs from the backup';
  if ((await worktreeTreeOf(join(place.workDir, 'verify-index'), o)) !== backup.worktreeTree) return 'the work tree differs from the backup';
  const ignored = await ignoredPaths(o);
  if (ignored.join('\0') !== backup.ignored.join('\0')) return 'the ignored files differ from the backup';
  for (const p of backup.ignored) if (treeDigest(join(place.path, p)) !== treeDigest(join(backup.ignoredDir, p))) return `${p} differs from its backup`;
  return null;
}

/**
 * The tree object of the whole work tree (tracked and untracked files, as
 * .gitignore leaves them), built in a scratch index so the real one is not
 * touched.
 */
export async function worktreeTreeOf(scratchIndex: string, o: GitOptions): Promise<string> {
  rmSync(scratchIndex, { force: true });
  const scratch: GitOptions = { ...o, extraEnv: { ...o.extraEnv, GIT_INDEX_FILE: scratchIndex } };
  await gitOk(['read-tree', 'HEAD'], scratch);
  await gitOk(['add', '-A', '--', '.'], scratch);
  const tree = await gitOk(['write-tree'], scratch);
  rmSync(scratchIndex, { force: true });
  return tree;
}

/** The ignored files and folders (folders end with "/"): what git keeps no copy of. */
async function ignoredPaths(o: GitOptions): Promise<string[]> {
  return (await gitOk(['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'], o)).split('\0').filter(Boolean);
}

/** Paths that differ between two trees (what a repair changed). */
export async function changedPaths(from: string, to: string, o: GitOptions): Promise<string[]> {
  return (await gitOk(['diff', '--name-only', '-z', '--no-renames', from, to], o)).split('\0').filter(Boolean);
}

function copyEntry(from: string, to: string): void {
  cpSync(from, to, { recursive: true, force: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: false });
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Bytes under a path (symlinks counted as themselves, never followed). */
function sizeOf(p: string): number {
  let stat;
  try {
    stat = lstatSync(p);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of readdirSync(p)) total += sizeOf(join(p, entry));
  return total;
}

/** A digest of names, kinds, executable bits, symlink targets and contents under a path. */
export function treeDigest(root: string): string {
  const hash = createHash('sha256');
  const walk = (p: string, rel: string) => {
    let stat;
    try {
      stat = lstatSync(p);
    } catch {
      hash.update(`missing ${rel}\0`);
      return;
    }
    if (stat.isSymbolicLink()) hash.update(`link ${rel} ${readlinkSync(p)}\0`);
    else if (stat.isDirectory()) {
      hash.update(`dir ${rel}\0`);
      for (const entry of readdirSync(p).sort()) walk(join(p, entry), `${rel}/${entry}`);
    } else {
      hash.update(`file ${rel} ${stat.mode & 0o111 ? 'x' : '-'} ${stat.size}\0`);
      hash.update(readFileSync(p));
    }
  };
  walk(root, '.');
  return hash.digest('hex');
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
