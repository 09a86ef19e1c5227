import type { Db } from './database.js';

/** De-duplication of incoming updates and the channels' resume cursors. */
export class InboundStore {
  private readonly insertSeen;
  private readonly selectCursor;
  private readonly upsertCursor;
  private readonly pruneSeen;

  constructor(db: Db) {
    this.insertSeen = db.prepare('INSERT INTO seen_updates (channel, update_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    this.selectCursor = db.prepare<[string]>('SELECT value FROM cursors WHERE channel = ?');
    this.upsertCursor = db.prepare(
      'INSERT INTO cursors (channel, value, at) VALUES (?, ?, ?) ON CONFLICT (channel) DO UPDATE SET value = excluded.value, at = excluded.at',
    );
    this.pruneSeen = db.prepare('DELETE FROM seen_updates WHERE at < ?');
  }

  /** True (and recorded) the first time; false for an update already handled. */
  firstSeen(channel: string, updateId: string, at: number): boolean {
    return this.insertSeen.run(channel, updateId, at).changes === 1;
  }

  cursor(channel: string): string | undefined {
    return (this.selectCursor.get(channel) as { value: string } | undefined)?.value;
  }

  saveCursor(channel: string, value: string, at: number): void {
    this.upsertCursor.run(channel, value, at);
  }

  /** Forgets update ids older than `before` (platforms do not redeliver after days). */
  prune(before: number): void {
    this.pruneSeen.run(before);
  }
}

export interface SwitchRow {
  name: string;
  value: string;
  changedAt: number;
  changedBy: string;
  channel: string;
}

/** Named switches set from chat (surgery, consent answers); they survive restarts. */
export class SwitchStore {
  constructor(private readonly db: Db) {}

  get(name: string): SwitchRow | undefined {
    const r = this.db.prepare('SELECT * FROM switches WHERE name = ?').get(name) as Record<string, unknown> | undefined;
    return (
      r && {
        name: r.name as string,
        value: r.value as string,
        changedAt: r.changed_at as number,
        changedBy: r.changed_by as string,
        channel: r.channel as string,
      }
    );
  }

  set(name: string, value: string, by: string, channel: string, at: number): void {
    this.db
      .prepare(
        'INSERT INTO switches (name, value, changed_at, changed_by, channel) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at, changed_by = excluded.changed_by, channel = excluded.channel',
      )
      .run(name, value, at, by, channel);
  }
}

/** Single-use action tokens (ntfy buttons). */
export class UsedTokenStore {
  constructor(private readonly db: Db) {}

  /** Marks a token used; false when it already was. */
  use(tokenId: string, at: number): boolean {
    return this.db.prepare('INSERT INTO used_tokens (token_id, used_at) VALUES (?, ?) ON CONFLICT DO NOTHING').run(tokenId, at).changes === 1;
  }
}
