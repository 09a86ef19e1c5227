import { createInterface, type Interface } from 'node:readline';
import { userInfo } from 'node:os';
import type { ChatChannel, Delivery, Identity, Inbound, OutgoingMessage } from '../src/chat/channel.js';

const MARK: Record<OutgoingMessage['severity'], string> = { info: '[info]', warning: '[WARN]', critical: '[CRIT]' };
const ANSWER = /^(yes|no|y|n)\s+([A-Za-z0-9]{4,16})$/i;

export interface ConsoleChannelOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Called when input ends (stdin closed, or /dev/null under a service manager). */
  onInputClosed?: () => void;
}

/**
 * The console channel: messages go to stdout, and each line typed on stdin is
 * a command, or "yes CODE" / "no CODE" to answer a question. Whoever can type
 * into the bot's terminal already owns the machine. When stdin closes the bot
 * keeps running.
 */
export class ConsoleChannel implements ChatChannel {
  readonly name = 'console';
  private reader: Interface | undefined;
  private readonly user = safeUserName();
  /** Lines are answered one after another, so replies come out in the order commands were typed. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: ConsoleChannelOptions) {}

  async start(inbound: Inbound): Promise<void> {
    const reader = createInterface({ input: this.options.input, terminal: false });
    this.reader = reader;
    const from: Identity = { channel: 'console', userId: this.user };
    reader.on('line', (line) => {
      const text = line.trim();
      if (!text) return;
      const answer = ANSWER.exec(text);
      const handled = answer
        ? inbound.answer({ code: answer[2]! }, answer[1]!.toLowerCase().startsWith('y') ? 'yes' : 'no', from)
        : inbound.command(text, from);
      this.queue = this.queue.then(() =>
        handled.then(
          (reply) => this.write(reply.text),
          // The core has its own error boundary; this only guards against a bug in it.
          (err: unknown) => this.write(`error: ${String(err)}`),
        ),
      );
    });
    reader.on('close', () => this.options.onInputClosed?.());
  }

  async send(message: OutgoingMessage): Promise<Delivery> {
    const question = message.question ? `\n  answer: "yes ${message.question.code}" or "no ${message.question.code}"` : '';
    this.write(`${MARK[message.severity]} ${message.title}${message.body ? `\n${message.body}` : ''}${question}`);
    return {};
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
