import type { Identity } from './channel.js';

export interface RefusalGateOptions {
  /** One answered (and recorded) refusal per person per window. */
  windowMs: number;
  /** At most this many recorded refusals per channel per window, whoever sends them. */
  perChannel: number;
  /**
   * Records a refusal that is answered: who, what, and how many refusals
   * went unanswered since the last recorded one (that person's, plus those
   * of the channel's crowd when its budget ran out).
   */
  record: (from: Identity, what: string, suppressed: number) => void;
}

/** A fixed window: when it started and how many it has counted. */
interface Window {
  startedAt: number;
  count: number;
}

/**
 * Rate limit for refusals, so a stranger cannot flood the operator's
 * channel with replies or the database with rows: the first refusal of a
 * person within a window is answered and recorded; the rest are counted,
 * not answered, and their count goes into the next recorded refusal.
 */
export class RefusalGate {
  /** Per person: unanswered refusals since the answered one that opened the window. */
  private readonly people = new Map<string, Window>();
  /** Per channel: refusals recorded in the window. */
  private readonly channels = new Map<string, Window>();
  /** Per channel: refusals dropped for its budget (or forgotten with a person), reported with the next record. */
  private readonly unreported = new Map<string, number>();

  constructor(private readonly options: RefusalGateOptions) {}

  /** Notes a refusal at `now`; true when it should be answered (and it was recorded). */
  refuse(from: Identity, what: string, now: number): boolean {
    const key = `${from.channel}\u0000${from.userId}`;
    const person = this.people.get(key);
    if (person && this.open(person, now)) {
      person.count++;
      return false;
    }
    let channel = this.channels.get(from.channel);
    if (!channel || !this.open(channel, now)) this.channels.set(from.channel, (channel = { startedAt: now, count: 0 }));
    if (channel.count >= this.options.perChannel) {
      // Many different strangers at once: count them on the channel, answer none.
      this.addUnreported(from.channel, 1);
      return false;
    }
    channel.count++;
    const suppressed = (person?.count ?? 0) + (this.unreported.get(from.channel) ?? 0);
    this.unreported.delete(from.channel);
    this.people.set(key, { startedAt: now, count: 0 });
    this.prune(now);
    this.options.record(from, what, suppressed);
    return true;
  }

  private open(window: Window, now: number): boolean {
    return now - window.startedAt < this.options.windowMs;
  }

  private addUnreported(channel: string, n: number): void {
    this.unreported.set(channel, (this.unreported.get(channel) ?? 0) + n);
  }

  /** Forgets finished windows (their counts go to their channel), so memory stays bounded whatever the number of strangers. */
  private prune(now: number): void {
    if (this.people.size < 1_000) return;
    for (const [key, window] of this.people) {
      if (this.open(window, now)) continue;
      if (window.count > 0) this.addUnreported(key.split('\u0000')[0]!, window.count);
      this.people.delete(key);
    }
  }
}
