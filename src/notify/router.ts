import type { AlertSeverity, OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log/logger.js';
import type { EventLog } from '../store/events.js';
import type { KeyValueStore } from '../store/kv.js';
import { withinLocalHours } from '../util/local-time.js';
import type { Send, SendOptions } from './outbox.js';

/** What one channel receives (chat.routes.<channel>), as validated. */
export interface Route {
  severities: readonly AlertSeverity[];
  questions: boolean;
  briefings: boolean;
  sendResolved: boolean;
  quietHours?: { from: string; to: string; pierce: ReadonlyArray<'questions' | 'escalations' | 'critical'> } | undefined;
}

export interface RouterOptions {
  /** Channels without a route receive everything. */
  routes: Readonly<Record<string, Route | undefined>>;
  timezone: string;
  clock: Clock;
  events: EventLog;
  kv: KeyValueStore;
  log: Logger;
  /** The outbox: queues a message for the named channels. */
  enqueue: Send;
  /** Every channel the outbox delivers to. */
  channelNames: () => readonly string[];
}

/** What a channel does with one message. */
export type RouteVerdict = 'send' | 'hold' | 'skip';

const DIGEST_LIST = 10;

/**
 * The one place that decides which channel gets which message: each
 * channel's route says the severities it receives, whether it gets
 * questions, briefings and recoveries, and its quiet hours. During quiet
 * hours a message that does not pierce them is held (recorded as a
 * `notify.held` event, so it is audited and survives a restart) and the
 * channel gets one summary of what was held when they end.
 */
export class Router {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RouterOptions) {}

  /** Routes a message: what features call instead of the outbox. */
  readonly send: Send = (message, sendOptions: SendOptions = {}) => {
    const { clock, events, enqueue } = this.options;
    const now = clock.now();
    const deliver: string[] = [];
    for (const channel of sendOptions.channels ?? this.options.channelNames()) {
      const verdict = this.verdict(channel, message, now);
      if (verdict === 'send') deliver.push(channel);
      else if (verdict === 'hold')
        events.append(now, 'notify.held', channel, 'info', { channel, title: message.title, severity: message.severity, kind: kindOf(message) });
    }
    if (deliver.length > 0) enqueue(message, { ...sendOptions, channels: deliver });
  };

  /** What `channel` does with `message` at `now`. */
  verdict(channel: string, message: OutgoingMessage, now: number): RouteVerdict {
    const route = this.options.routes[channel];
    if (!route) return 'send';
    if (!receives(route, message)) return 'skip';
    const quiet = route.quietHours;
    if (quiet && withinLocalHours(now, this.options.timezone, quiet.from, quiet.to) && !pierces(quiet.pierce, message)) return 'hold';
    return 'send';
  }

  /** Checks every minute whether a channel's quiet hours ended with messages held. */
  start(): void {
    this.timer = setInterval(() => this.sendDigests(), 60_000);
    this.timer.unref();
    this.sendDigests();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** For each channel out of its quiet hours with held messages not yet summed up: one summary. */
  sendDigests(): void {
    const { clock, events, kv, timezone, enqueue, log } = this.options;
    const now = clock.now();
    for (const [channel, route] of Object.entries(this.options.routes)) {
      const quiet = route?.quietHours;
      if (!quiet || withinLocalHours(now, timezone, quiet.from, quiet.to)) continue;
      const key = `quiet.digested.${channel}`;
      const since = Number(kv.get(key) ?? 0);
      const held = events.ofType('notify.held', since).filter((e) => e.subject === channel);
      if (held.length === 0) continue;
      try {
        const titles = held.slice(0, DIGEST_LIST).map((e) => `• ${String(e.context.title)}`);
        if (held.length > DIGEST_LIST) titles.push(`and ${held.length - DIGEST_LIST} more`);
        const critical = held.some((e) => e.context.severity === 'critical');
        enqueue(
          {
            severity: critical ? 'warning' : 'info',
            title: `Quiet hours (${quiet.from}–${quiet.to}) are over: ${held.length} message${held.length === 1 ? ' was' : 's were'} held`,
            body: `${titles.join('\n')}\n/incidents shows what is still open`,
          },
          { key: `quiet-digest:${channel}:${held.at(-1)!.id}`, channels: [channel] },
        );
        kv.set(key, String(held.at(-1)!.at + 1));
      } catch (err) {
        log.error({ err, channel }, 'could not send the quiet-hours summary');
      }
    }
  }
}

function kindOf(message: OutgoingMessage): string {
  return message.question ? 'question' : (message.kind ?? 'alert');
}

function receives(route: Route, message: OutgoingMessage): boolean {
  if (message.question) return route.questions;
  switch (message.kind) {
    case 'briefing':
      return route.briefings;
    case 'recovery':
      return route.sendResolved && route.severities.includes(message.resolves ?? 'critical');
    default:
      return route.severities.includes(message.severity);
  }
}

function pierces(pierce: ReadonlyArray<'questions' | 'escalations' | 'critical'>, message: OutgoingMessage): boolean {
  if (message.question) return pierce.includes('questions');
  if (message.kind === 'escalation') return pierce.includes('escalations') || pierce.includes('critical');
  return message.severity === 'critical' && message.kind !== 'recovery' && message.kind !== 'briefing' && pierce.includes('critical');
}
