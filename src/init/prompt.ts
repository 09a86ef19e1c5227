import { createInterface, type Interface } from 'node:readline';

/** The operator's answer to one yes/no question; `eof` when stdin ended before an answer. */
export type Answer = 'yes' | 'no' | 'eof';

/**
 * Yes/no questions on the terminal, one line each, read with readline from
 * any stream (a TTY, or a pipe in tests). An empty line takes the default;
 * once stdin has ended every question gets `eof`.
 */
export class Prompter {
  private readonly lines: string[] = [];
  private ended = false;
  private waiting: (() => void) | undefined;
  private readonly rl: Interface;

  constructor(
    input: NodeJS.ReadableStream,
    private readonly output: NodeJS.WritableStream,
  ) {
    this.rl = createInterface({ input, terminal: false });
    this.rl.on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    this.rl.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Asks until the answer is y, n or empty (the default, yes). */
  async ask(question: string): Promise<Answer> {
    for (;;) {
      this.output.write(`${question} [Y/n] `);
      const line = await this.nextLine();
      if (line === undefined) {
        this.output.write('\n');
        return 'eof';
      }
      const answer = line.trim().toLowerCase();
      if (answer === '' || answer === 'y' || answer === 'yes') return 'yes';
      if (answer === 'n' || answer === 'no') return 'no';
      this.output.write('Please answer y or n.\n');
    }
  }

  close(): void {
    this.rl.close();
  }

  private async nextLine(): Promise<string | undefined> {
    while (this.lines.length === 0 && !this.ended) await new Promise<void>((resolve) => (this.waiting = resolve));
    return this.lines.shift();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
