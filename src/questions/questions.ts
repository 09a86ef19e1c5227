import { randomInt } from 'node:crypto';
import { describeIdentity, type AnswerTarget, type Identity, type OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import { formatDuration } from '../util/duration.js';
import type { Logger } from '../log/logger.js';
import type { EventLog } from '../store/events.js';
import type { QuestionRow, QuestionStore } from '../store/questions.js';
import type { ActionTokens } from './action-tokens.js';
import { CodeGuard } from './code-guard.js';
import { roleAllows, type Role } from '../chat/roles.js';
import { type Reply } from '../chat/channel.js';

/** What happens when a question of a kind is answered; returns a line for the person who answered. */
export type AnswerHandler = (question: QuestionRow, answer: 'yes' | 'no', from: Identity) => string | void;

export interface QuestionsOptions {
  store: QuestionStore;
  events: EventLog;
  clock: Clock;
  log: Logger;
  tokens: ActionTokens;
  /** Base URL the ntfy buttons POST to. */
  publicUrl: string;
  defaultTtlMs: number;
  /** Queues a message on every channel. */
  send: (message: OutgoingMessage, key: string) => void;
  /** The role a person holds on their channel (null: not on its allow-list). */
  roleOf: (from: Identity) => Role | null;
  /** Records a refused answer (the composition root's refusal gate); false means "rate-limited: do not answer". */
  onRefused: (from: Identity, what: string) => boolean;
  /** Wrong-code limits (tests shorten them). */
  codeGuard?: CodeGuard;
}

/** 32 letters and digits that cannot be mistaken for each other (no I/1, O/0). */
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** 8 characters of 5 bits: 40 bits, so a code cannot be guessed within its question's life. */
const CODE_LENGTH = 8;

/**
 * Questions Nightshift asks on every channel at once (consent, proposals).
 * The first authorised answer wins; later, stale, expired or unauthorised
 * answers get a clear reply and change nothing. Everything is in the store,
 * so a question pending when Nightshift is killed is still pending after.
 */
export class Questions {
  private readonly handlers = new Map<string, AnswerHandler>();
  private readonly codeGuard: CodeGuard;

  constructor(private readonly options: QuestionsOptions) {
    this.codeGuard = options.codeGuard ?? new CodeGuard();
  }

  /** Registers what answering a kind of question does. */
  onAnswer(kind: string, handler: AnswerHandler): void {
    this.handlers.set(kind, handler);
  }

  /** Asks on every channel; returns the stored question. */
  ask(input: {
    kind: string;
    subject: string;
    title: string;
    body?: string;
    requiredRole?: Role;
    yesLabel?: string;
    noLabel?: string;
    ttlMs?: number;
    severity?: OutgoingMessage['severity'];
  }): QuestionRow {
    const { store, clock, tokens, publicUrl } = this.options;
    const now = clock.now();
    const expiresAt = now + (input.ttlMs ?? this.options.defaultTtlMs);
    const id = this.newId();
    const code = this.newCode();
    const requiredRole = input.requiredRole ?? 'operator';
    store.create({ id, kind: input.kind, subject: input.subject, prompt: input.title, code, requiredRole, createdAt: now, expiresAt });
    this.options.events.append(now, 'question.asked', input.subject, 'info', { questionId: id, kind: input.kind, expiresAt });
    const url = (answer: 'yes' | 'no') => `${publicUrl}/answer/${tokens.mint({ questionId: id, answer }, expiresAt)}`;
    this.options.send(
      {
        severity: input.severity ?? 'warning',
        title: input.title,
        ...(input.body ? { body: input.body } : {}),
        question: {
          questionId: id,
          code,
          yesLabel: input.yesLabel ?? 'Approve',
          noLabel: input.noLabel ?? 'Reject',
          answerUrls: { yes: url('yes'), no: url('no') },
        },
      },
      `question:${id}`,
    );
    return store.get(id)!;
  }

  /** Remembers which platform message carried a question (Telegram replies point at it). */
  delivered(channel: string, platformId: string, questionId: string): void {
    this.options.store.linkMessage(channel, platformId, questionId);
  }

  /** Answers a question from any channel. `viaCode`: the answer carried the one-time code (ntfy). */
  answer(target: AnswerTarget, answer: 'yes' | 'no', from: Identity, viaToken = false): Reply {
    const { store, clock, events } = this.options;
    const now = clock.now();
    // The console is the machine's owner; everywhere else a code is a credential, and guessing it is limited.
    const guarded = 'code' in target && from.channel !== 'console';
    const sender = `${from.channel}:${from.userId}`;
    const lockedUntil = guarded ? this.codeGuard.lockedUntil(sender, now) : undefined;
    if (lockedUntil !== undefined) {
      // The lock-out was announced on every channel; each further try is not answered (no push per guess).
      return {
        kind: 'refused',
        text: `Answers by code from here are blocked for ${formatDuration(lockedUntil - now)} after too many wrong codes.`,
        silent: true,
      };
    }
    const question =
      'questionId' in target ? store.get(target.questionId) : 'replyTo' in target ? store.byMessage(from.channel, target.replyTo) : store.byCode(target.code);
    if (!question) {
      if ('replyTo' in target) return { kind: 'usage', text: 'That message did not ask anything; reply to the question itself.' };
      if ('code' in target)
        return guarded
          ? this.wrongCode(target.code, from, sender, now)
          : { kind: 'usage', text: `No question has the code ${target.code.toUpperCase()}. Check the code in the push.` };
      return { kind: 'usage', text: 'No such question.' };
    }
    // Only a person who may answer learns anything about the question's state.
    const role = viaToken || 'code' in target ? 'operator' : this.options.roleOf(from);
    if (!roleAllows(role, question.requiredRole)) {
      const answerIt = this.options.onRefused(from, `answer ${question.id}`);
      const text = `Sorry, answering this needs the ${question.requiredRole} role, and you are not on this channel's ${question.requiredRole} list. Nothing was changed.`;
      return answerIt ? { kind: 'refused', text } : { kind: 'refused', text, silent: true };
    }
    if (question.status === 'answered') {
      return {
        kind: 'answer',
        text: `Already answered: ${question.answer} by ${question.answeredBy} on ${question.answeredChannel}, ${formatDuration(now - (question.answeredAt ?? now))} ago. Nothing was changed.`,
      };
    }
    if (question.status === 'expired' || question.expiresAt <= now) {
      return { kind: 'answer', text: `This question expired ${formatDuration(Math.max(0, now - question.expiresAt))} ago. Nothing was changed.` };
    }
    const who = describeIdentity(from);
    if (!store.answer(question.id, answer, who, from.channel, now)) {
      const current = store.get(question.id)!;
      return { kind: 'answer', text: `Already answered: ${current.answer} by ${current.answeredBy} on ${current.answeredChannel}. Nothing was changed.` };
    }
    events.append(now, 'question.answered', question.subject, 'info', { questionId: question.id, kind: question.kind, answer, by: who, channel: from.channel });
    let outcome: string;
    try {
      outcome = this.handlers.get(question.kind)?.(store.get(question.id)!, answer, from) ?? '';
    } catch (err) {
      this.options.log.error({ err, question: question.id }, 'acting on an answer failed');
      outcome = 'Recorded, but acting on it failed; see the log.';
    }
    return { kind: 'answer', text: `Recorded: ${answer} to "${question.prompt}".${outcome ? ` ${outcome}` : ''}` };
  }

  /** A code that names no question: counted; the one that reaches the limit locks the sender out, audited and announced. */
  private wrongCode(code: string, from: Identity, sender: string, now: number): Reply {
    const verdict = this.codeGuard.wrong(sender, now);
    if (!verdict.locked) return { kind: 'usage', text: `No question has the code ${code.toUpperCase()}. Check the code in the push.` };
    const window = formatDuration(verdict.windowMs);
    this.options.events.append(now, 'chat.locked_out', from.channel, 'warning', {
      channel: from.channel,
      userId: from.userId,
      wrongCodes: verdict.wrongCodes,
      windowMs: verdict.windowMs,
      until: verdict.until,
    });
    this.options.send(
      {
        severity: 'warning',
        title: `${verdict.wrongCodes} wrong answer codes from ${describeIdentity(from)} on ${from.channel} within ${window}: answers by code from there are blocked for ${formatDuration(verdict.until - now)}`,
        body: `Someone may be guessing the codes of Nightshift's questions. Buttons and the other channels still work. If it was not you, change the reply topic (NTFY_REPLY_TOPIC) and restart Nightshift.`,
      },
      `locked-out:${sender}:${now}`,
    );
    return { kind: 'refused', text: `Too many wrong codes: answers by code from here are blocked for ${formatDuration(verdict.until - now)}.` };
  }

  /** Expires overdue questions (called on a timer). */
  expire(): QuestionRow[] {
    const expired = this.options.store.expireDue(this.options.clock.now());
    for (const q of expired) this.options.events.append(this.options.clock.now(), 'question.expired', q.subject, 'info', { questionId: q.id, kind: q.kind });
    return expired;
  }

  private newId(): string {
    for (;;) {
      const id = `q${randomInt(100, 100_000)}`;
      if (!this.options.store.get(id)) return id;
    }
  }

  private newCode(): string {
    for (;;) {
      const code = Array.from({ length: CODE_LENGTH }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
      if (!this.options.store.byCode(code)) return code;
    }
  }
}
