import type { Database } from 'better-sqlite3';

/**
 * Tables a chat message or request may not change without an authorised
 * identity, read whole: consent and surgery switches, silences, mutes and
 * acks (incidents), questions, proposals and approvals, repairs, regret
 * scores and flags, agent events, firing alerts, and the audit trail and
 * event log minus the rows a refusal itself leaves (documented: a refusal
 * is audited). Delivery bookkeeping (outbox, seen update ids, cursors) is
 * not state a person changes and is left out.
 */
const WATCHED_TABLES = ['kv', 'switches', 'silences', 'incidents', 'questions', 'proposals', 'repairs', 'actions', 'flags', 'alerts', 'used_tokens'] as const;

/** Event and audit types that an unauthorised attempt is documented to leave behind. */
const REFUSAL_TYPES = new Set(['chat.refused', 'chat.locked_out']);

export type StateSnapshot = Record<string, string>;

/** The state chat and HTTP can change, as comparable text per table. */
export function snapshotState(db: Database, options: { ignoreEventTypes?: readonly string[] } = {}): StateSnapshot {
  const ignored = new Set([...REFUSAL_TYPES, ...(options.ignoreEventTypes ?? [])]);
  const present = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name));
  const snapshot: StateSnapshot = {};
  for (const table of WATCHED_TABLES) {
    if (present.has(table)) snapshot[table] = JSON.stringify(db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all());
  }
  const events = db.prepare('SELECT type, subject, context FROM events ORDER BY id').all() as Array<{ type: string; subject: string; context: string }>;
  snapshot['events'] = JSON.stringify(events.filter((e) => !ignored.has(e.type)));
  const audit = db.prepare('SELECT * FROM audit ORDER BY rowid').all() as Array<Record<string, unknown>>;
  snapshot['audit'] = JSON.stringify(audit.filter((row) => !ignored.has(String(row['type']))));
  return snapshot;
}
