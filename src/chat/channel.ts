export type AlertSeverity = 'info' | 'warning' | 'critical';

/** A question attached to a message: adapters render Approve/Reject buttons for it. */
export interface QuestionRef {
  /** Short id ("q7"), carried in button payloads. */
  questionId: string;
  /** One-time code shown in the message; an ntfy reply must carry it ("yes 4F7Q"). */
  code: string;
  yesLabel: string;
  noLabel: string;
  /**
   * Signed single-use URLs on Nightshift's HTTP server that answer the
   * question when POSTed (ntfy's `http` action buttons).
   */
  answerUrls?: { yes: string; no: string };
}

/** A message Nightshift sends on its own: an alert, a recovery, a question, a briefing. */
export interface OutgoingMessage {
  severity: AlertSeverity;
  /**
   * What it is, for routing (chat.routes): an alert (the default), a
   * recovery (`resolves`: the severity of what recovered), an escalation
   * ("needs you"), or a briefing/report. Questions are told by `question`.
   */
  kind?: 'alert' | 'recovery' | 'escalation' | 'briefing';
  resolves?: AlertSeverity;
  /** One line; on a phone this is what shows on the lock screen. */
  title: string;
  body?: string;
  question?: QuestionRef;
  /** A link the message opens (ntfy click URL). */
  url?: string;
  /**
   * Buttons on an alert that needs the operator (Ack, Silence 1 h, Heal now,
   * Diagnose). Pressing one runs its chat command as the person who pressed
   * it, with that person's role, exactly as if they had typed it.
   */
  actions?: readonly AlertAction[];
  /**
   * Signed single-use URLs on Nightshift's HTTP server, parallel to
   * `actions`, that run each button's command when POSTed (ntfy's `http`
   * action buttons); minted where the message is sent.
   */
  actionUrls?: readonly string[];
  /**
   * The loudest the platform allows (ntfy priority 5): an escalation re-sent
   * because nobody acknowledged it. Without it a critical message is high, not max.
   */
  urgent?: boolean;
}

/** A button that runs a short chat command ("/ack 12", "/silence web 1h"); at most 48 characters so it fits platform payload limits. */
export interface AlertAction {
  label: string;
  command: string;
}

/** What an alert button carries on a platform that returns a payload on press (Telegram callback_data, Discord custom_id): "cmd:/ack 12". */
export function actionButtonData(command: string): string {
  return `cmd:${command}`;
}

/** The command a pressed alert button carries; undefined for a payload that is not one (a question's button). */
export function commandOfButtonData(data: string): string | undefined {
  if (!data.startsWith('cmd:')) return undefined;
  const command = data.slice(4).trim();
  return command.startsWith('/') ? command : undefined;
}

/**
 * One delivery as the outbox asks for it. The key is the same for every
 * attempt of one message on one channel, across restarts: a platform that
 * deduplicates sends by a key (Discord's enforced nonce) turns the resend
 * after a crash between "sent" and "recorded" into no second message.
 */
export interface DeliveryAttempt {
  idempotencyKey: string;
}

/** What a platform returned for a delivered message. */
export interface Delivery {
  /** The platform's id of the message (Telegram message_id, Discord message id, ntfy id). */
  platformId?: string | undefined;
}

/**
 * A failed delivery, as adapters report it. `retryAfterMs` comes from a 429
 * (Discord `retry_after`, Telegram `parameters.retry_after`); `permanent`
 * (401/403: bad token, no access) stops retrying on that channel; `rejected`
 * (400: this message itself is invalid) drops this one message, so it does
 * not block the ones behind it.
 */
export class DeliveryError extends Error {
  readonly retryAfterMs: number | undefined;
  readonly permanent: boolean;
  readonly rejected: boolean;
  constructor(message: string, options: { retryAfterMs?: number | undefined; permanent?: boolean; rejected?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DeliveryError';
    this.retryAfterMs = options.retryAfterMs;
    this.permanent = options.permanent ?? false;
    this.rejected = options.rejected ?? false;
  }
}

/** What the bot answers to something a person sent; adapters render it for their platform. */
export interface Reply {
  text: string;
  /** A refusal or a usage error, which adapters may show privately. */
  kind?: 'answer' | 'usage' | 'refused' | 'error';
  /**
   * Send nothing back where the platform allows it: a stranger's refusal
   * that was already answered within the rate-limit window.
   */
  silent?: boolean;
}

/** Who sent something, as the platform identifies them; the core decides what they may do. */
export interface Identity {
  channel: string;
  userId: string;
  displayName?: string;
  /** The chat/channel/guild the message came from (Telegram chat id, Discord guild id). */
  chatId?: string;
  /**
   * The platform's groups the person belongs to, as its allow-lists name them
   * (a Discord member's role ids); each platform decides what they grant.
   */
  groups?: readonly string[];
}

/** "Alice (4242)": how a person is named in answers, audit rows and replies. */
export function describeIdentity(from: Pick<Identity, 'userId' | 'displayName'>): string {
  return from.displayName ? `${from.displayName} (${from.userId})` : from.userId;
}

/** How a platform points at the question being answered. */
export type AnswerTarget =
  /** A button press carrying the question id. */
  | { questionId: string }
  /** A reply to the message that asked (Telegram reply_to_message). */
  | { replyTo: string }
  /** A text reply carrying the one-time code (ntfy "yes 4F7Q"). */
  | { code: string };

/** What an adapter calls for everything it receives. */
export interface Inbound {
  /** A command ("/status", "/mute worker 2h"). */
  command(text: string, from: Identity): Promise<Reply>;
  /** An answer to a question: a button, a "yes"/"no" reply, an ntfy reply with its code. */
  answer(target: AnswerTarget, answer: 'yes' | 'no', from: Identity): Promise<Reply>;
  /** True the first time an update id is seen on this channel (and records it); false for a redelivery. */
  firstSeen(updateId: string): boolean;
  /** Where to resume reading (Telegram offset, ntfy message id), persisted. */
  cursor(): string | undefined;
  saveCursor(value: string): void;
}

/**
 * A chat channel: one module under adapters/. It translates platform events
 * into Inbound calls and OutgoingMessages into platform messages, and holds
 * no business logic, SQL or policy. A channel whose server is down keeps
 * retrying in the background and never blocks the others.
 */
export interface ChatChannel {
  readonly name: string;
  /** Connects and starts receiving; must not throw for a server that is down (retry in the background). */
  start(inbound: Inbound): Promise<void>;
  /** Delivers one message; throws DeliveryError on failure. A platform that deduplicates by a key may use the attempt's. */
  send(message: OutgoingMessage, attempt?: DeliveryAttempt): Promise<Delivery>;
  stop(): Promise<void>;
}

/** What an adapter calls for every command it receives (the console). */
export type CommandHandler = (text: string, from: Identity) => Promise<Reply>;

/** One line per command for platform menus, generated from the command list. */
export interface CommandSummary {
  name: string;
  description: string;
  usage: string;
  /** Positional arguments in order, for Discord slash options. */
  args: Array<{ name: string; description: string; required: boolean }>;
}
