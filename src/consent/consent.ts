import { describeIdentity, type Identity } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/database.js';
import type { EventLog } from '../store/events.js';
import type { SwitchStore } from '../store/chat-state.js';
import { transition, type ConsentEvent, type ConsentState } from './transitions.js';

/** The two consents asked for once each. */
export type ConsentName = 'analysis' | 'auto-repair';
export const CONSENT_NAMES: readonly ConsentName[] = ['analysis', 'auto-repair'];

/** A consent's state and who brought it there, from where, when (absent while unasked). */
export interface ConsentRecord {
  state: ConsentState;
  changedBy?: string;
  channel?: string;
  changedAt?: number;
}

/** The surgery switch: enabled until someone disables it. */
export interface SurgeryRecord {
  enabled: boolean;
  changedBy?: string;
  channel?: string;
  changedAt?: number;
}

/** What /consent, /disable-surgery and /enable-surgery may do. */
export interface ConsentService {
  get(name: ConsentName): ConsentRecord;
  /** An admin's decision, whatever was asked: false (nothing changed) when the consent is already in that state. */
  set(name: ConsentName, on: boolean, by: Identity): boolean;
  surgery(): SurgeryRecord;
  /** Immediate and persisted; audited with who and where. */
  setSurgery(enabled: boolean, by: Identity): void;
}

/**
 * What Nightshift may do beyond Level 1, as the operator decided it, kept in
 * the store: the analysis and auto-repair consents (a persisted state
 * machine, see transitions.ts) and the surgery switch. Disabling surgery is
 * immediate from any operator on any channel and survives restarts;
 * re-enabling is for admins. Every change is an event: who, where, when.
 */
export class Consent implements ConsentService {
  private readonly surgeryListeners: Array<(enabled: boolean, by: Identity) => void> = [];

  constructor(
    private readonly db: Db,
    private readonly switches: SwitchStore,
    private readonly events: EventLog,
    private readonly clock: Clock,
  ) {}

  /** Told of every change of the surgery switch, after it is stored (the repairer cancels what has not been applied). */
  onSurgeryChanged(listener: (enabled: boolean, by: Identity) => void): void {
    this.surgeryListeners.push(listener);
  }

  get(name: ConsentName): ConsentRecord {
    const row = this.switches.get(`consent.${name}`);
    if (!row) return { state: 'unasked' };
    return { state: row.value as ConsentState, changedBy: row.changedBy, channel: row.channel, changedAt: row.changedAt };
  }

  granted(name: ConsentName): boolean {
    return this.get(name).state === 'granted';
  }

  set(name: ConsentName, on: boolean, by: Identity): boolean {
    return this.apply(name, on ? 'admin-on' : 'admin-off', describeIdentity(by), by.channel);
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

  surgery(): SurgeryRecord {
    const row = this.switches.get('surgery');
    if (!row) return { enabled: true };
    return { enabled: row.value === 'enabled', changedBy: row.changedBy, channel: row.channel, changedAt: row.changedAt };
  }

  setSurgery(enabled: boolean, by: Identity): void {
    const now = this.clock.now();
    const who = describeIdentity(by);
    this.switches.set('surgery', enabled ? 'enabled' : 'disabled', who, by.channel, now);
    this.events.append(now, 'surgery.changed', 'surgery', enabled ? 'info' : 'warning', { enabled, by: who, channel: by.channel });
    for (const listener of this.surgeryListeners) listener(enabled, by);
  }
}
