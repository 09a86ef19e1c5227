import { createHash, randomBytes } from 'node:crypto';
import { constants, type Dirent, type Stats } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../errors.js';
import { Redactor } from '../log/redact.js';
import { scanSource, type ScanFinding } from '../util/code-scanner.js';
import { formatBytes } from '../util/format.js';
import { clipAtWord } from '../util/text.js';
import type { CheckEnvironment, CheckKind, CheckResult, CheckRunContext, Probe } from './types.js';

const MiB = 1024 * 1024;

const params = z.strictObject({
  /** The folder agents write generated scripts into. */
  path: z.string().min(1),
  /**
   * Where flagged scripts are moved (created when missing). Default:
   * `<dataDir>/quarantine/<check name>`: Nightshift's own folder, outside the
   * agents' reach, where nothing is run or scanned again. A quarantine inside
   * `path` is skipped by the scan.
   */
  quarantine: z.string().min(1).optional(),
  /** File name endings that are scripts (compared without case); other files are left alone. */
  extensions: z
    .array(z.string().regex(/^\.[^/\\\s]+$/, { message: 'expected a file name ending such as ".py"' }))
    .min(1)
    .default(['.py', '.js', '.mjs', '.cjs', '.ts', '.sh']),
  /** Scan subfolders too. */
  recursive: z.boolean().default(true),
  /** Folder names never entered, wherever they are: installed packages are not generated code, and moving their files would break them. */
  exclude: z.array(z.string().min(1)).default(['node_modules', '.git', '__pycache__', '.venv', 'venv', 'site-packages']),
  /** Also quarantine scripts with only warnings (input(), a string timer); by default those are reported and stay. */
  quarantineWarnings: z.boolean().default(false),
  /** Hosts (exact, or "*.example.com") a script may reach; loopback is always allowed. A URL or ssh target elsewhere is blocking. */
  allowHosts: z.array(z.string().min(1)).default([]),
  /** At most this many scripts are read per run; the rest are read on the next runs. */
  maxFilesPerRun: z.number().int().min(1).max(100_000).default(200),
  /** At most this many bytes are read per run (one script is always read, however large). */
  maxBytesPerRun: z
    .number()
    .int()
    .min(1)
    .default(32 * MiB),
  /**
   * A larger script is not read: it cannot be checked, so it counts as a
   * blocking finding and is quarantined, as the scanner treats input it
   * cannot scan to its end.
   */
  maxFileBytes: z
    .number()
    .int()
    .min(1)
    .max(4_000_000)
    .default(2 * MiB),
  /** At most this many scripts are tracked; past it the folder is reported as too large and the rest are not scanned. */
  maxFiles: z.number().int().min(1).max(100_000).default(5_000),
});

export type ScriptsParams = z.output<typeof params>;

/**
 * A stat is trusted to stand for content the scan already read only when the
 * file's last change is this much older than that read (git's "racy" rule):
 * a rewrite in the same timestamp tick, same size, would otherwise go unseen.
 * A racy file is read and hashed again, but scanned only if its hash differs.
 */
const RACY_MARGIN_MS = 2_000;
/** Quarantined scripts listed in state (unacknowledged); a runaway agent cannot grow it without bound. */
const MAX_LISTED_QUARANTINED = 500;
/** Scripts named in a message before "+N more". */
const NAMED_IN_MESSAGE = 3;
const REASON_CHARS = 70;
/** Details carry at most this many scripts per list. */
const DETAIL_ITEMS = 20;

const fileEntry = z.object({
  size: z.number(),
  mtimeMs: z.number(),
  ctimeMs: z.number(),
  /** Wall-clock time of the read (compared with ctime, which the file system takes from the same clock). */
  readAt: z.number(),
  /** First 32 hex of the content's sha256 (null: it could not be read). */
  hash: z.string().nullable(),
  /** Warnings found in it (short lines), kept so every run reports them while the script is there. */
  warnings: z.array(z.string()).default([]),
  /** Why it could not be read (an errno code). */
  unreadable: z.string().optional(),
});
type FileEntry = z.output<typeof fileEntry>;

