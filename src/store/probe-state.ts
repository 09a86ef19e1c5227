import type { ProbeState } from '../checks/types.js';
import type { Db } from './database.js';

/** Persisted JSON state per check's probe. */
export class ProbeStateStore {
  private readonly selectOne;
  private readonly upsert;

  constructor(db: Db) {
    this.selectOne = db.prepare<[string]>('SELECT value FROM probe_state WHERE check_name = ?');
    this.upsert = db.prepare<[string, string]>(
      'INSERT INTO probe_state (check_name, value) VALUES (?, ?) ON CONFLICT (check_name) DO UPDATE SET value = excluded.value',
    );
  }

  /** A handle for one check's state. */
  for(checkName: string): ProbeState {
    return {
      get: <T>() => {
        const row = this.selectOne.get(checkName) as { value: string } | undefined;
        return row ? (JSON.parse(row.value) as T) : undefined;
      },
      set: <T>(value: T) => {
        this.upsert.run(checkName, JSON.stringify(value ?? null));
      },
    };
  }
}
