/** One piece of periodic upkeep: a name (for the error report) and the work. */
export interface Chore {
  name: string;
  run(now: number): void;
}

/**
 * Runs small periodic upkeep (expiring questions, pruning update ids, event
 * retention) once a minute, each chore inside its own error boundary: a
 * chore that throws (a full disk) is reported and the others still run.
 */
export class Housekeeping {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly chores: readonly Chore[],
    private readonly options: { now: () => number; onError: (err: unknown, what: string) => void; everyMs?: number },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.runOnce(), this.options.everyMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Every chore, now. */
  runOnce(): void {
    const now = this.options.now();
    for (const chore of this.chores) {
      try {
        chore.run(now);
      } catch (err) {
        this.options.onError(err, `housekeeping: ${chore.name}`);
      }
    }
  }
}
