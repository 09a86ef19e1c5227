import { stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { CheckKindName } from '../../checks/index.js';
import type { CheckConfig } from '../../checks/types.js';
import { errorMessage } from '../../errors.js';
import { formatBytes } from '../../util/format.js';
import { displayPath } from './bounds.js';
import { forKind, paramsOf } from './facts.js';
import type { GatherTool, LookResult } from './types.js';

/** Below this share of free inodes they are named: a filesystem out of inodes fails writes with ENOSPC while showing free bytes. */
const LOW_INODES = 0.1;

/**
 * Free space of the filesystems holding the paths the check names (a
 * supervised child's working directory; a log, file, disk or lock file path),
 * measured on the nearest existing folder when the path does not exist.
 */
export const diskTool: GatherTool = {
  name: 'disk',
  plan: ({ check }) => [...new Set(pathsOf(check).map((path) => resolve(path)))].map((path) => ({ target: displayPath(path), run: () => measure(path) })),
};

const pathFinders: Partial<Record<CheckKindName, (check: CheckConfig) => Array<string | undefined>>> = {
  process: (check) => [paramsOf(check, 'process')?.cwd],
  log: (check) => [paramsOf(check, 'log')?.path],
  file: (check) => [paramsOf(check, 'file')?.path],
  disk: (check) => [paramsOf(check, 'disk')?.path],
  lockfile: (check) => [paramsOf(check, 'lockfile')?.path],
};

function pathsOf(check: CheckConfig): string[] {
  return (forKind(pathFinders, check.kind)?.(check) ?? []).filter((path) => path !== undefined);
}

async function measure(path: string): Promise<LookResult> {
  const existing = await nearestExisting(path);
  if (typeof existing !== 'string') return { ok: false, text: `${displayPath(path)}: ${existing.error}` };
  let fs;
  try {
    fs = await statfs(existing);
  } catch (err) {
    return { ok: false, text: `${displayPath(existing)}: cannot measure: ${errorMessage(err)}` };
  }
  const total = fs.blocks * fs.bsize;
  const free = fs.bavail * fs.bsize;
  const where = existing === path ? displayPath(path) : `${displayPath(path)} does not exist; ${displayPath(existing)}`;
  const inodes = fs.files > 0 && fs.ffree / fs.files < LOW_INODES ? `, only ${fs.ffree} of ${fs.files} inodes free` : '';
  return { ok: true, text: `${where}: ${formatBytes(free)} free of ${formatBytes(total)} (${percent(free, total)})${inodes}` };
}

/** The path itself or its nearest existing parent; why not, when even that cannot be told (a folder this user cannot enter). */
async function nearestExisting(path: string): Promise<string | { error: string }> {
  for (let candidate = path; ; candidate = dirname(candidate)) {
    try {
      await stat(candidate);
      return candidate;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(candidate) === candidate) return { error: errorMessage(err) };
    }
  }
}

function percent(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const share = (part / whole) * 100;
  return `${share < 10 ? share.toFixed(1) : share.toFixed(0)}%`;
}
