import { envValues } from '../util/env-file.js';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import type { CheckEnvironment, CheckKind, CheckResult, CheckRunContext, Probe } from './types.js';

const params = z.strictObject({
  /** The files watched (env files, configs); each is hashed on every run. */
  files: z
    .array(z.string().min(1))
    .min(1)
    .refine((files) => new Set(files).size === files.length, { message: 'each file is listed once' }),
  /** A change fails the check until someone acknowledges it (/ack); by default it is recorded and the check stays ok. */
  failUntilAck: z.boolean().default(false),
  /** The checks a change concerns (their diagnosis and causal analysis see it); empty: all of them. */
  concerns: z.array(z.string().min(1)).default([]),
});

export type DriftParams = z.output<typeof params>;

/** A KEY=VALUE file larger than this is no env file: it is hashed whole, not read key by key. */
const MAX_PARSED_BYTES = 1024 * 1024;
/** Key names listed in a summary before "+N more". */
const LISTED_KEYS = 10;

const snapshot = z.object({
  present: z.boolean(),
  /** sha256 of the salt and the content (hex); null when absent. Salted, so a short file's value cannot be looked up from it. */
  hash: z.string().nullable(),
  /** Per key, a salted sha256 of its value (KEY=VALUE files); null: hashed whole. Kept here only, never put in an event. */
  keys: z.record(z.string(), z.string()).nullable(),
});
type Snapshot = z.output<typeof snapshot>;

const fileState = z.object({
  /** Random, per file, for its life: every hash above is salted with it. */
  salt: z.string(),
  /** What the last run saw (each difference from it is one event). */
  seen: snapshot,
  /** What the operator accepted (with failUntilAck), or simply the last seen. */
  accepted: snapshot,
  /** The last version that was present, so a file that comes back can be compared with it. */
  lastPresent: snapshot.nullable(),
  /** `lastPresent` as it was when `accepted` was: what an accepted removal is compared with when the file returns. */
  acceptedLastPresent: snapshot.nullable(),
  /** When the first change not yet accepted was noticed (ms). */
  unacceptedSince: z.number().nullable(),
  /** The latest change noticed, for the message of a healthy run. */
  lastChange: z.object({ summary: z.string(), at: z.number() }).nullable(),
});
type FileState = z.output<typeof fileState>;

/** Takes `snap` as what the operator has seen; `lastPresent` must already include it. */
function accept(file: FileState, snap: Snapshot): void {
  file.accepted = snap;
  file.acceptedLastPresent = file.lastPresent;
  file.unacceptedSince = null;
}

/** What differs between the accepted version and the one seen last. */
function unacceptedChange(label: string, file: FileState): Change {
  return describeChange(label, file.accepted, file.seen, file.acceptedLastPresent) ?? { label, happened: 'changed', what: '' };
}

const stateSchema = z.object({ files: z.record(z.string(), fileState) });
type DriftState = z.output<typeof stateSchema>;

/**
 * A set of files that should not change behind the operator's back. Each is
 * hashed (salted sha256) on every run; a KEY=VALUE file (`.env`, `.env.*`,
 * `*.env`) is hashed key by key, so a change names the keys that were added,
 * removed or changed, and never a value. Each change is one `change` event
 * (source `drift`). The first run takes the baseline; the baseline survives
 * restarts, so a change made while Nightshift was down is noticed at its
 * first run. With `failUntilAck`, a change fails the check until /ack.
 */
export const driftCheck: CheckKind<DriftParams> = {
  kind: 'drift',
  description: 'watched files (env files, configs) keep the content last accepted; each change is recorded by key name, never by value',
  params,
  create: (p, env) => createDriftProbe(p, env),
};

