import type { Clock } from '../clock.js';
import type { Db } from '../store/database.js';
import type { EventLog } from '../store/events.js';
import type { SwitchStore } from '../store/chat-state.js';
import { transition, type ConsentEvent, type ConsentState } from './transitions.js';

/** The two consents asked for once each. */
export type ConsentName = 'analysis' | 'auto-repair';
export const CONSENT_NAMES: readonly ConsentName[] = ['analysis', 'auto-repair'];

export interface ConsentRecord {
  state: ConsentState;
  changedBy?: string;
  channel?: string;
  changedAt?: number;
}

/**
 * What Nightshift may do beyond Level 1, as the operator decided it, kept in
 * the store: the analysis and auto-repair consents (a persisted state
 * machine, see transitions.ts) and the surgery switch. Disabling surgery is
 * immediate from any operator on any channel and survives restarts;
 * re-enabling is for admins. Every change is an event: who, where, when.
 */
export class Consent {
  constructor(
    private readonly db: Db,
    private readonly switches: SwitchStore,
    private readonly events: EventLog,
    private readonly clock: Clock,
  ) {}

  get(name: ConsentName): ConsentRecord {
    const row = this.switches.get(`consent.${name}`);
    if (!row) return { state: 'unasked' };
    return { state: row.value as ConsentState, changedBy: row.changedBy, channel: row.channel, changedAt: row.changedAt };
  }

  granted(name: ConsentName): boolean {
    return this.get(name).state === 'granted';
  }

  /**
   * Applies an event; false (and nothing written) when the table refuses it.
   * `then` runs in the same transaction (the question asked with the "ask").
   */
  apply(name: ConsentName, event: ConsentEvent, by: string, channel: string, then?: () => void): boolean {
    return this.db.transaction(() => {
      const from = this.get(name).state;
      const to = transition(from, event);
      if (to === null) return false;
      const now = this.clock.now();
      this.switches.set(`consent.${name}`, to, by, channel, now);
      this.events.append(now, 'consent.changed', `consent.${name}`, 'info', { name, from, to, event, by, channel });
      then?.();
      return true;
    })();
  }

  surgery(): { enabled: boolean; changedBy?: string; channel?: string; changedAt?: number } {
    const row = this.switches.get('surgery');
    if (!row) return { enabled: true };
    return { enabled: row.value === 'enabled', changedBy: row.changedBy, channel: row.channel, changedAt: row.changedAt };
  }

  setSurgery(enabled: boolean, by: string, channel: string): void {
    const now = this.clock.now();
    this.switches.set('surgery', enabled ? 'enabled' : 'disabled', by, channel, now);
    this.events.append(now, 'surgery.changed', 'surgery', enabled ? 'info' : 'warning', { enabled, by, channel });
  }

  /** One line per consent, for /consent. */
  describe(): string[] {
    const line = (label: string, record: ConsentRecord, hint: string) =>
      `${label}: ${record.state}${record.changedBy ? ` (by ${record.changedBy} on ${record.channel}, ${new Date(record.changedAt!).toISOString()})` : ` (${hint})`}`;
    const surgery = this.surgery();
    return [
      line('analysis', this.get('analysis'), 'asked after repeated critical failures'),
      line('auto-repair', this.get('auto-repair'), 'asked after the first diagnosis that proposes a fix'),
      `surgery: ${surgery.enabled ? 'enabled' : 'disabled'}${surgery.changedBy ? ` (by ${surgery.changedBy} on ${surgery.channel}, ${new Date(surgery.changedAt!).toISOString()})` : ''}`,
    ];
  }
}
