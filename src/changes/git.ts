import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { clipAtWord } from '../util/text.js';
import { isAbsent } from './files.js';
import type { ChangeSource, DetectedChange, LookContext, WatchedThing } from './types.js';
import { count } from './wording.js';

/** One git command may take this long (a huge repository on a slow disk), then it is killed. */
const GIT_TIMEOUT_MS = 5_000;
/** A commit subject in a summary is clipped to this. */
const SUBJECT_CHARS = 80;
/** The short sha events carry. */
const SHORT_SHA = 7;

interface GitTree extends WatchedThing {
  path: string;
}

const gitState = z.object({ head: z.string().regex(/^[0-9a-f]{40,64}$/) });
type GitState = z.output<typeof gitState>;

/**
 * HEAD of each watched work tree moved (a deploy pulled, someone reset):
 * the commits between, the latest subject, and the reflog time of the move.
 * Git is only read: `--no-optional-locks`, no fetch, never a shell.
 */
export const gitChanges: ChangeSource<GitTree, GitState> = {
  source: 'git',
  state: gitState,
  things: (plan) => plan.trees.map((t) => ({ key: t.path, subject: t.name, checks: t.checks, label: `${t.name} (${t.path})`, path: t.path })),

  async read(tree, ctx) {
    // Most looks find HEAD where it was: read from its files, they need no git process.
    const direct = await headFromFiles(tree.path);
    if (direct !== undefined) return direct === null ? null : { head: direct };
    const result = await runGit(tree.path, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], ctx);
    if (result.code === 0) return { head: result.stdout.trim() };
    // --quiet: exit 1 and nothing said is "no commit yet" (a fresh `git init`); anything else is a real failure.
    if (result.code === 1 && result.stderr.trim() === '') return null;
    throw new Error(`git rev-parse HEAD failed (exit ${result.code}): ${firstLine(result.stderr)}`);
  },

  async compare(tree, before, after, ctx) {
    if (before.head === after.head) return [];
    const [counts, subject, movedAt] = await Promise.all([
      commitCounts(tree.path, before.head, after.head, ctx),
      latestSubject(tree.path, after.head, ctx),
      reflogTime(tree.path, after.head, ctx),
    ]);
    const change: DetectedChange = {
      summary: describeHeadMove(tree.subject, before.head, after.head, counts, subject),
      path: tree.path,
      before: before.head.slice(0, SHORT_SHA),
      after: after.head.slice(0, SHORT_SHA),
    };
    if (movedAt !== undefined) change.happenedAt = movedAt;
    return [change];
  },
};

/**
 * "git HEAD of api moved 1a2b3c4 → 5d6e7f8 (2 commits, latest: "raise pool size")";
 * `counts` null when the old commit is gone (garbage-collected): only the latest subject is said.
 */
function describeHeadMove(name: string, before: string, after: string, counts: { added: number; dropped: number } | null, subject: string | null): string {
  const parts: string[] = [];
  if (counts && counts.added > 0) parts.push(count(counts.added, 'commit'));
  if (counts && counts.dropped > 0) parts.push(`${count(counts.dropped, 'commit')} left behind`);
  if (subject !== null) parts.push(`${counts && counts.added === 0 ? 'now at' : 'latest'}: "${clipAtWord(subject, SUBJECT_CHARS)}"`);
  const back = counts !== null && counts.added === 0 ? ' back' : '';
  const detail = parts.length > 0 ? ` (${parts.join(', ')})` : '';
  return `git HEAD of ${name} moved${back} ${before.slice(0, SHORT_SHA)} → ${after.slice(0, SHORT_SHA)}${detail}`;
}

/** Commits reachable from the new HEAD only (added) and from the old one only (dropped); null when the old one is unknown. */
async function commitCounts(path: string, before: string, after: string, ctx: LookContext): Promise<{ added: number; dropped: number } | null> {
  const result = await runGit(path, ['rev-list', '--left-right', '--count', `${before}...${after}`], ctx);
  const match = /^(\d+)\s+(\d+)$/.exec(result.stdout.trim());
  if (result.code !== 0 || !match) return null;
  return { dropped: Number(match[1]), added: Number(match[2]) };
}

