import { errorMessage } from '../errors.js';
import type { ChatChannel, Inbound, Reply } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log/logger.js';
import type { Redactor } from '../log/redact.js';
import type { Outbox } from '../notify/outbox.js';
import type { Questions } from '../questions/questions.js';
import type { InboundStore } from '../store/chat-state.js';
import type { EventLog } from '../store/events.js';
import type { Dispatcher } from './dispatch.js';

export interface ChannelWiring {
  dispatcher: Dispatcher;
  questions: Questions;
  /** Incoming update ids (dedup) and resume cursors, per channel. */
  inbound: InboundStore;
  outbox: Outbox;
  redactor: Redactor;
  events: EventLog;
  clock: Clock;
  log: Logger;
}

/**
 * Connects each channel to the bot: what it receives goes to the dispatcher
 * (commands) or the questions (answers), deduplicated by update id and
 * resumed from its persisted cursor; every reply passes the redactor; then
 * the outbox delivers to it. Fail-open: a channel that cannot start is
 * logged and recorded, and the others carry on.
 */
export async function connectChannels(channels: readonly ChatChannel[], wiring: ChannelWiring): Promise<void> {
  for (const channel of channels) {
    try {
      await channel.start(inboundFor(channel.name, wiring));
    } catch (err) {
      wiring.log.error({ err, channel: channel.name }, 'channel failed to start');
      wiring.events.append(wiring.clock.now(), 'channel.failed', channel.name, 'warning', { channel: channel.name, error: errorMessage(err) });
    }
    wiring.outbox.add(channel);
  }
}

/** What one channel calls for everything it receives. */
function inboundFor(channel: string, { dispatcher, questions, inbound, redactor, clock }: ChannelWiring): Inbound {
  const redactReply = (reply: Reply): Reply => ({ ...reply, text: redactor.redact(reply.text) });
  return {
    command: async (text, from) => redactReply(await dispatcher.dispatch(text, from)),
    answer: async (target, answer, from) => redactReply(questions.answer(target, answer, from)),
    firstSeen: (updateId) => inbound.firstSeen(channel, updateId, clock.now()),
    cursor: () => inbound.cursor(channel),
    saveCursor: (value) => inbound.saveCursor(channel, value, clock.now()),
  };
}
