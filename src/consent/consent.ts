import type { Clock } from '../clock.js';
import type { EventLog } from '../store/events.js';
import type { SwitchStore } from '../store/chat-state.js';

/**
 * What Nightshift may do beyond Level 1, as the operator decided it. For now:
 * surgery (self-repair) enabled or disabled. Disabling is immediate from any
 * operator on any channel and survives restarts; re-enabling is for admins.
 */
export class Consent {
  constructor(
    private readonly switches: SwitchStore,
    private readonly events: EventLog,
    private readonly clock: Clock,
  ) {}

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
    const surgery = this.surgery();
    const who = surgery.changedBy ? ` (by ${surgery.changedBy} on ${surgery.channel}, ${new Date(surgery.changedAt!).toISOString()})` : '';
    return [
      'analysis: unasked (asked after repeated critical failures)',
      'auto-repair: unasked (asked after the first diagnosis that proposes a fix)',
      `surgery: ${surgery.enabled ? 'enabled' : 'disabled'}${who}`,
    ];
  }
}
