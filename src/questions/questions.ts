import { randomInt } from 'node:crypto';
import { describeIdentity, type AnswerTarget, type Identity, type OutgoingMessage } from '../chat/channel.js';
import { roleAllows, type Reply, type Role } from '../chat/command.js';
import type { Clock } from '../clock.js';
import { formatDuration } from '../config/duration.js';
import type { Logger } from '../log/logger.js';
import type { EventLog } from '../store/events.js';
import type { QuestionRow, QuestionStore } from '../store/questions.js';
import type { ActionTokens } from './action-tokens.js';

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
}

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/**
 * Questions Nightshift asks on every channel at once (consent, proposals).
 * The first authorised answer wins; later, stale, expired or unauthorised
 * answers get a clear reply and change nothing. Everything is in the store,
 * so a question pending when Nightshift is killed is still pending after.
 */
export class Questions {
  private readonly handlers = new Map<string, AnswerHandler>();

  constructor(private readonly options: QuestionsOptions) {}

  /** Registers what answering a kind of question does. */
  onAnswer(kind: string, handler: AnswerHandler): void {
    this.handlers.set(kind, handler);
  }

  /** Asks on every channel; returns the stored question. */
  ask(input: { kind: string; subject: string; title: string; body?: string; requiredRole?: Role; yesLabel?: string; noLabel?: string; ttlMs?: number; severity?: OutgoingMessage['severity'] }): QuestionRow {
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
        question: { questionId: id, code, yesLabel: input.yesLabel ?? 'Approve', noLabel: input.noLabel ?? 'Reject', answerUrls: { yes: url('yes'), no: url('no') } },
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
    const question =
      'questionId' in target ? store.get(target.questionId) : 'replyTo' in target ? store.byMessage(from.channel, target.replyTo) : store.byCode(target.code);
    if (!question) {
      if ('replyTo' in target) return { kind: 'usage', text: 'That message did not ask anything; reply to the question itself.' };
      if ('code' in target) return { kind: 'usage', text: `No question has the code ${target.code.toUpperCase()}. Check the code in the push.` };
      return { kind: 'usage', text: 'No such question.' };
    }
    // Only a person who may answer learns anything about the question's state.
    const role = viaToken || 'code' in target ? 'operator' : this.options.roleOf(from);
    if (!roleAllows(role, question.requiredRole)) {
      events.append(now, 'chat.refused', from.channel, 'warning', { channel: from.channel, userId: from.userId, what: `answer ${question.id}` });
      return { kind: 'refused', text: `Sorry, answering this needs the ${question.requiredRole} role, and you are not on this channel's ${question.requiredRole} list. Nothing was changed.` };
    }
    if (question.status === 'answered') {
      return { kind: 'answer', text: `Already answered: ${question.answer} by ${question.answeredBy} on ${question.answeredChannel}, ${formatDuration(now - (question.answeredAt ?? now))} ago. Nothing was changed.` };
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
    let outcome = '';
    try {
      outcome = this.handlers.get(question.kind)?.(store.get(question.id)!, answer, from) ?? '';
    } catch (err) {
      this.options.log.error({ err, question: question.id }, 'acting on an answer failed');
      outcome = 'Recorded, but acting on it failed; see the log.';
    }
    return { kind: 'answer', text: `Recorded: ${answer} to "${question.prompt}".${outcome ? ` ${outcome}` : ''}` };
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
      const code = Array.from({ length: 4 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
      if (!this.options.store.byCode(code)) return code;
    }
  }
}
