import { performance } from 'node:perf_hooks';
import type { Logger } from '../src/log/logger.js';
import { sleep } from '../src/util/abort.js';
import { describeNetworkError } from '../src/util/network.js';
import { errorMessage } from '../src/errors.js';
import {
  DeliveryError,
  type AlertSeverity,
  type ChatChannel,
  type CommandSummary,
  type Delivery,
  type Identity,
  type Inbound,
  type OutgoingMessage,
} from '../src/chat/channel.js';
import type { Reply } from '../src/chat/channel.js';
import { ntfySender } from '../src/chat/platforms/ntfy.js';

/** ntfy priorities: 5 "max" buzzes through Do Not Disturb on most phones, 3 is the default. */
const PRIORITY: Record<AlertSeverity, number> = { critical: 4, warning: 3, info: 2 };
/** ntfy's max priority (a long vibration that pierces Do Not Disturb where the phone allows it): kept for what needs someone now. */
const PRIORITY_MAX = 5;
/** ntfy allows at most this many action buttons on a message. */
const MAX_ACTIONS = 3;
/** An answer to what the operator just sent: ntfy's default. */
const REPLY_PRIORITY = 3;

/**
 * The priority follows what the message is, not only its check's severity:
 * an escalation ("needs you") and a re-sent, unacknowledged one (urgent) are
 * max; a critical alert is high; warnings default; recoveries and info low
 * (no sound).
 */
function priorityOf(message: OutgoingMessage): number {
  if (message.urgent || (message.kind === 'escalation' && message.severity === 'critical')) return PRIORITY_MAX;
  if (message.kind === 'recovery' || message.kind === 'briefing') return PRIORITY.info;
  return PRIORITY[message.severity];
}
/** ntfy turns these tag names into emoji in front of the title. */
const TAGS: Record<AlertSeverity, string[]> = { critical: ['rotating_light'], warning: ['warning'], info: ['white_check_mark'] };

/** ntfy sends a keepalive every 45 s by default; two missed ones (plus slack) mean the stream is dead. */
const DEFAULT_IDLE_TIMEOUT_MS = 100_000;
const DEFAULT_RECONNECT = { baseMs: 1_000, maxMs: 60_000 };
/** A connection that stayed up this long was healthy: the next reconnect starts again from baseMs. */
const DEFAULT_HEALTHY_AFTER_MS = 30_000;
const DEFAULT_PUBLISH_TIMEOUT_MS = 15_000;
/** ntfy turns a message over 4096 bytes into an attachment (or refuses it); we cut it short instead, with room for JSON escaping. */
const MAX_MESSAGE_BYTES = 3_900;
/** A "line" this long means we are not talking to ntfy. */
const MAX_LINE_CHARS = 256 * 1024;
/**
 * The persisted cursor when the reply topic's cache was empty the first time
 * we looked: everything ntfy caches from then on is new to us. `since=all`
 * compares no clocks, so it is as safe as a message id.
 */
const SINCE_ALL = 'all';

export interface NtfyChannelOptions {
  /** Server base URL, e.g. https://ntfy.sh or http://127.0.0.1:2586. */
  url: string;
  /** Topic Nightshift publishes to (the operator's phone subscribes to it). */
  topic: string;
  /** Topic the operator replies on; without it the channel only sends. Must differ from `topic`. */
  replyTopic?: string;
  /** Access token (tk_...), sent as `Authorization: Bearer`. */
  token?: string | undefined;
  /** The command list; its names are the words a reply may start with. */
  commands: CommandSummary[];
  log: Logger;
  /** Delay between reconnects: baseMs, doubling up to maxMs (default 1 s → 60 s). */
  reconnect?: { baseMs: number; maxMs: number; healthyAfterMs?: number };
  /** A stream that sends nothing (not even a keepalive) for this long is replaced (default 100 s). */
  idleTimeoutMs?: number;
  /** Deadline for one publish (default 15 s). */
  publishTimeoutMs?: number;
  /** The fetch to use (Node's global fetch by default). */
  fetch?: typeof fetch;
}