function createDriftProbe(p: DriftParams, env: CheckEnvironment): Probe {
  const files = p.files.map((label) => ({ label, path: resolve(label) }));
  let state: DriftState | undefined;
  let firstRun = true;
  // A run the patrol gave up on (timeout) may still be finishing; the next one, and an ack, wait for it.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  const loadState = (): DriftState => {
    if (!state) {
      const stored = env.state.get();
      const parsed = stateSchema.safeParse(stored ?? { files: {} });
      if (!parsed.success) env.log.warn('the stored drift baseline could not be read; a new one is taken');
      state = parsed.success ? parsed.data : { files: {} };
    }
    return state;
  };

  async function run(ctx: CheckRunContext): Promise<CheckResult> {
    const s = loadState();
    const whileDown = firstRun && Object.keys(s.files).length > 0;
    firstRun = false;
    // A file no longer configured is forgotten: listed again later, it starts from a new baseline.
    for (const path of Object.keys(s.files)) if (!files.some((f) => f.path === path)) delete s.files[path];
    // failUntilAck turned off: nothing waits for an ack any more.
    if (!p.failUntilAck) for (const file of Object.values(s.files)) if (!sameContent(file.accepted, file.seen)) accept(file, file.seen);

    const unreadable: { path: string; error: string }[] = [];
    const baselined: string[] = [];
    const changesNow: string[] = [];
    for (const file of files) {
      if (ctx.signal.aborted) break;
      const previous = s.files[file.path];
      const salt = previous?.salt ?? randomBytes(16).toString('hex');
      const look = await lookAt(file.path, salt, ctx.signal);
      if (look.kind === 'unreadable') {
        unreadable.push({ path: file.label, error: look.error });
        continue;
      }
      if (look.kind === 'changing') continue;
      const now = look.snapshot;
      if (!previous) {
        const lastPresent = now.present ? now : null;
        s.files[file.path] = { salt, seen: now, accepted: now, lastPresent, acceptedLastPresent: lastPresent, unacceptedSince: null, lastChange: null };
        baselined.push(file.label);
        continue;
      }
      const described = describeChange(file.label, previous.seen, now, previous.lastPresent);
      const change = described && sentence(described);
      if (!change) {
        // Same keys and values, other bytes (a comment, quoting): nothing a service sees, nothing to accept.
        previous.seen = now;
        if (now.present) previous.lastPresent = now;
        if (sameContent(previous.accepted, now)) accept(previous, now);
        continue;
      }
      const at = env.now();
      env.record('change', 'warning', {
        source: 'drift',
        summary: change,
        checks: p.concerns,
        path: file.path,
        before: previous.seen.hash === null ? null : fingerprint(previous.seen.hash),
        ...(now.hash !== null ? { after: fingerprint(now.hash) } : {}),
        detectedAt: at,
        ...(whileDown ? { whileDown: true } : {}),
      });
      env.log.info({ path: file.path, summary: change }, 'a watched file changed');
      changesNow.push(change);
      previous.seen = now;
      if (now.present) previous.lastPresent = now;
      previous.lastChange = { summary: change, at };
      if (!p.failUntilAck || sameContent(previous.accepted, now)) accept(previous, now);
      else previous.unacceptedSince ??= at;
    }
    env.state.set(s);
    return result(s, { unreadable, baselined, changesNow, aborted: ctx.signal.aborted });
  }

  function result(
    s: DriftState,
    found: { unreadable: { path: string; error: string }[]; baselined: string[]; changesNow: string[]; aborted: boolean },
  ): CheckResult {
    const now = env.now();
    const watched = files.map((f) => ({ ...f, state: s.files[f.path] }));
    const unaccepted = watched.filter((f) => f.state && !sameContent(f.state.accepted, f.state.seen));
    const missing = watched.filter((f) => f.state && !f.state.seen.present).map((f) => f.label);
    const details: Record<string, unknown> = {
      failUntilAck: p.failUntilAck,
      files: watched.map((f) => ({
        path: f.path,
        present: f.state?.seen.present ?? null,
        fingerprint: f.state?.seen.hash ? fingerprint(f.state.seen.hash) : null,
      })),
      changes: found.changesNow,
      unacknowledged: unaccepted.map((f) => ({ path: f.path, summary: sentence(unacceptedChange(f.label, f.state!)), since: f.state!.unacceptedSince })),
      ...(found.unreadable.length > 0 ? { unreadable: found.unreadable } : {}),
      ...(found.aborted ? { aborted: true } : {}),
    };
    const problems = found.unreadable.map((u) => `cannot read ${u.path}: ${u.error}`);
    if (unaccepted.length > 0) {
      const items = unaccepted.map((f) => {
        const since = f.state!.unacceptedSince ?? now;
        return sentence(unacceptedChange(f.label, f.state!), ago(now - since));
      });
      problems.unshift(`${items.join('; ')} (unacknowledged): /ack to accept`);
    }
    if (problems.length > 0) return { ok: false, message: problems.join('; '), details };

    const missingNote = missing.length > 0 ? ` (missing: ${missing.join(', ')})` : '';
    if (found.baselined.length === files.length) return { ok: true, message: `baseline taken of ${count(files.length, 'file')}${missingNote}`, details };
    const latest = watched
      .map((f) => f.state?.lastChange)
      .filter((c): c is { summary: string; at: number } => c != null)
      .sort((a, b) => b.at - a.at)[0];
    const base = latest
      ? `${count(files.length, 'file')} watched; last change ${ago(now - latest.at)}: ${latest.summary}`
      : `${count(files.length, 'file')} unchanged`;
    return { ok: true, message: `${base}${missingNote}`, details };
  }

  return {
    run: (ctx) =>
      serial(async () => {
        try {
          return await run(ctx);
        } catch (err) {
          return { ok: false, message: `could not look at the watched files: ${errorMessage(err)}` };
        }
      }),
    // What was last reported is what the operator saw, so that is what an ack accepts; a newer change is told anew.
    acknowledge: () =>
      serial(async () => {
        const s = loadState();
        for (const file of Object.values(s.files)) accept(file, file.seen);
        env.state.set(s);
      }),
  };
}

