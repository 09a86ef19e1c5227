import { accessSync, constants, readdirSync, statSync, type Dirent } from 'node:fs';
import { basename, join } from 'node:path';
import { checkKinds } from '../../checks/index.js';
import { formatBytes } from '../../util/format.js';
import type { FoundThing, Source } from '../types.js';

/** A log over this is large: it needs rotating. */
export const LARGE_LOG_BYTES = 100 * 1024 * 1024;
/** A log that grew more than this between the two looks is growing fast. */
export const GROWING_LOG_BYTES = 1024 * 1024;
/** How deep folders are searched for *.log, and how many entries at most (a huge tree must not stall init). */
const MAX_DEPTH = 3;
const MAX_ENTRIES = 20_000;
const SKIPPED_DIRS = new Set(['node_modules', '.git', '__pycache__', '.venv', 'venv', 'journal']);

/** The log kind's own default error pattern, written out so the operator sees what counts as an error. */
const ERROR_PATTERN = (checkKinds.log.params.parse({ path: 'x' }) as { errorPattern: string }).errorPattern;

/**
 * Large or fast-growing log files: the pm2 apps' logs, *.log under /var/log
 * (the readable ones) and under the apps' working folders. Each size is
 * looked at twice, `growthWaitMs` apart. A large one gets a `file` check with
 * `maxBytes` and the rotate-log heal; a growing one a `log` check (error
 * spikes, and the same size bound). Under /var/log logrotate owns rotation:
 * no heal, and the check is optional.
 */
export const logsSource: Source = {
  id: 'logs',
  noun: ['log file', 'log files'],
  async look(ctx) {
    const candidates = new Map<string, FoundThing | undefined>();
    for (const thing of ctx.earlier) for (const log of thing.logs) candidates.set(log, thing);
    const budget = { entries: MAX_ENTRIES };
    for (const file of findLogs(ctx.systemLogDir, budget)) if (!candidates.has(file)) candidates.set(file, undefined);
    for (const thing of ctx.earlier) {
      if (!thing.cwd) continue;
      for (const file of findLogs(thing.cwd, budget)) if (!candidates.has(file)) candidates.set(file, thing);
    }
    const first = new Map<string, number>();
    for (const file of candidates.keys()) {
      const size = readableSize(file);
      if (size !== undefined) first.set(file, size);
    }
    if (first.size > 0) await (ctx.betweenLooks ? ctx.betweenLooks() : new Promise((resolve) => setTimeout(resolve, ctx.growthWaitMs)));

    const things: FoundThing[] = [];
    const waited = ctx.growthWaitMs >= 1000 ? `${Math.round(ctx.growthWaitMs / 1000)}s` : `${ctx.growthWaitMs}ms`;
    for (const [file, before] of first) {
      const after = readableSize(file) ?? before;
      const grew = after - before;
      const large = after > LARGE_LOG_BYTES;
      const growing = grew > GROWING_LOG_BYTES;
      if (!large && !growing) continue;
      const owner = candidates.get(file);
      const system = file.startsWith(`${ctx.systemLogDir}/`) && owner === undefined;
      const stem = basename(file).replace(/\.log$/, '');
      const name = ctx.names.claim([`${stem}-log`, `${owner?.check.name ?? 'file'}-${stem}-log`], 'log');
      const facts = [large ? `${formatBytes(after)}` : '', growing ? `grew ${formatBytes(grew)} in ${waited}` : ''].filter(Boolean).join(', ');
      const notes = [`${file}: ${facts}${owner ? ` (written by ${owner.check.name})` : ''}`];
      if (system) notes.push('under /var/log logrotate rotates it: no heal here (add rotate-log only if nothing else rotates it)');
      const heal = system ? [] : [{ action: 'rotate-log', path: file, keep: 3 }];
      const params: Record<string, unknown> = growing
        ? { path: file, maxSize: LARGE_LOG_BYTES, errorPattern: ERROR_PATTERN, maxErrors: 50, window: '1h' }
        : { path: file, maxBytes: LARGE_LOG_BYTES };
      things.push({
        label: `${basename(file)} (${facts})`,
        check: {
          name,
          kind: growing ? 'log' : 'file',
          notes,
          params,
          ...(system ? { severity: 'optional' as const } : {}),
          heal,
          dependsOn: owner ? [{ name: owner.check.name }] : [],
        },
        pids: [],
        logs: [],
        ports: [],
      });
    }
    return { things };
  },
};

/** *.log files under `dir`, a few levels deep, skipping dependency and VCS folders, symlinks and unreadable folders. */
function findLogs(dir: string, budget: { entries: number }, depth = 0): string[] {
  if (depth > MAX_DEPTH || budget.entries <= 0) return [];
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    if (--budget.entries <= 0) break;
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.log')) found.push(path);
    else if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('.')) found.push(...findLogs(path, budget, depth + 1));
  }
  return found;
}

/** Size of a regular file this user can read; undefined otherwise. */
function readableSize(file: string): number | undefined {
  try {
    accessSync(file, constants.R_OK);
    const stat = statSync(file);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}
