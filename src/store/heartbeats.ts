import type { HeartbeatBoard, HeartbeatSnapshot } from '../checks/types.js';
import type { Db } from './database.js';

export type PingKind = 'ping' | 'start' | 'fail';

/** Pings received from jobs on /ping/<name>; persisted so a restart of Nightshift forgets none. */
export class HeartbeatStore implements HeartbeatBoard {
  private readonly selectOne;
  private readonly statements: Record<PingKind, ReturnType<Db['prepare']>>;

  constructor(db: Db) {
    this.selectOne = db.prepare<[string]>('SELECT * FROM heartbeats WHERE name = ?');
    this.statements = {
      ping: db.prepare(
        'INSERT INTO heartbeats (name, last_ping_at, pings) VALUES (@name, @at, 1) ON CONFLICT (name) DO UPDATE SET last_ping_at = @at, pings = pings + 1',
      ),
      start: db.prepare('INSERT INTO heartbeats (name, last_start_at) VALUES (@name, @at) ON CONFLICT (name) DO UPDATE SET last_start_at = @at'),
      fail: db.prepare(
        'INSERT INTO heartbeats (name, last_fail_at, last_fail_body) VALUES (@name, @at, @body) ON CONFLICT (name) DO UPDATE SET last_fail_at = @at, last_fail_body = @body',
      ),
    };
  }

  private readonly expected = new Map<string, Array<() => void>>();

  expect(name: string, onPing: () => void): () => void {
    this.expected.set(name, [...(this.expected.get(name) ?? []), onPing]);
    // A check removed by a reload stops expecting: its pings are refused (404) again unless another check waits for them.
    return () => {
      const rest = (this.expected.get(name) ?? []).filter((listener) => listener !== onPing);
      if (rest.length > 0) this.expected.set(name, rest);
      else this.expected.delete(name);
    };
  }

  /** Whether a check waits for this ping name. */
  isExpected(name: string): boolean {
    return this.expected.has(name);
  }

  /** Stores a ping and tells the checks that wait for it. */
  record(name: string, kind: PingKind, at: number, body = ''): void {
    this.statements[kind].run(kind === 'fail' ? { name, at, body: body.slice(0, 2000) } : { name, at });
    for (const onPing of this.expected.get(name) ?? []) onPing();
  }

  latest(name: string): HeartbeatSnapshot {
    const row = this.selectOne.get(name) as
      { last_ping_at: number | null; last_start_at: number | null; last_fail_at: number | null; last_fail_body: string | null } | undefined;
    if (!row) return {};
    const snapshot: HeartbeatSnapshot = {};
    if (row.last_ping_at !== null) snapshot.lastPingAt = row.last_ping_at;
    if (row.last_start_at !== null) snapshot.lastStartAt = row.last_start_at;
    if (row.last_fail_at !== null) snapshot.lastFailAt = row.last_fail_at;
    if (row.last_fail_body !== null) snapshot.lastFailBody = row.last_fail_body;
    return snapshot;
  }
}
