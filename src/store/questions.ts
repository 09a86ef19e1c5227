import type { Db } from './database.js';
import type { Role } from '../chat/roles.js';

export type QuestionStatus = 'pending' | 'answered' | 'expired';

export interface QuestionRow {
  id: string;
  kind: string;
  subject: string;
  prompt: string;
  code: string;
  requiredRole: Role;
  status: QuestionStatus;
  answer: 'yes' | 'no' | null;
  answeredBy: string | null;
  answeredChannel: string | null;
  answeredAt: number | null;
  createdAt: number;
  expiresAt: number;
}

const fromRaw = (r: Record<string, unknown>): QuestionRow => ({
  id: r.id as string,
  kind: r.kind as string,
  subject: r.subject as string,
  prompt: r.prompt as string,
  code: r.code as string,
  requiredRole: r.required_role as Role,
  status: r.status as QuestionStatus,
  answer: r.answer as 'yes' | 'no' | null,
  answeredBy: r.answered_by as string | null,
  answeredChannel: r.answered_channel as string | null,
  answeredAt: r.answered_at as number | null,
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
});

/** Questions asked on chat and their answers; the first answer wins. */
export class QuestionStore {
  constructor(private readonly db: Db) {}

  create(q: Omit<QuestionRow, 'status' | 'answer' | 'answeredBy' | 'answeredChannel' | 'answeredAt'>): void {
    this.db
      .prepare(
        "INSERT INTO questions (id, kind, subject, prompt, code, required_role, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
      )
      .run(q.id, q.kind, q.subject, q.prompt, q.code, q.requiredRole, q.createdAt, q.expiresAt);
  }

  get(id: string): QuestionRow | undefined {
    const raw = this.db.prepare('SELECT * FROM questions WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return raw && fromRaw(raw);
  }

  byCode(code: string): QuestionRow | undefined {
    const raw = this.db.prepare('SELECT * FROM questions WHERE code = ?').get(code.toUpperCase()) as Record<string, unknown> | undefined;
    return raw && fromRaw(raw);
  }

  byMessage(channel: string, platformId: string): QuestionRow | undefined {
    const raw = this.db
      .prepare('SELECT q.* FROM questions q JOIN question_messages m ON m.question_id = q.id WHERE m.channel = ? AND m.platform_id = ?')
      .get(channel, platformId) as Record<string, unknown> | undefined;
    return raw && fromRaw(raw);
  }

  linkMessage(channel: string, platformId: string, questionId: string): void {
    this.db
      .prepare('INSERT INTO question_messages (channel, platform_id, question_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
      .run(channel, platformId, questionId);
  }

  /** Records the answer if the question is still pending and unexpired; false when someone (or time) was first. */
  answer(id: string, answer: 'yes' | 'no', by: string, channel: string, at: number): boolean {
    return (
      this.db
        .prepare(
          "UPDATE questions SET status = 'answered', answer = ?, answered_by = ?, answered_channel = ?, answered_at = ? WHERE id = ? AND status = 'pending' AND expires_at > ?",
        )
        .run(answer, by, channel, at, id, at).changes === 1
    );
  }

  /** Marks overdue questions expired; returns them. */
  expireDue(at: number): QuestionRow[] {
    return this.db.transaction(() => {
      const due = (this.db.prepare("SELECT * FROM questions WHERE status = 'pending' AND expires_at <= ?").all(at) as Array<Record<string, unknown>>).map(
        fromRaw,
      );
      this.db.prepare("UPDATE questions SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?").run(at);
      return due;
    })();
  }

  pending(): QuestionRow[] {
    return (this.db.prepare("SELECT * FROM questions WHERE status = 'pending' ORDER BY created_at").all() as Array<Record<string, unknown>>).map(fromRaw);
  }
}
