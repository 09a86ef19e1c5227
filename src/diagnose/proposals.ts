import { randomInt } from 'node:crypto';
import { describeIdentity, type Reply } from '../chat/channel.js';
import type { Invoker } from '../chat/roles.js';
import type { Clock } from '../clock.js';
import type { Questions } from '../questions/questions.js';
import type { Db } from '../store/database.js';
import type { DiagnosisStore, ProposalRow } from '../store/diagnoses.js';
import type { EventLog } from '../store/events.js';
import type { OutgoingMessage } from '../chat/channel.js';
import type { LlmAnswer } from './llm.js';

/** A fix a diagnosis proposes, as the model gave it (validated). */
export type ProposedFix = NonNullable<LlmAnswer['fix']>;

/**
 * What the checks before asking found (src/repair/vet.ts makes it): the fix
 * can be applied to a target, with what was checked, or it is diagnosis
 * only, with why.
 */
export type Vetting = {
  checked: string[];
  /** The files a diff touches, when it was read. */
  files?: string[];
  /** The failure the fix is meant for (what repeated failed repairs are counted by). */
  signature: string | null;
} & ({ applicable: true; target: { name: string }; irreversible: boolean } | { applicable: false; target: { name: string } | null; reason: string });

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
  /** The checks before asking (target, paths, dry run, scanner), given the diagnosis's failure signature. */
  vet: (fix: ProposedFix, signature: string | null) => Promise<Vetting>;
  /** An approval was recorded: what happens next (a repair starts, or waits for /apply), said in the answer. */
  onApproved: (proposal: ProposalRow) => string;
  /** Where a diagnosis whose fix is not offered is posted. */
  notify: (message: OutgoingMessage) => void;
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
      if (status !== 'approved') return `Proposal ${proposal.id} rejected.`;
      const next = this.options.onApproved(store.proposal(proposal.id)!);
      return `Proposal ${proposal.id} approved.${next ? ` ${next}` : ''}`;
    });
  }

  /**
   * Checks the fix (vet), then stores it and asks about it in one
   * transaction, so it is never stored unasked or asked twice. A fix that
   * fails a check is stored as unfit with the reason and posted with the
   * diagnosis as "diagnosis only": nobody is asked to approve it.
   */
  async propose(diagnosisId: number, fix: ProposedFix, title: string, diagnosisText: string, signature: string | null): Promise<ProposalRow> {
    const vetting = await this.options.vet(fix, signature);
    const { store, questions, clock, events, db } = this.options;
    const id = this.newId();
    const summary =
      fix.kind === 'steps'
        ? fix.steps.join('; ')
        : fix.kind === 'command'
          ? `run: ${fix.command}`
          : `patch ${vetting.files?.length ? vetting.files.join(', ') : 'files'} in ${fix.repository}`;
    const now = clock.now();
    const target = vetting.target?.name ?? null;
    const row = {
      id,
      diagnosisId,
      kind: fix.kind,
      content: fix,
      summary,
      createdAt: now,
      target,
      signature: vetting.signature,
      checked: vetting.checked,
    };
    // One line: the question is one screen (the diagnosis above it is cut to fit; see render.ts).
    const checkedText = vetting.checked.length > 0 ? `\nChecked before asking: ${vetting.checked.join('; ')}.` : '';
    if (!vetting.applicable) {
      return db.transaction(() => {
        store.addProposal({ ...row, questionId: null, expiresAt: now, unfitReason: vetting.reason });
        events.append(now, 'proposal.made', id, 'info', { proposalId: id, diagnosisId, kind: fix.kind, applicable: false, reason: vetting.reason });
        this.options.notify({
          severity: 'warning',
          title,
          body: `${diagnosisText}\n\nDiagnosis only: the proposed fix ${id} (${fix.kind}: ${summary}) is not offered for approval: ${vetting.reason}.${checkedText}`,
        });
        return store.proposal(id)!;
      })();
    }
    return db.transaction(() => {
      const question = questions.ask({
        kind: 'proposal',
        subject: id,
        title: `${title} — proposed fix ${id}`,
        body: `${diagnosisText}\n\nProposed fix ${id} (${fix.kind}${vetting.irreversible ? ', irreversible' : ''}) on ${target}: ${summary}${fix.kind === 'diff' ? ` (the patch: above, or /diagnosis ${diagnosisId})` : ''}${checkedText}\nApprove or reject (/approve ${id}, /reject ${id}).`,
        ttlMs: this.options.ttlMs,
        severity: 'warning',
      });
      store.addProposal({ ...row, questionId: question.id, expiresAt: question.expiresAt, unfitReason: null });
      events.append(now, 'proposal.made', id, 'info', { proposalId: id, diagnosisId, kind: fix.kind, applicable: true });
      return store.proposal(id)!;
    })();
  }

  /** /approve and /reject: answers the proposal's question, so the first answer wins wherever it comes from. */
  decide(id: string, approve: boolean, by: Invoker): ProposalDecision {
    const proposal = this.options.store.proposal(id);
    if (!proposal) return { kind: 'unknown-proposal' };
    if (!proposal.questionId)
      return { kind: 'answered', reply: { kind: 'answer', text: `Proposal ${id} is diagnosis only, not offered for approval: ${proposal.unfitReason}.` } };
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
