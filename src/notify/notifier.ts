import type { ChatChannel, OutgoingMessage } from '../chat/channel.js';
import type { Redactor } from '../log/redact.js';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../errors.js';

/**
 * Sends a message to every channel, each inside its own error boundary: a
 * channel that throws is logged and never stops the others. Every string is
 * redacted on its way out.
 */
export class Notifier {
  constructor(
    private readonly channels: () => readonly ChatChannel[],
    private readonly redactor: Redactor,
    private readonly log: Logger,
    private readonly onChannelFailed?: (channel: string, error: string) => void,
  ) {}

  async notify(message: OutgoingMessage): Promise<void> {
    const safe: OutgoingMessage = {
      severity: message.severity,
      title: this.redactor.redact(message.title),
      ...(message.body !== undefined ? { body: this.redactor.redact(message.body) } : {}),
    };
    await Promise.all(
      this.channels().map(async (channel) => {
        try {
          await channel.send(safe);
        } catch (err) {
          this.log.error({ err, channel: channel.name }, 'channel failed to send a message');
          this.onChannelFailed?.(channel.name, errorMessage(err));
        }
      }),
    );
  }
}
