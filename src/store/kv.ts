import type { Db } from './database.js';

/** Small named values kept across restarts. */
export class KeyValueStore {
  private readonly selectOne;
  private readonly upsert;

  constructor(db: Db) {
    this.selectOne = db.prepare<[string]>('SELECT value FROM kv WHERE key = ?');
    this.upsert = db.prepare<[string, string]>('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  get(key: string): string | undefined {
    return (this.selectOne.get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.upsert.run(key, value);
  }
}
