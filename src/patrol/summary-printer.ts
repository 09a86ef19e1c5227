import type { Patrol } from './patrol.js';
import { summaryLine, type StatusSummary } from './summary.js';

/**
 * Prints the summary line on the bot's stdout once every check has run, and
 * again whenever it changes, at most once a second: building the summary
 * after every one of 1,000 check runs was the patrol's main cost.
 */
export class SummaryPrinter {
  private readonly ranOnce = new Set<string>();
  private lastPrinted = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    patrol: Patrol,
    private readonly checkCount: number,
    private readonly summary: () => StatusSummary,
    private readonly output: NodeJS.WritableStream,
  ) {
    patrol.on('result', ({ check }) => {
      this.ranOnce.add(check.name);
      if (this.ranOnce.size >= this.checkCount) this.printSoon();
    });
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private printSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const line = summaryLine(this.summary());
        if (line === this.lastPrinted) return;
        this.lastPrinted = line;
        this.output.write(`${line}\n`);
      },
      this.lastPrinted === '' ? 0 : 1_000,
    );
  }
}
