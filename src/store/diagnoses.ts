import type { Db } from './database.js';

export interface ProposalRow {
  id: string;
  diagnosisId: number;
  kind: 'steps' | 'command' | 'diff';
  content: unknown;
  summary: string;
  /** Null when it was never asked: it did not pass the checks before asking (unfit). */
  questionId: string | null;
  status: ProposalStatus;
  decidedBy: string | null;
  decidedAt: number | null;
  createdAt: number;
  expiresAt: number;
  /** The repair target it applies to (repair.targets), when it names one. */
  target: string | null;
  /** The failure it is meant to fix: the diagnosis's signature, or the target's. */
  signature: string | null;
  /** What was checked before anyone was asked, one line each. */
  checked: string[];
  /** Why it is diagnosis only (status unfit). */
  unfitReason: string | null;
}

/**
 * proposed: asked, waiting; approved / rejected / expired: decided; unfit:
 * failed the checks before asking (diagnosis only); cancelled: surgery was
 * disabled before it was applied; needs_human: repairs of its failure kept
 * failing.
 */
export type ProposalStatus = 'proposed' | 'approved' | 'rejected' | 'expired' | 'unfit' | 'cancelled' | 'needs_human';

const proposalFromRaw = (r: Record<string, unknown>): ProposalRow => ({
  id: r.id as string,
  diagnosisId: r.diagnosis_id as number,
  kind: r.kind as ProposalRow['kind'],
  content: JSON.parse(r.content as string) as unknown,
  summary: r.summary as string,
  questionId: r.question_id as string | null,
  status: r.status as ProposalRow['status'],
  decidedBy: r.decided_by as string | null,
  decidedAt: r.decided_at as number | null,
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
  target: r.target as string | null,
  signature: r.signature as string | null,
  checked: JSON.parse(r.checked as string) as string[],
  unfitReason: r.unfit_reason as string | null,
});

/** Diagnoses made and the fixes they propose. */
export class DiagnosisStore {
  constructor(private readonly db: Db) {}

  add(d: {
    at: number;
    trigger: string;
    signature: string | null;
    subject: string | null;
    analysis: unknown;
    llm: unknown;
    llmError: string | null;
    message: string;
  }): number {
    return Number(
      this.db
        .prepare('INSERT INTO diagnoses (at, trigger, signature, subject, analysis, llm, llm_error, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(d.at, d.trigger, d.signature, d.subject, JSON.stringify(d.analysis), d.llm === null ? null : JSON.stringify(d.llm), d.llmError, d.message)
        .lastInsertRowid,
    );
  }

  /** One diagnosis as stored: its full text is `message`. */
  get(id: number): { id: number; at: number; trigger: string; message: string } | undefined {
    return this.db.prepare('SELECT id, at, trigger, message FROM diagnoses WHERE id = ?').get(id) as
      { id: number; at: number; trigger: string; message: string } | undefined;
  }

  /** The newest diagnosis's id, if any. */
  latestId(): number | undefined {
    return (this.db.prepare('SELECT max(id) AS id FROM diagnoses').get() as { id: number | null }).id ?? undefined;
  }

  /** When a signature was last diagnosed, if ever. */
  lastFor(signature: string): number | undefined {
    return (this.db.prepare('SELECT max(at) AS at FROM diagnoses WHERE signature = ?').get(signature) as { at: number | null }).at ?? undefined;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM diagnoses').get() as { n: number }).n;
  }

  addProposal(p: Omit<ProposalRow, 'status' | 'decidedBy' | 'decidedAt'>): void {
    this.db
      .prepare(
        'INSERT INTO proposals (id, diagnosis_id, kind, content, summary, question_id, created_at, expires_at, target, signature, checked, unfit_reason, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        p.id,
        p.diagnosisId,
        p.kind,
        JSON.stringify(p.content),
        p.summary,
        p.questionId,
        p.createdAt,
        p.expiresAt,
        p.target,
        p.signature,
        JSON.stringify(p.checked),
        p.unfitReason,
        p.unfitReason === null ? 'proposed' : 'unfit',
      );
  }

  /** Moves an approved proposal on (cancelled, needs_human); false when it was not approved. */
  settleApproved(id: string, status: 'cancelled' | 'needs_human', by: string, at: number): boolean {
    return (
      this.db.prepare("UPDATE proposals SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'approved'").run(status, by, at, id)
        .changes === 1
    );
  }

  /** Approved proposals no repair has started for (what /disable-surgery cancels). */
  approvedWithoutRepair(): ProposalRow[] {
    return (
      this.db.prepare("SELECT * FROM proposals p WHERE status = 'approved' AND NOT EXISTS (SELECT 1 FROM repairs r WHERE r.proposal_id = p.id)").all() as Array<
        Record<string, unknown>
      >
    ).map(proposalFromRaw);
  }

  proposal(id: string): ProposalRow | undefined {
    const r = this.db.prepare('SELECT * FROM proposals WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && proposalFromRaw(r);
  }

  proposalForQuestion(questionId: string): ProposalRow | undefined {
    const r = this.db.prepare('SELECT * FROM proposals WHERE question_id = ?').get(questionId) as Record<string, unknown> | undefined;
    return r && proposalFromRaw(r);
  }

  /** Decides a proposal still open; false when it was decided or expired already. */
  decide(id: string, status: 'approved' | 'rejected' | 'expired', by: string, at: number): boolean {
    return (
      this.db.prepare("UPDATE proposals SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'proposed'").run(status, by, at, id)
        .changes === 1
    );
  }

  proposals(limit = 20): ProposalRow[] {
    return (this.db.prepare('SELECT * FROM proposals ORDER BY created_at DESC LIMIT ?').all(limit) as Array<Record<string, unknown>>).map(proposalFromRaw);
  }

  proposalCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM proposals').get() as { n: number }).n;
  }
}