/** What an operator's reply on the reply topic asks for. */
export type NtfyReply =
  | { kind: 'answer'; answer: 'yes' | 'no'; code: string }
  | { kind: 'command'; text: string }
  | { kind: 'missing-code'; answer: 'yes' | 'no' }
  | { kind: 'unknown' };

const ANSWER_WORDS: Record<string, 'yes' | 'no'> = { yes: 'yes', y: 'yes', approve: 'yes', no: 'no', n: 'no', reject: 'no' };

/**
 * Parses one reply typed on the phone: "yes 4F7Q" / "n 4f7q" / "approve 4F7Q"
 * answer a question by its one-time code (upper-cased); "status",
 * "/status" or "mute worker 2h" run the command of that name; anything else
 * is unknown.
 */
export function parseNtfyReply(text: string, commandNames: readonly string[]): NtfyReply {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const first = words[0]?.toLowerCase();
  if (first === undefined) return { kind: 'unknown' };
  const answer = ANSWER_WORDS[first];
  if (answer !== undefined) {
    if (words.length === 2 && /^[A-Za-z0-9]{2,16}$/.test(words[1]!)) return { kind: 'answer', answer, code: words[1]!.toUpperCase() };
    if (words.length === 1) return { kind: 'missing-code', answer };
  }
  const name = first.replace(/^\//, '');
  const known = commandNames.find((c) => c.toLowerCase() === name);
  if (known !== undefined) return { kind: 'command', text: ['/' + known, ...words.slice(1)].join(' ') };
  return { kind: 'unknown' };
}

/** One event of ntfy's JSON stream. */
interface StreamEvent {
  id: string;
  event: string;
  topic?: string | undefined;
  message?: string | undefined;
}

/**
 * The ntfy channel, spoken with Node's fetch. Messages are published as
 * JSON (priority and emoji tags from the severity; Approve/Reject `http`
 * action buttons that POST the question's signed answer URLs). Replies are
 * read from a streaming subscription to the reply topic, resumed by message
 * id after every drop, restart or idle stream, never by wall-clock time.
 * ntfy has no user ids: every reply comes from `ntfy:<replyTopic>`, and the
 * core trusts it only through the one-time code of the question.
 */
export class NtfyChannel implements ChatChannel {
  readonly name = 'ntfy';
  private readonly base: string;
  private readonly log: Logger;
  private readonly fetch: typeof fetch;
  private readonly reconnect: { baseMs: number; maxMs: number; healthyAfterMs: number };
  private readonly idleTimeoutMs: number;
  private readonly commandNames: string[];
  /** Aborts the current stream and any backoff wait when stop() is called. */
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  /** Where the next subscription resumes: a message id, SINCE_ALL, or undefined before the first look at the topic. */
  private since: string | undefined;

  constructor(private readonly options: NtfyChannelOptions) {
    if (options.replyTopic !== undefined && options.replyTopic === options.topic) {
      // Replies to commands go to `topic`; reading the same topic would answer our own messages forever.
      throw new Error('ntfy: replyTopic must differ from topic');
    }
    this.base = options.url.replace(/\/+$/, '');
    this.log = options.log.child({ channel: 'ntfy' });
    this.fetch = options.fetch ?? globalThis.fetch;
    this.reconnect = { ...DEFAULT_RECONNECT, healthyAfterMs: DEFAULT_HEALTHY_AFTER_MS, ...options.reconnect };
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.commandNames = options.commands.map((c) => c.name);
  }

  /** Starts reading replies in the background (when a reply topic is set); never throws and never waits for the server. */
  async start(inbound: Inbound): Promise<void> {
    if (this.options.replyTopic === undefined || this.loop !== undefined || this.stopping.signal.aborted) return;
    this.since = inbound.cursor();
    this.loop = this.subscribeForever(this.options.replyTopic, inbound).catch((err: unknown) => {
      // The loop handles its own errors; reaching here is a bug, and the other channels must carry on.
      this.log.error({ err }, 'ntfy reply loop crashed; replies are no longer read');
    });
  }

  /** Publishes one message; throws DeliveryError (429 → retryAfterMs from Retry-After, 401/403 → permanent). */
  async send(message: OutgoingMessage): Promise<Delivery> {
    return this.publish(this.payload(message));
  }

  /** Stops reading replies: aborts the open stream or the backoff wait at once. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private payload(message: OutgoingMessage): Record<string, unknown> {
    const lines = [message.body ?? ''];
    const question = message.question;
    if (question) {
      const replyTopic = this.options.replyTopic;
      lines.push(replyTopic !== undefined ? `Reply "yes ${question.code}" or "no ${question.code}" on ${replyTopic}` : `Code ${question.code}`);
    }
    const payload: Record<string, unknown> = {
      topic: this.options.topic,
      title: message.title,
      message: truncateUtf8(lines.filter(Boolean).join('\n\n') || message.title, MAX_MESSAGE_BYTES),
      priority: priorityOf(message),
      tags: TAGS[message.severity],
    };
    if (message.url) payload.click = message.url;
    const actions: Array<Record<string, unknown>> = [];
    if (question?.answerUrls) {
      actions.push(
        { action: 'http', label: question.yesLabel, url: question.answerUrls.yes, method: 'POST', clear: true },
        { action: 'http', label: question.noLabel, url: question.answerUrls.no, method: 'POST', clear: true },
      );
    }
    (message.actions ?? []).forEach((action, i) => {
      const url = message.actionUrls?.[i];
      if (url) actions.push({ action: 'http', label: action.label, url, method: 'POST', clear: true });
    });
    // ntfy refuses a message with more than 3 actions: the first ones are kept.
    if (actions.length > 0) payload.actions = actions.slice(0, MAX_ACTIONS);
    return payload;
  }

  private async publish(payload: Record<string, unknown>): Promise<Delivery> {
    let response: Response;
    try {
      response = await this.fetch(`${this.base}/`, {
        method: 'POST',
        headers: { ...this.authHeader(), 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.any([AbortSignal.timeout(this.options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS), this.stopping.signal]),
      });
    } catch (err) {
      throw new DeliveryError(`ntfy publish failed: ${describeFetchError(err)}`, { cause: err });
    }
    const text = await response.text().catch((err: unknown) => {
      // The status line already tells success from failure; a torn body only loses the id or the error text.
      this.log.debug({ err }, 'ntfy response body unreadable');
      return '';
    });
    if (response.ok) {
      const id = parseJsonObject(text)?.id;
      if (typeof id !== 'string') this.log.warn({ status: response.status }, 'ntfy accepted a message but returned no id');
      return { platformId: typeof id === 'string' ? id : undefined };
    }
    const reason = `ntfy publish refused: HTTP ${response.status}${errorText(text)}`;
    if (response.status === 429) throw new DeliveryError(reason, { retryAfterMs: retryAfterMs(response.headers.get('retry-after')) });
    if (response.status === 401 || response.status === 403) throw new DeliveryError(reason, { permanent: true });
    // A 400 is this message's own fault (ntfy's validation): drop it rather than block the queue.
    throw new DeliveryError(reason, { rejected: response.status === 400 });
  }

  private authHeader(): Record<string, string> {
    return this.options.token ? { authorization: `Bearer ${this.options.token}` } : {};
  }

  /** Keeps one subscription to the reply topic open until stop(), reconnecting with backoff. */
  private async subscribeForever(replyTopic: string, inbound: Inbound): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      const outcome = await this.connectOnce(replyTopic, inbound);
      if (this.stopping.signal.aborted) return;
      failures = outcome.healthy ? 0 : failures + 1;
      const backoff = Math.min(this.reconnect.maxMs, this.reconnect.baseMs * 2 ** Math.max(0, failures - 1));
      const delayMs = Math.max(backoff, outcome.retryAfterMs ?? 0);
      // A refused token needs the operator (a new token), so it is logged as an error; it is still retried.
      const level = outcome.refused ? 'error' : 'warn';
      this.log[level]({ attempt: failures, delayMs, reason: outcome.reason }, 'ntfy reply stream lost; reconnecting');
      await sleep(delayMs, this.stopping.signal);
    }
  }

  /**
   * One subscription: bootstraps the cursor if there is none, opens the
   * stream and handles events until it ends, errors or goes idle. Never throws.
   */
  private async connectOnce(
    replyTopic: string,
    inbound: Inbound,
  ): Promise<{ healthy: boolean; reason: string; retryAfterMs?: number | undefined; refused?: boolean }> {
    const connection = new AbortController();
    const signal = AbortSignal.any([connection.signal, this.stopping.signal]);
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => connection.abort(new Error(`no data for ${this.idleTimeoutMs} ms`)), this.idleTimeoutMs);
    };
    let openedAt: number | undefined;
    try {
      armIdle();
      if (this.since === undefined) await this.bootstrapCursor(replyTopic, inbound, signal);
      const query = new URLSearchParams({ since: this.since ?? SINCE_ALL });
      const response = await this.fetch(`${this.base}/${encodeURIComponent(replyTopic)}/json?${query.toString()}`, { headers: this.authHeader(), signal });
      if (!response.ok || !response.body) throw await StreamRefusedError.from(response);
      openedAt = performance.now();
      this.log.info({ topic: replyTopic, since: this.since }, 'ntfy reply stream open');
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of response.body) {
        armIdle();
        // A fetch body yields bytes.
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          // A reply may run a long command; the network is not idle while we are busy.
          clearTimeout(idleTimer);
          await this.handleLine(line, inbound);
          if (signal.aborted) break;
          armIdle();
        }
        if (buffered.length > MAX_LINE_CHARS) return { healthy: false, reason: 'line too long: not an ntfy JSON stream' };
      }
      return { healthy: this.wasHealthy(openedAt), reason: 'stream ended' };
    } catch (err) {
      if (err instanceof StreamRefusedError) return { healthy: false, reason: err.message, retryAfterMs: err.retryAfterMs, refused: err.refused };
      const idleReason: unknown = connection.signal.reason;
      const reason = connection.signal.aborted ? (idleReason instanceof Error ? idleReason.message : String(idleReason)) : describeFetchError(err);
      return { healthy: this.wasHealthy(openedAt), reason };
    } finally {
      clearTimeout(idleTimer);
      connection.abort();
    }
  }

  private wasHealthy(openedAt: number | undefined): boolean {
    return openedAt !== undefined && performance.now() - openedAt >= this.reconnect.healthyAfterMs;
  }

  /**
   * First start ever (no saved cursor): replies already on the topic were
   * meant for an earlier life of the bot, so we resume after the newest
   * cached one, or from "all" when the cache is empty. Saved at once, so a
   * restart before the first reply still resumes from here.
   */
  private async bootstrapCursor(replyTopic: string, inbound: Inbound, signal: AbortSignal): Promise<void> {
    const response = await this.fetch(`${this.base}/${encodeURIComponent(replyTopic)}/json?poll=1&since=all`, { headers: this.authHeader(), signal });
    if (!response.ok) throw await StreamRefusedError.from(response);
    const text = await response.text();
    let newest: string | undefined;
    for (const line of text.split('\n')) {
      const event = parseStreamEvent(line);
      if (event?.event === 'message') newest = event.id;
    }
    this.since = newest ?? SINCE_ALL;
    inbound.saveCursor(this.since);
    this.log.info({ topic: replyTopic, since: this.since }, 'ntfy reply cursor initialised');
  }

  private async handleLine(line: string, inbound: Inbound): Promise<void> {
    const event = parseStreamEvent(line);
    if (!event) {
      this.log.warn({ line: line.slice(0, 200) }, 'ntfy sent a line that is not an event; ignored');
      return;
    }
    // open, keepalive and poll_request only prove the stream is alive (the idle timer was re-armed).
    if (event.event !== 'message') return;
    try {
      if (inbound.firstSeen(event.id)) await this.handleReply(event.message ?? '', inbound);
      else this.log.debug({ id: event.id }, 'ntfy reply already handled; skipped');
    } catch (err) {
      // The core has its own boundary; this one keeps a bad reply from stalling the stream (it is not retried).
      this.log.error({ err, id: event.id }, 'ntfy reply handling failed');
    }
    this.since = event.id;
    inbound.saveCursor(event.id);
  }

  private async handleReply(text: string, inbound: Inbound): Promise<void> {
    const from: Identity = ntfySender(this.options.replyTopic);
    const parsed = parseNtfyReply(text, this.commandNames);
    let reply: Reply;
    if (parsed.kind === 'answer') reply = await inbound.answer({ code: parsed.code }, parsed.answer, from);
    else if (parsed.kind === 'command') reply = await inbound.command(parsed.text, from);
    else if (parsed.kind === 'missing-code') reply = { kind: 'usage', text: `Add the code from the question: "${parsed.answer} CODE".` };
    else reply = { kind: 'usage', text: this.usageHint() };
    // A rate-limited refusal is not answered: every reply here is a push on the operator's phone.
    if (reply.silent) return;
    const replyText = reply.text;
    try {
      await this.publish({ topic: this.options.topic, title: 'Nightshift', message: truncateUtf8(replyText, MAX_MESSAGE_BYTES), priority: REPLY_PRIORITY });
    } catch (err) {
      // The reply is a courtesy: the command or answer already took effect, and the outbox is not involved.
      this.log.warn({ err }, 'ntfy reply could not be published');
    }
  }

  private usageHint(): string {
    const words = this.commandNames.slice(0, 12).join(', ');
    return `Reply "yes CODE" or "no CODE" to answer a question, or send a command: ${words}${this.commandNames.length > 12 ? ', ...' : ''}.`;
  }
}

