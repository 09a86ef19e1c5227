import type { Db } from './database.js';

/** Escalation task files written, at most one per check per day. */
export class EscalationStore {
  private readonly insert;
  private readonly selectDay;

  constructor(db: Db) {
    this.insert = db.prepare(
      'INSERT INTO escalations (at, check_name, incident_id, day, reason, file) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (check_name, day) DO NOTHING',
    );
    this.selectDay = db.prepare<[string, string]>('SELECT file FROM escalations WHERE check_name = ? AND day = ?');
  }

  /** Claims the day's escalation file for a check; false when one was already written that day. */
  claim(input: { at: number; checkName: string; incidentId: number; day: string; reason: string; file: string }): boolean {
    return this.insert.run(input.at, input.checkName, input.incidentId, input.day, input.reason, input.file).changes === 1;
  }

  fileFor(checkName: string, day: string): string | undefined {
    return (this.selectDay.get(checkName, day) as { file: string | null } | undefined)?.file ?? undefined;
  }
}