const quarantinedEntry = z.object({
  path: z.string(),
  movedTo: z.string(),
  at: z.number(),
  /** "eval() runs a string as Python code, line 12": the first finding, for the message. */
  first: z.string(),
  findings: z.array(z.string()),
});
type QuarantinedEntry = z.output<typeof quarantinedEntry>;

const stateSchema = z.object({
  /** Scripts present and scanned, by path relative to the folder. */
  files: z.record(z.string(), fileEntry).default({}),
  /** Scripts moved to the quarantine and not yet acknowledged, oldest first. */
  quarantined: z.array(quarantinedEntry).default([]),
  /** Unacknowledged quarantined scripts no longer listed (past MAX_LISTED_QUARANTINED). */
  unlisted: z.number().default(0),
});
type ScriptsState = z.output<typeof stateSchema>;

/** Test seam: called with the scripts a run is about to read, after the folder was listed (a file can vanish in between). */
export interface ScriptsHooks {
  afterListing?: (relativePaths: readonly string[]) => void | Promise<void>;
}

/**
 * A folder of generated scripts, scanned with the repair scanner's
 * patterns. A script with a blocking finding is moved (never deleted) to the
 * quarantine with a `<name>.findings.json` beside it, and recorded as
 * `script.quarantined`; the check fails until the operator acknowledges
 * (/ack), and the files stay where they were moved. Only new or changed
 * scripts are read (size, times and a hash kept across restarts), a bounded
 * number per run. Nothing a script holds or does makes the check throw: a
 * scanner that crashes on the file it flags crashes on it forever.
 */
export const scriptsCheck: CheckKind<ScriptsParams> = {
  kind: 'scripts',
  description: 'a folder of generated scripts holds nothing the code scanner blocks; flagged scripts are quarantined',
  params,
  create: (p, env) => createScriptsProbe(p, env),
};

