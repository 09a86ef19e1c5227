import { createInterface, type Interface } from 'node:readline';
import { userInfo } from 'node:os';
import type { ChatChannel, CommandHandler, OutgoingMessage } from '../src/chat/channel.js';

const MARK: Record<OutgoingMessage['severity'], string> = { info: '[info]', warning: '[WARN]', critical: '[CRIT]' };

export interface ConsoleChannelOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Called when input ends (stdin closed, or /dev/null under a service manager). */
  onInputClosed?: () => void;
}

/**
 * The console channel: alerts go to stdout, and each line typed on stdin is
 * a command. Whoever can type into the bot's terminal already owns the
 * machine, so they act as admin. When stdin closes the bot keeps running.
 */
export class ConsoleChannel implements ChatChannel {
  readonly name = 'console';
  private reader: Interface | undefined;
  /** Lines are answered one after another, so replies come out in the order commands were typed. */
  private queue: Promise<void> = Promise.resolve();
  private readonly user = safeUserName();

  constructor(private readonly options: ConsoleChannelOptions) {}

  async start(handle: CommandHandler): Promise<void> {
    const reader = createInterface({ input: this.options.input, terminal: false });
    this.reader = reader;
    reader.on('line', (line) => {
      const text = line.trim();
      if (!text) return;
      this.queue = this.queue.then(() =>
        handle(text, { channel: 'console', userId: this.user, role: 'admin' }).then(
          (reply) => this.write(reply.text),
          // The dispatcher has its own boundary; this only guards against a handler bug.
          (err: unknown) => this.write(`error: ${String(err)}`),
        ),
      );
    });
    reader.on('close', () => this.options.onInputClosed?.());
  }

  async send(message: OutgoingMessage): Promise<void> {
    this.write(`${MARK[message.severity]} ${message.title}${message.body ? `\n${message.body}` : ''}`);
  }

  async stop(): Promise<void> {
    this.reader?.close();
  }

  private write(text: string): void {
    this.options.output.write(`${text}\n`);
  }
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'console';
  }
}