/** What happened to a file: `${label} ${happened}${what}`, "/srv/api/.env" "changed" ": DATABASE_URL changed". */
interface Change {
  label: string;
  happened: 'changed' | 'removed' | 'added' | 'is back';
  /** "", ": A removed, B changed", ", unchanged", ", changed: A changed". */
  what: string;
}

/** "config.yml changed", or with an age "config.yml changed 4m ago", ".env changed 4m ago: DATABASE_URL changed". */
function sentence(change: Change, age?: string): string {
  return `${change.label} ${change.happened}${age === undefined ? '' : ` ${age}`}${change.what}`;
}

/** "4m ago"; "just now" under a second (a clock step back counts as now). */
function ago(ms: number): string {
  return ms < 1000 ? 'just now' : `${formatDuration(ms)} ago`;
}

type Look = { kind: 'seen'; snapshot: Snapshot } | { kind: 'unreadable'; error: string } | { kind: 'changing' };

async function lookAt(path: string, salt: string, signal: AbortSignal): Promise<Look> {
  let before: Stats;
  try {
    before = await stat(path);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'seen', snapshot: { present: false, hash: null, keys: null } };
    return { kind: 'unreadable', error: code };
  }
  if (!before.isFile()) return { kind: 'unreadable', error: 'not a regular file' };
  try {
    let hash: string;
    let keys: Record<string, string> | null = null;
    if (before.size <= MAX_PARSED_BYTES) {
      const bytes = await readFile(path, { signal });
      hash = saltedHash(salt, bytes);
      const values = isKeyValueFile(path) ? envValues(bytes.toString('utf8')) : null;
      if (values) keys = Object.fromEntries([...values].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, saltedHash(salt, `${k}\0${v}`)]));
    } else {
      hash = await streamedHash(path, salt, signal);
    }
    const after = await stat(path);
    // Written while it was read: the next run sees it whole, rather than a half-written version counting as a change.
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ino !== before.ino) return { kind: 'changing' };
    return { kind: 'seen', snapshot: { present: true, hash, keys } };
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return { kind: 'changing' };
    return { kind: 'unreadable', error: codeOf(err) };
  }
}

/**
 * What differs between two versions, by key name for KEY=VALUE files;
 * undefined when nothing a reader of the file would see differs (only
 * comments, blank lines or quoting moved).
 */
function describeChange(label: string, was: Snapshot, now: Snapshot, lastPresent: Snapshot | null): Change | undefined {
  if (was.present && !now.present) return { label, happened: 'removed', what: '' };
  if (!was.present && now.present) {
    if (!lastPresent) return { label, happened: 'added', what: '' };
    const difference = differenceOf(lastPresent, now);
    return { label, happened: 'is back', what: difference === undefined ? ', unchanged' : `, changed${difference}` };
  }
  if (!was.present || !now.present) return undefined;
  const difference = differenceOf(was, now);
  return difference === undefined ? undefined : { label, happened: 'changed', what: difference };
}

/** "": it differs (no keys to name); ": A removed, B changed"; undefined: the same. */
function differenceOf(was: Snapshot, now: Snapshot): string | undefined {
  if (was.keys && now.keys) {
    const removed = Object.keys(was.keys).filter((k) => !Object.hasOwn(now.keys!, k));
    const added = Object.keys(now.keys).filter((k) => !Object.hasOwn(was.keys!, k));
    const changed = Object.keys(now.keys).filter((k) => Object.hasOwn(was.keys!, k) && was.keys![k] !== now.keys![k]);
    const words = [...removed.sort().map((k) => `${k} removed`), ...added.sort().map((k) => `${k} added`), ...changed.sort().map((k) => `${k} changed`)];
    if (words.length === 0) return undefined;
    const shown = words.length > LISTED_KEYS ? [...words.slice(0, LISTED_KEYS), `+${words.length - LISTED_KEYS} more`] : words;
    return `: ${shown.join(', ')}`;
  }
  return was.hash === now.hash ? undefined : '';
}

function sameContent(a: Snapshot, b: Snapshot): boolean {
  if (a.present !== b.present) return false;
  if (!a.present) return true;
  return differenceOf(a, b) === undefined;
}

/** `.env`, `.env.production`, `api.env`: read as KEY=VALUE when every line is one. */
function isKeyValueFile(path: string): boolean {
  const name = basename(path);
  return name === '.env' || name.startsWith('.env.') || name.endsWith('.env');
}

function saltedHash(salt: string, data: string | Buffer): string {
  return createHash('sha256').update(salt).update('\0').update(data).digest('hex');
}

async function streamedHash(path: string, salt: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256').update(salt).update('\0');
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The first 12 hex: enough to tell two versions apart. */
function fingerprint(hash: string): string {
  return hash.slice(0, 12);
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : errorMessage(err);
}