/** The server answered a subscription with an error status. */
class StreamRefusedError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
    /** 401/403: the token is wrong or lacks read access to the reply topic. */
    readonly refused: boolean,
  ) {
    super(message);
  }

  static async from(response: Response): Promise<StreamRefusedError> {
    // The error body only adds ntfy's explanation to the status; without it the status still says enough.
    const text = await response.text().catch(() => '');
    const retryAfter = response.status === 429 ? retryAfterMs(response.headers.get('retry-after')) : undefined;
    return new StreamRefusedError(`HTTP ${response.status}${errorText(text)}`, retryAfter, response.status === 401 || response.status === 403);
  }
}

/** Cuts `text` to at most `maxBytes` of UTF-8, ending with an ellipsis when cut, never splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes - 3) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}…`;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    // Not JSON: callers treat a missing object as "no details".
    return undefined;
  }
}

function parseStreamEvent(line: string): StreamEvent | undefined {
  const value = parseJsonObject(line.trim());
  if (!value || typeof value.id !== 'string' || typeof value.event !== 'string') return undefined;
  return {
    id: value.id,
    event: value.event,
    topic: typeof value.topic === 'string' ? value.topic : undefined,
    message: typeof value.message === 'string' ? value.message : undefined,
  };
}

/** ntfy's error body is {"code":40101,"http":401,"error":"unauthorized"}; the "error" text explains the status. */
function errorText(body: string): string {
  const error = parseJsonObject(body)?.error;
  return typeof error === 'string' ? ` (${error.slice(0, 200)})` : '';
}

/** Retry-After as delta-seconds or an HTTP date, in ms; undefined when absent or unreadable. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:1": undici hides the useful part in `cause`. */
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error) || err.cause === undefined) return errorMessage(err);
  const { message, code } = describeNetworkError(err);
  return `${err.message}: ${code && !message.includes(code) ? `${message} (${code})` : message}`;
}