async function latestSubject(path: string, head: string, ctx: LookContext): Promise<string | null> {
  const result = await runGit(path, ['log', '-1', '--format=%s', head], ctx);
  return result.code === 0 ? result.stdout.trim() : null;
}

/** When HEAD last moved, from its reflog (ms); undefined without a reflog, or when its newest entry is not this HEAD. */
async function reflogTime(path: string, head: string, ctx: LookContext): Promise<number | undefined> {
  const result = await runGit(path, ['log', '--walk-reflogs', '-1', '--date=unix', '--format=%H %gd', 'HEAD'], ctx);
  const match = /^([0-9a-f]+) \S*@\{(\d+)\}$/.exec(result.stdout.trim());
  if (result.code !== 0 || !match || match[1] !== head) return undefined;
  return Number(match[2]) * 1000;
}

const OBJECT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
/** A branch HEAD names, as git writes it; anything else (a reftable's placeholder, a symref elsewhere) is left to git. */
const HEAD_REF = /^ref: (refs\/heads\/[^\s\\]+)$/;

/**
 * HEAD's commit read from `.git/HEAD` and its loose branch ref, as git
 * itself resolves them first; null when there is no `.git` at all (a plain
 * folder: nothing to watch); undefined when only git can tell (a linked
 * worktree or submodule, a packed or unborn branch, a reftable, an
 * unreadable file), and `git rev-parse` is asked.
 */
async function headFromFiles(path: string): Promise<string | null | undefined> {
  const gitDir = join(path, '.git');
  const head = await readTrimmed(join(gitDir, 'HEAD'));
  if (head === undefined) return (await hasGitDir(path)) ? undefined : null;
  if (OBJECT_ID.test(head)) return head;
  const ref = HEAD_REF.exec(head)?.[1];
  if (ref === undefined || ref.split('/').includes('..')) return undefined;
  const id = await readTrimmed(join(gitDir, ref));
  return id !== undefined && OBJECT_ID.test(id) ? id : undefined;
}

/** A file's text, trimmed; undefined when it cannot be read for any reason (git is asked then, and says why). */
async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    // Absent, a directory, or denied: git's answer decides, as it did before this shortcut.
    return undefined;
  }
}

async function hasGitDir(path: string): Promise<boolean> {
  try {
    // A directory, or a file pointing at one (a linked worktree, a submodule).
    await stat(join(path, '.git'));
    return true;
  } catch (err) {
    if (isAbsent(err)) return false;
    throw err;
  }
}

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one read-only git command in `path` (execFile, no shell), killed
 * after GIT_TIMEOUT_MS or when the look is aborted. Resolves with its exit
 * code; rejects only when git could not run or did not finish.
 */
function runGit(path: string, args: readonly string[], ctx: LookContext): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['--no-optional-locks', ...args],
      {
        cwd: path,
        env: gitEnvironment(ctx.env, path),
        timeout: GIT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 1 << 20,
        signal: ctx.signal,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const { code, killed } = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        if (typeof code === 'number') return resolve({ code, stdout, stderr });
        if (ctx.signal.aborted) return reject(ctx.signal.reason instanceof Error ? ctx.signal.reason : err);
        if (killed) return reject(new Error(`git ${args[0]} took longer than ${GIT_TIMEOUT_MS / 1000} s (killed)`));
        reject(new Error(`git could not run: ${err.message}`));
      },
    );
  });
}

/**
 * The environment git reads with: none of the caller's GIT_* (a GIT_DIR
 * inherited from a hook would point every command at another repository),
 * no prompts, no pager, and not looking above the folder: a plain folder
 * inside some other repository is a plain folder, not that repository.
 */
function gitEnvironment(base: NodeJS.ProcessEnv, path: string): NodeJS.ProcessEnv {
  const own = Object.fromEntries(Object.entries(base).filter(([name]) => !name.startsWith('GIT_')));
  return {
    ...own,
    GIT_TERMINAL_PROMPT: '0',
    GIT_PAGER: 'cat',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_CEILING_DIRECTORIES: dirname(path),
    LC_ALL: 'C',
  };
}

function firstLine(text: string): string {
  return clipAtWord(text.trim().split('\n')[0] ?? '', 200) || 'no message';
}
