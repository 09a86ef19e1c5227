import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { inert } from '../../adapters/discord.js';
import type { OutgoingMessage } from '../../src/chat/channel.js';
import { clip } from '../../src/util/text.js';
import type { FakeDiscord } from '../../test/fakes/discord/server.js';
import type { FakeNtfyServer } from '../../test/fakes/ntfy/server.js';
import type { FakeTelegram } from '../../test/fakes/telegram/server.js';
import { BUGGY_LIB, FIXED_LIB, gitIn, snapshot } from '../../test/helpers/repair.js';
import type { Posted } from './chaos-load.js';

/** Reads the bot's database (read-only: safe while the bot runs, WAL mode). */
export function query<T>(dbFile: string, sql: string, ...params: unknown[]): T[] {
  if (!existsSync(dbFile)) return [];
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export interface StoredOnce {
  accepted: number;
  /** Accepted (answered 2xx) but not in the database. */
  lost: number;
  /** Accepted once, stored more than once. */
  duplicated: number;
}

/** Every accepted report is in the event log exactly once: an alert delivery by its group key, an agent report by its chaosId. */
export function storedOnce(dbFile: string, posted: readonly Posted[]): StoredOnce {
  const counts = new Map<string, number>();
  const rows = query<{ id: string | null }>(
    dbFile,
    `SELECT json_extract(context, '$.groupKey') AS id FROM events WHERE type = 'alert.received'
     UNION ALL SELECT json_extract(context, '$.context.chaosId') AS id FROM events WHERE type IN ('agent.action', 'agent.error')`,
  );
  for (const { id } of rows) if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  const accepted = posted.filter((p) => p.accepted);
  return {
    accepted: accepted.length,
    lost: accepted.filter((p) => !counts.has(p.id)).length,
    duplicated: accepted.filter((p) => (counts.get(p.id) ?? 0) > 1).length,
  };
}

export interface OutboxFigures {
  queued: number;
  delivered: number;
  undelivered: number;
  duplicatedOnIdempotentChannel: number;
  duplicatedOnOthers: { telegram: number; ntfy: number };
}

export interface ChatFakes {
  telegram: FakeTelegram;
  discord: FakeDiscord;
  ntfy: FakeNtfyServer;
  ntfyTopic: string;
}

/**
 * Outbox rows against what each fake received, by title (as each adapter
 * renders it): per channel and title, the rows queued and the messages that
 * arrived. Fewer arrived: undelivered; more: sent twice (at-least-once after
 * a kill between the platform's answer and the row marked sent).
 */
export function outboxFigures(dbFile: string, fakes: ChatFakes): OutboxFigures {
  const rows = query<{ channel: string; payload: string }>(dbFile, 'SELECT channel, payload FROM outbox');
  const received: Record<string, string[]> = {
    discord: fakes.discord.messages().map((m) => m.embeds[0]?.title ?? ''),
    // "🔴 title" on the first line: the severity mark, then the title.
    telegram: fakes.telegram.sent().map((m) => (m.text ?? '').split('\n')[0]!.replace(/^\S+ /, '')),
    ntfy: fakes.ntfy.messages(fakes.ntfyTopic).map((m) => m.title ?? ''),
  };
  const titleOn: Record<string, (m: OutgoingMessage) => string> = {
    discord: (m) => clip(inert(m.title), 256),
    telegram: (m) => clip(m.title, 512),
    ntfy: (m) => m.title,
  };
  const figures: OutboxFigures = { queued: 0, delivered: 0, undelivered: 0, duplicatedOnIdempotentChannel: 0, duplicatedOnOthers: { telegram: 0, ntfy: 0 } };
  for (const channel of Object.keys(received)) {
    const queued = tally(rows.filter((r) => r.channel === channel).map((r) => titleOn[channel]!(JSON.parse(r.payload) as OutgoingMessage)));
    const arrived = tally(received[channel]!);
    for (const [title, n] of queued) {
      const got = arrived.get(title) ?? 0;
      figures.queued += n;
      figures.delivered += Math.min(n, got);
      figures.undelivered += Math.max(0, n - got);
      const twice = Math.max(0, got - n);
      if (channel === 'discord') figures.duplicatedOnIdempotentChannel += twice;
      else figures.duplicatedOnOthers[channel as 'telegram' | 'ntfy'] += twice;
    }
  }
  return figures;
}

function tally(items: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

export interface RepairFigures {
  repairs: number;
  committed: number;
  /** By how each repair ended. */
  states: Record<string, number>;
  /** A repair started, applied or committed more than once. */
  appliedTwice: number;
  /** Left unfinished or unrestorable, or a target that is neither the original nor the repaired version. */
  halfApplied: number;
  problems: string[];
}

const FINISHED = new Set(['committed', 'rolled-back', 'cancelled', 'interrupted']);

/**
 * No repair ran twice (one repair.started, at most one successful apply
 * step, at most one commit carrying its trailer), none is left half done
 * (every repair finished, none restore-failed), and the target is the
 * original or the repaired version: every file but lib.mjs byte-identical to
 * the start, lib.mjs one of the two versions and committed, git's view of
 * the uncommitted state (staged, unstaged, untracked, ignored) as it was.
 */
export function repairFigures(dbFile: string, repo: string, before: { files: Record<string, string>; status: string }): RepairFigures {
  const problems: string[] = [];
  const repairs = query<{ id: string; state: string; finished_at: number | null; commit_sha: string | null }>(
    dbFile,
    'SELECT id, state, finished_at, commit_sha FROM repairs',
  );
  const perRepair = (sql: string) => tally(query<{ id: string }>(dbFile, sql).map((r) => r.id));
  const started = perRepair("SELECT json_extract(context, '$.repairId') AS id FROM events WHERE type = 'repair.started'");
  const applied = perRepair(
    "SELECT json_extract(context, '$.repairId') AS id FROM events WHERE type = 'repair.step' AND json_extract(context, '$.step') = 'apply' AND json_extract(context, '$.ok')",
  );
  const trailers = tally([...gitIn(repo, 'log', '--format=%B', 'HEAD').matchAll(/^Nightshift-Repair: (\S+)$/gm)].map((m) => m[1]!));
  let appliedTwice = 0;
  let halfApplied = 0;
  const states: Record<string, number> = {};
  for (const repair of repairs) {
    states[repair.state] = (states[repair.state] ?? 0) + 1;
    const twice = [started, applied, trailers].some((counts) => (counts.get(repair.id) ?? 0) > 1);
    if (twice) {
      appliedTwice++;
      problems.push(
        `repair ${repair.id} ran more than once (started ${started.get(repair.id) ?? 0}, applied ${applied.get(repair.id) ?? 0}, commits ${trailers.get(repair.id) ?? 0})`,
      );
    }
    if (!FINISHED.has(repair.state) || repair.finished_at === null) {
      halfApplied++;
      problems.push(`repair ${repair.id} is left ${repair.state}${repair.finished_at === null ? ' (unfinished)' : ''}`);
    }
  }
  const now = snapshot(repo);
  const lib = readFileSync(join(repo, 'lib.mjs'), 'utf8');
  const sameElsewhere = JSON.stringify({ ...now, 'lib.mjs': '' }) === JSON.stringify({ ...before.files, 'lib.mjs': '' });
  const libKnown = lib === BUGGY_LIB || lib === FIXED_LIB;
  const libCommitted = gitIn(repo, 'show', 'HEAD:lib.mjs') === lib.trimEnd();
  const status = gitStatus(repo);
  if (!sameElsewhere || !libKnown || !libCommitted || status !== before.status) {
    halfApplied++;
    problems.push(
      `the target is neither the original nor the repaired version: ${[
        sameElsewhere ? '' : 'files other than lib.mjs changed',
        libKnown ? '' : 'lib.mjs is neither the buggy nor the fixed version',
        libCommitted ? '' : 'lib.mjs differs from HEAD',
        status === before.status ? '' : `git status changed:\n${status}`,
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
  }
  return { repairs: repairs.length, committed: states.committed ?? 0, states, appliedTwice, halfApplied, problems };
}

/** What git says of the uncommitted state (HEAD may move: repairs commit, the developer reverts). */
export function gitStatus(repo: string): string {
  return [gitIn(repo, 'status', '--porcelain=v1', '--untracked-files=all', '--ignored'), gitIn(repo, 'diff', '--cached')].join('\n---\n');
}

/** The consent switches as stored: analysis and auto-repair states (unasked until set), surgery enabled (until disabled) or disabled. */
export function storedConsent(dbFile: string): Record<string, string> {
  const stored = query<{ name: string; value: string }>(
    dbFile,
    "SELECT name, value FROM switches WHERE name IN ('consent.analysis', 'consent.auto-repair', 'surgery')",
  );
  return { 'consent.analysis': 'unasked', 'consent.auto-repair': 'unasked', surgery: 'enabled', ...Object.fromEntries(stored.map((r) => [r.name, r.value])) };
}
