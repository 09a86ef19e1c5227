import type { Invoker, Reply } from './command.js';

export type AlertSeverity = 'info' | 'warning' | 'critical';

/** A message Nightshift sends on its own: an alert, a recovery, a briefing. */
export interface OutgoingMessage {
  severity: AlertSeverity;
  title: string;
  body?: string;
}

/** What an adapter calls for every command it receives. */
export type CommandHandler = (text: string, invoker: Invoker) => Promise<Reply>;

/**
 * A chat channel: one module under adapters/. It translates platform events
 * into `handle` calls and internal messages into platform messages, and
 * holds no business logic.
 */
export interface ChatChannel {
  readonly name: string;
  start(handle: CommandHandler): Promise<void>;
  send(message: OutgoingMessage): Promise<void>;
  stop(): Promise<void>;
}
