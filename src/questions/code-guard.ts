/** Wrong codes allowed from one place within the window before answers by code from there are locked. */
export const CODE_GUARD_DEFAULTS = { maxWrong: 5, windowMs: 15 * 60_000, lockMs: 30 * 60_000 };

export type WrongCodeVerdict = { locked: false } | { locked: true; until: number; wrongCodes: number; windowMs: number };

/**
 * Counts wrong one-time codes per sender (for ntfy, the reply topic: anyone
 * who can publish there). After `maxWrong` within `windowMs`, answers by code
 * from that sender are refused for `lockMs`. With 40-bit codes this makes
 * guessing hopeless; the lock is what turns an attempt into an alert.
 */
export class CodeGuard {
  private readonly wrongAt = new Map<string, number[]>();
  private readonly locks = new Map<string, number>();

  constructor(private readonly options: typeof CODE_GUARD_DEFAULTS = CODE_GUARD_DEFAULTS) {}

  /** When the sender's lock ends, or undefined when not locked. */
  lockedUntil(sender: string, now: number): number | undefined {
    const until = this.locks.get(sender);
    if (until === undefined) return undefined;
    if (until > now) return until;
    this.locks.delete(sender);
    return undefined;
  }

  /** Notes a wrong code; says whether it locked the sender out. */
  wrong(sender: string, now: number): WrongCodeVerdict {
    const recent = (this.wrongAt.get(sender) ?? []).filter((at) => now - at < this.options.windowMs);
    recent.push(now);
    if (recent.length < this.options.maxWrong) {
      this.wrongAt.set(sender, recent);
      return { locked: false };
    }
    this.wrongAt.delete(sender);
    const until = now + this.options.lockMs;
    this.locks.set(sender, until);
    return { locked: true, until, wrongCodes: recent.length, windowMs: this.options.windowMs };
  }
}
