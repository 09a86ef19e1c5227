import type { Identity } from './channel.js';

export interface RefusalGateOptions {
  /** One answered (and recorded) refusal per person per window. */
  windowMs: number;
  /** At most this many recorded refusals per channel per window, whoever sends them. */
  perChannel: number;
  /**
   * Records a refusal that is answered: who, what, and how many refusals of
   * that person went unanswered since the last recorded one.
   */
  record: (from: Identity, what: string, suppressed: number) => void;
}

interface Window {
  startedAt: number;
  suppressed: number;
}

/**
 * Rate limit for refusals, so a stranger cannot flood the operator's
 * channel with replies or the database with rows: the first refusal of a
 * person within a window is answered and recorded; the rest are counted,
 * not answered, and their count goes into the next recorded refusal.
 */
export class RefusalGate {
  private readonly people = new Map<string, Window>();
  private readonly channels = new Map<string, Window & { recorded: number }>();
  /** Unanswered refusals per channel not yet written into a recorded one. */
  private readonly carried = new Map<string, number>();

  constructor(private readonly options: RefusalGateOptions) {}

  /** Notes a refusal at `now`; true when it should be answered (and it was recorded). */
  refuse(from: Identity, what: string, now: number): boolean {
    const key = `${from.channel}\u0000${from.userId}`;
    const person = this.people.get(key);
    if (person && now - person.startedAt < this.options.windowMs) {
      person.suppressed++;
      return false;
    }
    const channel = this.channelWindow(from.channel, now);
    if (channel.recorded >= this.options.perChannel) {
      // Many different strangers at once: count them on the channel, answer none.
      channel.suppressed++;
      return false;
    }
    channel.recorded++;
    const suppressed = (person?.suppressed ?? 0) + this.takeCarried(from.channel);
    this.people.set(key, { startedAt: now, suppressed: 0 });
    this.prune(now);
    this.options.record(from, what, suppressed);
    return true;
  }

  /** The channel's current window; a finished one hands its unanswered count on to the next record. */
  private channelWindow(name: string, now: number): Window & { recorded: number } {
    let window = this.channels.get(name);
    if (!window || now - window.startedAt >= this.options.windowMs) {
      if (window?.suppressed) this.carry(name, window.suppressed);
      window = { startedAt: now, suppressed: 0, recorded: 0 };
      this.channels.set(name, window);
    }
    return window;
  }

  private carry(channel: string, count: number): void {
    this.carried.set(channel, (this.carried.get(channel) ?? 0) + count);
  }

  private takeCarried(channel: string): number {
    const n = this.carried.get(channel) ?? 0;
    this.carried.delete(channel);
    return n;
  }

  /** Forgets finished windows (their counts are carried), so memory stays bounded whatever the number of strangers. */
  private prune(now: number): void {
    if (this.people.size < 1_000) return;
    for (const [key, window] of this.people) {
      if (now - window.startedAt < this.options.windowMs) continue;
      if (window.suppressed > 0) this.carry(key.split('\u0000')[0]!, window.suppressed);
      this.people.delete(key);
    }
  }
}
