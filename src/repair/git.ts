import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCommand, type ExecResult } from '../exec.js';

/** What git runs with: no pager, no prompts, no user config steering it (hooks of the target still run). */
function gitEnv(base: NodeJS.ProcessEnv, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...base, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C', ...extra };
}

export interface GitOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  input?: string;
  /** Extra environment (GIT_INDEX_FILE for a scratch index). */
  extraEnv?: Record<string, string>;
  /** Told git's pid (its process group), so a crash can be cleaned up after (a commit's hooks may run long). */
  onSpawn?: (pid: number) => void;
}

/** A git command that failed: its exit and what it printed. */
export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: ExecResult,
  ) {
    super(`git ${args.join(' ')}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ') || `exit ${result.exitCode}`}`);
  }
}

/** Runs git (argv form, never a shell); resolves with its result, success or not. */
export function git(args: readonly string[], options: GitOptions): Promise<ExecResult> {
  return runCommand(['git', ...args], {
    cwd: options.cwd,
    env: gitEnv(options.env, options.extraEnv),
    keepBytes: 1 << 20,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
  });
}

/** Runs git and returns its stdout trimmed; throws GitError when it fails. */
export async function gitOk(args: readonly string[], options: GitOptions): Promise<string> {
  const result = await git(args, options);
  if (result.exitCode !== 0) throw new GitError(args, result);
  return result.stdout.trim();
}

/** True when `dir` is the top of a git work tree (a folder inside one is treated as plain: git would act on the whole tree). */
export async function isWorkTreeRoot(dir: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const result = await git(['rev-parse', '--show-toplevel'], { cwd: dir, env });
  if (result.exitCode !== 0) return false;
  try {
    return realpathSync(result.stdout.trim()) === realpathSync(dir);
  } catch {
    return false;
  }
}

/**
 * git apply, in the target. A plain folder inside some other repository
 * must not be patched relative to that repository's root: git is kept from
 * looking above the folder.
 */
export async function applyPatch(
  path: string,
  isGit: boolean,
  diff: string,
  env: NodeJS.ProcessEnv,
  options: { check?: boolean; signal?: AbortSignal } = {},
): Promise<{ ok: true } | { ok: false; error: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-patch-'));
  try {
    const file = join(dir, 'fix.patch');
    writeFileSync(file, diff.endsWith('\n') ? diff : `${diff}\n`);
    const result = await git(['apply', '--whitespace=nowarn', ...(options.check ? ['--check'] : []), file], {
      cwd: path,
      env,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(isGit ? {} : { extraEnv: { GIT_CEILING_DIRECTORIES: dirname(path) } }),
    });
    if (result.exitCode === 0) return { ok: true };
    return { ok: false, error: (result.stderr || result.stdout).trim().split('\n').slice(0, 3).join(' / ') || `git apply exited ${result.exitCode}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