export function createScriptsProbe(p: ScriptsParams, env: CheckEnvironment, hooks: ScriptsHooks = {}): Probe {
  const root = resolve(p.path);
  const quarantineDir = resolve(p.quarantine ?? join(env.dataDir, 'quarantine', env.checkName));
  const extensions = p.extensions.map((e) => e.toLowerCase());
  const excluded = new Set(p.exclude);
  const redactor = new Redactor();
  let state: ScriptsState | undefined;
  // A run the patrol gave up on (timeout) may still be finishing; the next one, and an ack, wait for it.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  const loadState = (): ScriptsState => {
    if (!state) {
      const parsed = stateSchema.safeParse(env.state.get() ?? {});
      state = parsed.success ? parsed.data : stateSchema.parse({});
    }
    return state;
  };
  const saveState = () => env.state.set(loadState());

  async function run(ctx: CheckRunContext): Promise<CheckResult> {
    const s = loadState();
    const base = { path: root, quarantine: quarantineDir };
    if (root === quarantineDir) return { ok: false, message: `the quarantine cannot be the scanned folder itself (${root})`, details: base };
    const folderProblem = await folderProblemOf(root);
    if (folderProblem) return { ok: false, message: folderProblem, details: base };

    const listing = await listScripts(root, { extensions, excluded, recursive: p.recursive, skip: quarantineDir, max: p.maxFiles }, ctx.signal);
    // A listing cut short would make every script not reached yet look deleted.
    if (ctx.signal.aborted) return { ok: false, message: `aborted while listing ${root}`, details: { ...base, aborted: true } };
    let dirty = false;
    for (const path of Object.keys(s.files)) {
      if (!listing.files.has(path)) {
        delete s.files[path];
        dirty = true;
      }
    }
    // New and changed scripts first; a racy one (same stat, changed too recently to trust it) is only re-hashed, so
    // it goes last: freshly written scripts must not eat the budget of those never read.
    const fresh: string[] = [];
    const recheck: string[] = [];
    for (const [path, stats] of listing.files) {
      const entry = s.files[path];
      if (!entry || !sameStat(entry, stats)) fresh.push(path);
      else if (!trusted(entry, stats)) recheck.push(path);
    }
    const due = [...fresh, ...recheck];
    await hooks.afterListing?.(due);

    let read = 0;
    let bytesRead = 0;
    let scanned = 0;
    let aborted = false;
    const moveFailures: { path: string; first: string; error: string }[] = [];
    const quarantinedNow: QuarantinedEntry[] = [];
    for (const path of due) {
      if (ctx.signal.aborted) {
        aborted = true;
        break;
      }
      const listed = listing.files.get(path)!;
      if (read >= p.maxFilesPerRun || (read > 0 && bytesRead + listed.size > p.maxBytesPerRun)) break;
      read++;
      const outcome = await readScript(join(root, path), p.maxFileBytes, ctx.signal);
      bytesRead += outcome.kind === 'read' ? outcome.bytes.length : 0;
      // Still being written: the next run reads it whole.
      if (outcome.kind === 'changing') continue;
      if (outcome.kind === 'gone') {
        if (s.files[path]) delete s.files[path];
        dirty = true;
        continue;
      }
      if (outcome.kind === 'aborted') {
        aborted = true;
        break;
      }
      if (outcome.kind === 'unreadable') {
        s.files[path] = { ...stampOf(outcome.stats), readAt: Date.now(), hash: null, warnings: [], unreadable: outcome.code };
        dirty = true;
        continue;
      }
      const previous = s.files[path];
      const hash = outcome.tooLarge ? null : createHash('sha256').update(outcome.bytes).digest('hex').slice(0, 32);
      if (previous && hash !== null && previous.hash === hash) {
        // Touched or racy, same content: already scanned.
        s.files[path] = { ...previous, ...stampOf(outcome.stats), readAt: outcome.readAt };
        dirty = true;
        continue;
      }
      scanned++;
      const findings = outcome.tooLarge
        ? [tooLargeFinding(outcome.stats.size, p.maxFileBytes)]
        : scanSource(outcome.bytes.toString('utf8'), path, { allowHosts: p.allowHosts }).map(ownWording);
      const blocking = findings.filter((f) => f.severity === 'blocking');
      if (blocking.length > 0 || (p.quarantineWarnings && findings.length > 0)) {
        const flagged = blocking.length > 0 ? [...blocking, ...findings.filter((f) => f.severity !== 'blocking')] : findings;
        const moved = await quarantine(path, outcome, flagged);
        dirty = true;
        if (moved.kind === 'moved') {
          delete s.files[path];
          quarantinedNow.push(moved.entry);
        } else if (moved.kind === 'failed') {
          // Left in place and not remembered: the next run tries again, and the check fails until then.
          delete s.files[path];
          moveFailures.push({ path, first: shortFinding(flagged[0]!), error: moved.error });
        } else if (s.files[path]) delete s.files[path];
        continue;
      }
      s.files[path] = { ...stampOf(outcome.stats), readAt: outcome.readAt, hash, warnings: findings.map(shortFinding) };
      dirty = true;
    }

    if (quarantinedNow.length > 0) {
      s.quarantined.push(...quarantinedNow);
      const over = s.quarantined.length - MAX_LISTED_QUARANTINED;
      if (over > 0) {
        s.quarantined.splice(0, over);
        s.unlisted += over;
      }
    }
    // An operator who removed or restored a quarantined script has dealt with it: it no longer holds the check failing.
    const stillThere = await filterAsync(s.quarantined, async (q) => (await lstat(q.movedTo).catch(() => null)) !== null);
    if (stillThere.length !== s.quarantined.length) {
      s.quarantined = stillThere;
      dirty = true;
    }
    if (dirty) saveState();

    const pending = Math.max(0, fresh.length - read);
    const tracked = Object.keys(s.files).length;
    const warned = Object.entries(s.files).filter(([, f]) => f.warnings.length > 0);
    const unreadable = Object.entries(s.files).filter(([, f]) => f.unreadable !== undefined);
    const details: Record<string, unknown> = {
      ...base,
      scripts: tracked,
      read,
      scanned,
      bytesRead,
      pending,
      rechecked: Math.max(0, read - fresh.length),
      quarantined: s.quarantined.slice(-DETAIL_ITEMS).map((q) => ({ path: q.path, movedTo: q.movedTo, findings: q.findings })),
      unacknowledged: s.quarantined.length + s.unlisted,
      warnings: warned.slice(0, DETAIL_ITEMS).map(([path, f]) => ({ path, findings: f.warnings })),
      unreadable: unreadable.slice(0, DETAIL_ITEMS).map(([path, f]) => ({ path, code: f.unreadable })),
      skippedSymlinks: listing.symlinks,
      unlistableFolders: listing.unlistable.slice(0, DETAIL_ITEMS),
      truncated: listing.truncated,
      ...(moveFailures.length > 0 ? { moveFailures } : {}),
      ...(aborted ? { aborted: true } : {}),
    };

    if (moveFailures.length > 0) {
      const named = moveFailures.slice(0, NAMED_IN_MESSAGE).map((f) => `${f.path} (${f.first}): ${f.error}`);
      const more = moveFailures.length > NAMED_IN_MESSAGE ? `, +${moveFailures.length - NAMED_IN_MESSAGE} more` : '';
      return { ok: false, message: `could not quarantine ${count(moveFailures.length, 'script')}, still in place: ${named.join(', ')}${more}`, details };
    }
    const unacknowledged = s.quarantined.length + s.unlisted;
    if (unacknowledged > 0) {
      const named = s.quarantined.slice(0, NAMED_IN_MESSAGE).map((q) => `${q.path} (${q.first})`);
      const more = unacknowledged > named.length ? `, +${unacknowledged - named.length} more` : '';
      return { ok: false, message: `quarantined ${count(unacknowledged, 'script')}: ${named.join(', ')}${more}; /ack to accept`, details };
    }

    const parts = [`${count(tracked, 'script')}, none flagged`];
    if (scanned > 0) parts[0] += ` (${scanned} scanned now)`;
    if (pending > 0) parts.push(`${pending} more to read on the next run`);
    if (aborted) parts.push('run cut short');
    if (warned.length > 0) parts.push(`warnings in ${warned.length}: ${namedList(warned.map(([path, f]) => `${path} (${f.warnings[0]})`))}`);
    if (unreadable.length > 0) parts.push(`${unreadable.length} unreadable: ${namedList(unreadable.map(([path, f]) => `${path} (${f.unreadable})`))}`);
    if (listing.truncated) parts.push(`more than ${p.maxFiles} scripts: the rest are not scanned (raise maxFiles)`);
    return { ok: true, message: parts.join('; '), details };
  }

  async function quarantine(
    path: string,
    script: ReadScript,
    findings: readonly ScanFinding[],
  ): Promise<{ kind: 'moved'; entry: QuarantinedEntry } | { kind: 'gone' } | { kind: 'failed'; error: string }> {
    const source = join(root, path);
    let dest: string;
    try {
      await mkdir(quarantineDir, { recursive: true, mode: 0o700 });
      dest = await reserveName(quarantineDir, path);
    } catch (err) {
      return { kind: 'failed', error: `${codeOf(err)} preparing ${quarantineDir}` };
    }
    try {
      await moveFile(source, dest);
    } catch (err) {
      await unlink(dest).catch(() => undefined);
      if (codeOf(err) === 'ENOENT') return { kind: 'gone' };
      return { kind: 'failed', error: codeOf(err) };
    }
    // Out of the agents' way and no longer executable by accident; the content is untouched.
    await chmod(dest, 0o600).catch(() => undefined);
    const record = {
      check: env.checkName,
      originalPath: source,
      relativePath: path,
      quarantinedAt: new Date(env.now()).toISOString(),
      bytes: script.stats.size,
      originalMode: (script.stats.mode & 0o7777).toString(8).padStart(4, '0'),
      sha256: script.tooLarge ? null : createHash('sha256').update(script.bytes).digest('hex'),
      findings: findings.map((f) => ({ id: f.id, severity: f.severity, reason: f.reason, line: f.line ?? null, excerpt: redactor.redact(f.excerpt) })),
    };
    try {
      await writeFile(`${dest}.findings.json`, `${JSON.stringify(record, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      env.log.warn({ err, file: dest }, 'quarantined a script but could not write its findings file');
    }
    const entry: QuarantinedEntry = {
      path,
      movedTo: dest,
      at: env.now(),
      first: shortFinding(findings[0]!),
      findings: findings.map((f) => `${f.id}${f.line !== undefined ? ` line ${f.line}` : ''}: ${f.reason}`),
    };
    env.record('script.quarantined', 'warning', { path, movedTo: dest, findings: entry.findings });
    env.log.warn({ path, movedTo: dest, findings: entry.findings.length }, 'quarantined a generated script');
    return { kind: 'moved', entry };
  }

  return {
    run: (ctx) =>
      serial(async () => {
        try {
          return await run(ctx);
        } catch (err) {
          return { ok: false, message: `scan of ${root} failed: ${errorMessage(err)}`, details: { path: root, errorCode: codeOf(err) } };
        }
      }),
    acknowledge: () =>
      serial(async () => {
        const s = loadState();
        if (s.quarantined.length === 0 && s.unlisted === 0) return;
        env.log.info({ accepted: s.quarantined.length + s.unlisted }, 'quarantined scripts acknowledged; they stay in the quarantine');
        s.quarantined = [];
        s.unlisted = 0;
        saveState();
      }),
  };
}

type ReadScript = { kind: 'read'; stats: Stats; bytes: Buffer; readAt: number; tooLarge: boolean };
type ReadOutcome = ReadScript | { kind: 'gone' } | { kind: 'changing' } | { kind: 'aborted' } | { kind: 'unreadable'; stats: Stats; code: string };

/**
 * Reads a script without following a symlink put in its place since the
 * listing, and without blocking on a FIFO; a file that changed while being
 * read is left for the next run.
 */
async function readScript(path: string, maxBytes: number, signal: AbortSignal): Promise<ReadOutcome> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = codeOf(err);
    // ELOOP: it became a symlink, which is never followed.
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return { kind: 'gone' };
    const stats = await lstat(path).catch(() => null);
    return stats?.isFile() ? { kind: 'unreadable', stats, code } : { kind: 'gone' };
  }
  try {
    const before = await handle.stat();
    if (!before.isFile()) return { kind: 'gone' };
    const readAt = Date.now();
    if (before.size > maxBytes) return { kind: 'read', stats: before, bytes: Buffer.alloc(0), readAt, tooLarge: true };
    const bytes = await handle.readFile({ signal });
    const after = await handle.stat();
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) return { kind: 'changing' };
    return { kind: 'read', stats: after, bytes, readAt, tooLarge: false };
  } catch (err) {
    if (signal.aborted) return { kind: 'aborted' };
    const stats = await handle.stat().catch(() => null);
    return stats ? { kind: 'unreadable', stats, code: codeOf(err) } : { kind: 'gone' };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** A rename; across file systems a copy, unlinked at the source only once the copy is verified byte for byte. */
async function moveFile(source: string, dest: string): Promise<void> {
  try {
    await rename(source, dest);
    return;
  } catch (err) {
    if (codeOf(err) !== 'EXDEV') throw err;
  }
  await copyFile(source, dest);
  const [original, copy] = await Promise.all([readFile(source), readFile(dest)]);
  if (!original.equals(copy)) throw Object.assign(new Error('the copy differs from the original'), { code: 'ECOPYDIFFERS' });
  await unlink(source);
}

/** A name in the quarantine no other script can take: created exclusively, then renamed over. */
async function reserveName(folder: string, relativePath: string): Promise<string> {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  let flat = relativePath.replaceAll('/', '__');
  // File names are limited to 255 bytes; the end keeps the extension, the stamp keeps it apart.
  while (Buffer.byteLength(flat) > 180) flat = flat.slice(1);
  for (let attempt = 0; ; attempt++) {
    const dest = join(folder, `${stamp}-${randomBytes(4).toString('hex')}-${flat}`);
    try {
      const handle = await open(dest, 'wx', 0o600);
      await handle.close();
      return dest;
    } catch (err) {
      if (codeOf(err) !== 'EEXIST' || attempt >= 5) throw err;
    }
  }
}

interface Listing {
  files: Map<string, Stats>;
  symlinks: number;
  truncated: boolean;
  unlistable: string[];
}

/** The scripts under `root` by relative path, sorted; symlinks are never followed (neither to files nor to folders). */
async function listScripts(
  root: string,
  options: { extensions: readonly string[]; excluded: ReadonlySet<string>; recursive: boolean; skip: string; max: number },
  signal: AbortSignal,
): Promise<Listing> {
  const listing: Listing = { files: new Map(), symlinks: 0, truncated: false, unlistable: [] };
  const folders: string[] = [''];
  while (folders.length > 0 && !signal.aborted) {
    const folder = folders.shift()!;
    let entries: Dirent[];
    try {
      entries = await readdir(join(root, folder), { withFileTypes: true });
    } catch (err) {
      if (folder === '') throw err;
      listing.unlistable.push(`${folder} (${codeOf(err)})`);
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = folder === '' ? entry.name : `${folder}/${entry.name}`;
      const absolute = join(root, path);
      let stats: Stats | null = null;
      // Some file systems do not say what an entry is; lstat does, without following a link.
      const kind = entry.isSymbolicLink() || entry.isDirectory() || entry.isFile() ? entry : (stats = await lstat(absolute).catch(() => null));
      if (!kind) continue;
      if (kind.isSymbolicLink()) listing.symlinks++;
      else if (kind.isDirectory()) {
        if (options.recursive && !options.excluded.has(entry.name) && absolute !== options.skip) folders.push(path);
      } else if (kind.isFile() && options.extensions.some((ext) => entry.name.toLowerCase().endsWith(ext))) {
        stats ??= await lstat(absolute).catch(() => null);
        if (!stats?.isFile()) continue;
        if (listing.files.size >= options.max) {
          listing.truncated = true;
          return listing;
        }
        listing.files.set(path, stats);
      }
    }
  }
  return listing;
}

async function folderProblemOf(path: string): Promise<string | undefined> {
  try {
    // The configured folder itself may be a symlink: the operator named it. Links inside it are never followed.
    return (await stat(path)).isDirectory() ? undefined : `${path} is not a folder`;
  } catch (err) {
    const code = codeOf(err);
    return code === 'ENOENT' ? `folder ${path} does not exist` : `cannot read folder ${path}: ${code}`;
  }
}

/** True when the entry was read from exactly this version of the file, long enough after its last change. */
function trusted(entry: FileEntry, stats: Stats): boolean {
  return sameStat(entry, stats) && stats.ctimeMs < entry.readAt - RACY_MARGIN_MS;
}

function sameStat(entry: FileEntry, stats: Stats): boolean {
  return entry.size === stats.size && entry.mtimeMs === stats.mtimeMs && entry.ctimeMs === stats.ctimeMs;
}

function stampOf(stats: Stats): Pick<FileEntry, 'size' | 'mtimeMs' | 'ctimeMs'> {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs };
}

function tooLargeFinding(size: number, max: number): ScanFinding {
  return {
    id: 'scan-incomplete',
    severity: 'blocking',
    reason: `too large to scan (${formatBytes(size)}, over maxFileBytes ${formatBytes(max)})`,
    excerpt: '',
  };
}

/** The scanner speaks of the repair's allow-list; here the key is this check's own `allowHosts`. */
function ownWording(finding: ScanFinding): ScanFinding {
  return { ...finding, reason: finding.reason.replaceAll('repair.allowHosts', 'allowHosts') };
}

/** "eval() runs a string as Python code, line 12". */
function shortFinding(finding: ScanFinding): string {
  const reason = clipAtWord(finding.reason, REASON_CHARS);
  return finding.line !== undefined ? `${reason}, line ${finding.line}` : reason;
}

function namedList(items: readonly string[]): string {
  const named = items.slice(0, NAMED_IN_MESSAGE).join(', ');
  return items.length > NAMED_IN_MESSAGE ? `${named}, +${items.length - NAMED_IN_MESSAGE} more` : named;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : errorMessage(err);
}

async function filterAsync<T>(items: readonly T[], keep: (item: T) => Promise<boolean>): Promise<T[]> {
  const verdicts = await Promise.all(items.map(keep));
  return items.filter((_, i) => verdicts[i]);
}
