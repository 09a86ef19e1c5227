import type { AlertBoard, ReceivedAlert } from '../checks/types.js';
import type { Db } from './database.js';

/** One alert as Alertmanager's webhook sends it, already validated (times in ms; null when Alertmanager sent none). */
export interface IncomingAlert {
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: number | null;
  endsAt: number | null;
}

/** Resolved alerts are kept this long (for /status details and the event log's context), then dropped. */
const RESOLVED_KEEP_MS = 7 * 86_400_000;

/**
 * Alerts from Alertmanager, persisted: a restart of Nightshift forgets no
 * firing alert. The `alert` checks read it; a delivery tells the checks whose
 * matchers its alerts meet, so they run at once instead of at their next
 * patrol.
 */
export class AlertStore implements AlertBoard {
  private readonly upsert;
  private readonly selectFiring;
  private readonly pruneResolved;
  private readonly listeners: Array<{ wants: (labels: Record<string, string>) => boolean; onAlert: () => void; catchAll: boolean }> = [];

  constructor(private readonly db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO alerts (fingerprint, status, labels, annotations, starts_at, ends_at, group_key, received_at)
       VALUES (@fingerprint, @status, @labels, @annotations, @startsAt, @endsAt, @groupKey, @receivedAt)
       ON CONFLICT (fingerprint) DO UPDATE SET status = @status, labels = @labels, annotations = @annotations,
         starts_at = @startsAt, ends_at = @endsAt, group_key = @groupKey, received_at = @receivedAt`,
    );
    this.selectFiring = db.prepare<
      [],
      { fingerprint: string; labels: string; annotations: string; starts_at: number | null; group_key: string; received_at: number }
    >("SELECT fingerprint, labels, annotations, starts_at, group_key, received_at FROM alerts WHERE status = 'firing' ORDER BY starts_at, fingerprint");
    this.pruneResolved = db.prepare<[number]>("DELETE FROM alerts WHERE status = 'resolved' AND received_at < ?");
  }

  /** Stores one delivery (one Alertmanager group) in one transaction; returns how many listening checks it concerned. */
  receive(groupKey: string, alerts: readonly IncomingAlert[], at: number): number {
    this.db.transaction(() => {
      for (const alert of alerts) {
        this.upsert.run({
          fingerprint: alert.fingerprint,
          status: alert.status,
          labels: JSON.stringify(alert.labels),
          annotations: JSON.stringify(alert.annotations),
          startsAt: alert.startsAt,
          endsAt: alert.endsAt,
          groupKey,
          receivedAt: at,
        });
      }
      this.pruneResolved.run(at - RESOLVED_KEEP_MS);
    })();
    let told = 0;
    for (const listener of this.listeners) {
      if (alerts.some((a) => (listener.catchAll ? !this.claimed(a.labels) : listener.wants(a.labels)))) {
        told++;
        listener.onAlert();
      }
    }
    return told;
  }

  firing(): ReceivedAlert[] {
    return this.selectFiring.all().map((row) => ({
      fingerprint: row.fingerprint,
      labels: JSON.parse(row.labels) as Record<string, string>,
      annotations: JSON.parse(row.annotations) as Record<string, string>,
      startsAt: row.starts_at,
      groupKey: row.group_key,
      receivedAt: row.received_at,
    }));
  }

  listen(wants: (labels: Record<string, string>) => boolean, onAlert: () => void, catchAll = false): () => void {
    const listener = { wants, onAlert, catchAll };
    this.listeners.push(listener);
    // A check removed or changed by a reload stops listening: it no longer claims alerts another check should take.
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  claimed(labels: Record<string, string>): boolean {
    return this.listeners.some((l) => !l.catchAll && l.wants(labels));
  }

  /** Whether any configured check (a catch-all included) takes an alert with these labels. */
  isWanted(labels: Record<string, string>): boolean {
    return this.listeners.some((l) => l.wants(labels));
  }
}
