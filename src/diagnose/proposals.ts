import { randomInt } from 'node:crypto';
import { describeIdentity, type Reply } from '../chat/channel.js';
import type { Invoker } from '../chat/roles.js';
import type { Clock } from '../clock.js';
import type { Questions } from '../questions/questions.js';
import type { Db } from '../store/database.js';
import type { DiagnosisStore, ProposalRow } from '../store/diagnoses.js';
import type { EventLog } from '../store/events.js';
import type { LlmAnswer } from './llm.js';

/** A fix a diagnosis proposes, as the model gave it (validated). */
export type ProposedFix = NonNullable<LlmAnswer['fix']>;

/** What answering a proposal from a command did. */
export type ProposalDecision = { kind: 'unknown-proposal' } | { kind: 'answered'; reply: Reply };

export interface ProposalsOptions {
  db: Db;
  store: DiagnosisStore;
  questions: Questions;
  events: EventLog;
  clock: Clock;
  /** A proposal not decided within this long expires. */
  ttlMs: number;
}

/**
 * Fixes proposed by diagnoses, each put to the operator as a question with
 * Approve / Reject on every channel. The first authorised answer decides it,
 * wherever it comes from (a button, "yes" on Telegram, /approve); an
 * unanswered one expires with its question.
 */
export class Proposals {
  constructor(private readonly options: ProposalsOptions) {
    options.questions.onAnswer('proposal', (question, answer, from) => {
      const { store, clock, events } = this.options;
      const proposal = store.proposalForQuestion(question.id);
      if (!proposal) return '';
      const status = answer === 'yes' ? 'approved' : 'rejected';
      const who = describeIdentity(from);
      if (!store.decide(proposal.id, status, who, clock.now())) return `Proposal ${proposal.id} was already ${store.proposal(proposal.id)?.status}.`;
      events.append(clock.now(), 'proposal.decided', proposal.id, 'info', { proposalId: proposal.id, status, by: who, channel: from.channel });
      return status === 'approved' ? `Proposal ${proposal.id} approved. It stays approved until repairs can be applied.` : `Proposal ${proposal.id} rejected.`;
    });
  }

  /** Stores the proposal and asks about it, in one transaction: it is never stored unasked, or asked twice. */
  propose(diagnosisId: number, fix: ProposedFix, title: string, diagnosisText: string): ProposalRow {
    const { store, questions, clock, events, db } = this.options;
    const id = this.newId();
    const summary = fix.kind === 'steps' ? fix.steps.join('; ') : fix.kind === 'command' ? `run: ${fix.command}` : `apply a patch to ${fix.repository}`;
    const detail = fix.kind === 'diff' ? `\n${fix.diff.split('\n').slice(0, 40).join('\n')}` : '';
    const now = clock.now();
    return db.transaction(() => {
      const question = questions.ask({
        kind: 'proposal',
        subject: id,
        title: `${title} — proposed fix ${id}`,
        body: `${diagnosisText}\n\nProposed fix ${id} (${fix.kind}): ${summary}${detail}\nApprove or reject (/approve ${id}, /reject ${id}).`,
        ttlMs: this.options.ttlMs,
        severity: 'warning',
      });
      store.addProposal({ id, diagnosisId, kind: fix.kind, content: fix, summary, questionId: question.id, createdAt: now, expiresAt: question.expiresAt });
      events.append(now, 'proposal.made', id, 'info', { proposalId: id, diagnosisId, kind: fix.kind });
      return store.proposal(id)!;
    })();
  }

  /** /approve and /reject: answers the proposal's question, so the first answer wins wherever it comes from. */
  decide(id: string, approve: boolean, by: Invoker): ProposalDecision {
    const proposal = this.options.store.proposal(id);
    if (!proposal) return { kind: 'unknown-proposal' };
    return { kind: 'answered', reply: this.options.questions.answer({ questionId: proposal.questionId }, approve ? 'yes' : 'no', by) };
  }

  /** Recent proposals, newest first. */
  list(): ProposalRow[] {
    return this.options.store.proposals();
  }

  /** Proposals whose questions expired expire with them. */
  expire(questionIds: readonly string[]): void {
    const { store, clock, events } = this.options;
    for (const qid of questionIds) {
      const proposal = store.proposalForQuestion(qid);
      if (proposal && store.decide(proposal.id, 'expired', 'nightshift', clock.now())) {
        events.append(clock.now(), 'proposal.decided', proposal.id, 'info', {
          proposalId: proposal.id,
          status: 'expired',
          by: 'nightshift',
          channel: 'nightshift',
        });
      }
    }
  }

  private newId(): string {
    for (;;) {
      const id = `p${randomInt(10, 10_000)}`;
      if (!this.options.store.proposal(id)) return id;
    }
  }
}
