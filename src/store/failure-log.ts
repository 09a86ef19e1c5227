import type { Db } from './database.js';

/** Failed runs of one subject in a span, and the first and last of them (NaN when there is none). */
export interface FailureSpan {
  count: number;
  first: number;
  last: number;
}

/** A `change` event as the causal analysis reads it. */
export interface RecordedChange {
  at: number;
  subject: string;
  source: string;
  summary: string;
  checks: string[];
}

/** One failed run as the evidence sampler reads it. */
export interface FailedRun {
  message: string;
  kind: string | null;
  /** What the check kept of its evidence, by where it came from. */
  evidence: { stderr?: string | undefined; stdout?: string | undefined; log?: string | undefined; body?: string | undefined };
}

interface FailedRunRow {
  message: string | null;
  kind: string | null;
  stderr: unknown;
  stdout: unknown;
  log: unknown;
  body: unknown;
}

/** Failed runs in a window of one subject, whatever it is (configured or not). */
export interface SubjectFailures {
  subject: string;
  count: number;
  first: number;
  last: number;
}

/**
 * The causal analysis's reads of the event log: `check.failed` and
 * `check.recovered` rows, and the `change` and `agent.error` rows that may
 * explain them. Every statement is prepared once, here; one
 * analysis runs the per-subject ones thousands of times.
 *
 * Bound values are written `+?`: with SQLite's STAT4 statistics
 * (better-sqlite3 builds with them) a statement whose plan depends on a bound
 * value is re-planned at every new binding; `+?` keeps the index use and
 * skips the re-planning (about half the time of the stretch queries).
 *
 * The per-subject queries need the index `events(type, subject, at)`
 * (migration `events_type_subject_at`): with it they read only index pages.
 * The index hint is chosen when the statements are prepared, so a FailureLog
 * is made after the migrations ran (as every store is).
 */
export class FailureLog {
  private readonly failedBetween;
  private readonly lastFailedBefore;
  private readonly recoveredBetween;
  private readonly lastRecoveredBetween;
  private readonly firstFailedBetween;
  private readonly failedAt;
  private readonly recoveriesBetween;
  private readonly failedInWindow;
  private readonly failedBySubject;
  private readonly changesIn;
  private readonly agentErrorsIn;

  constructor(db: Db) {
    const events = `events${perSubjectIndexHint(db)}`;
    this.failedBetween = db.prepare<[string, number, number], { count: number; first: number | null; last: number | null }>(
      `SELECT count(*) AS count, min(at) AS first, max(at) AS last FROM ${events} WHERE type = 'check.failed' AND subject = +? AND at >= +? AND at < +?`,
    );
    this.lastFailedBefore = db.prepare<[string, number], { at: number | null }>(
      `SELECT max(at) AS at FROM ${events} WHERE type = 'check.failed' AND subject = +? AND at < +?`,
    );
    this.recoveredBetween = db.prepare<[string, number, number], { found: number }>(
      `SELECT EXISTS (SELECT 1 FROM ${events} WHERE type = 'check.recovered' AND subject = +? AND at >= +? AND at < +?) AS found`,
    );
    this.lastRecoveredBetween = db.prepare<[string, number, number], { at: number | null }>(
      `SELECT max(at) AS at FROM ${events} WHERE type = 'check.recovered' AND subject = +? AND at >= +? AND at <= +?`,
    );
    this.firstFailedBetween = db.prepare<[string, number, number], { at: number | null }>(
      `SELECT min(at) AS at FROM ${events} WHERE type = 'check.failed' AND subject = +? AND at >= +? AND at < +?`,
    );
    this.failedAt = db.prepare<[string, number], FailedRunRow>(
      `SELECT json_extract(context, '$.message') AS message, json_extract(context, '$.kind') AS kind,
         json_extract(context, '$.stderrTail') AS stderr, json_extract(context, '$.stdoutTail') AS stdout,
         (SELECT group_concat(line.value, char(10)) FROM json_each(context, '$.sampleErrors') AS line WHERE line.type = 'text') AS log,
         json_extract(context, '$.bodySnippet') AS body
       FROM ${events} WHERE type = 'check.failed' AND subject = +? AND at = +? ORDER BY id LIMIT 1`,
    );
    this.recoveriesBetween = db
      .prepare<[number, number], [string, number]>("SELECT subject, at FROM events WHERE type = 'check.recovered' AND at >= ? AND at <= ? ORDER BY at, id")
      .raw();
    this.failedInWindow = db.prepare<[number, number], { n: number }>("SELECT count(*) AS n FROM events WHERE type = 'check.failed' AND at >= ? AND at <= ?");
    this.failedBySubject = db.prepare<[number, number], SubjectFailures>(
      "SELECT subject, count(*) AS count, min(at) AS first, max(at) AS last FROM events WHERE type = 'check.failed' AND at >= ? AND at <= ? GROUP BY subject",
    );
    this.changesIn = db.prepare<[number, number], { at: number; subject: string; source: string | null; summary: string | null; checks: string | null }>(
      "SELECT at, subject, json_extract(context, '$.source') AS source, json_extract(context, '$.summary') AS summary, json_extract(context, '$.checks') AS checks FROM events WHERE type = 'change' AND at >= ? AND at <= ? ORDER BY at, id",
    );
    this.agentErrorsIn = db.prepare<[number, number], { at: number; subject: string; agent: string | null; category: string | null; message: string | null }>(
      "SELECT at, subject, json_extract(context, '$.agent') AS agent, json_extract(context, '$.category') AS category, json_extract(context, '$.message') AS message FROM events WHERE type = 'agent.error' AND at >= ? AND at <= ? ORDER BY at, id",
    );
  }

  /**
   * Errors agents reported (`agent.error` events, POST /events) in [from, to], oldest first, as changes of source
   * "agent": `checks` holds the target when it is a configured check (`isCheck`), else it is empty (it may concern any).
   */
  agentErrors(from: number, to: number, isCheck: (name: string) => boolean): RecordedChange[] {
    return this.agentErrorsIn.all(from, to).map((row) => ({
      at: row.at,
      subject: row.subject,
      source: 'agent',
      summary: `agent ${row.agent ?? 'agent'} reported ${row.category ?? 'an error'} on ${row.subject}: ${row.message ?? ''}`,
      checks: isCheck(row.subject) ? [row.subject] : [],
    }));
  }

  /** Recorded changes (`change` events) in [from, to], oldest first; `checks` empty: it concerns every check. */
  changes(from: number, to: number): RecordedChange[] {
    return this.changesIn.all(from, to).map((row) => {
      let checks: string[] = [];
      try {
        const parsed: unknown = row.checks === null ? [] : JSON.parse(row.checks);
        if (Array.isArray(parsed)) checks = parsed.filter((c): c is string => typeof c === 'string');
      } catch {
        checks = [];
      }
      return { at: row.at, subject: row.subject, source: row.source ?? 'unknown', summary: row.summary ?? `${row.subject} changed`, checks };
    });
  }

  /** Recovery times in [from, to] (both inclusive), per subject, in time order. */
  recoveries(from: number, to: number): Map<string, number[]> {
    const bySubject = new Map<string, number[]>();
    for (const [subject, at] of this.recoveriesBetween.all(from, to)) {
      const list = bySubject.get(subject);
      if (list) list.push(at);
      else bySubject.set(subject, [at]);
    }
    return bySubject;
  }

  /** Failed runs of `subject` in [lo, hi) and the first and last of them. */
  failures(subject: string, lo: number, hi: number): FailureSpan {
    const row = this.failedBetween.get(subject, lo, hi)!;
    return { count: row.count, first: row.first ?? NaN, last: row.last ?? NaN };
  }

  /** The last failed run of `subject` before `at`; null when it never failed. */
  lastFailureBefore(subject: string, at: number): number | null {
    return this.lastFailedBefore.get(subject, at)!.at;
  }

  /** Whether `subject` recovered in [lo, hi). */
  recoveredIn(subject: string, lo: number, hi: number): boolean {
    return this.recoveredBetween.get(subject, lo, hi)!.found === 1;
  }

  /** The last recovery of `subject` in [lo, hi] (both inclusive); null when there is none. */
  lastRecoveryIn(subject: string, lo: number, hi: number): number | null {
    return this.lastRecoveredBetween.get(subject, lo, hi)!.at;
  }

  /** The first failed run of `subject` in [lo, hi); null when there is none. */
  firstFailureIn(subject: string, lo: number, hi: number): number | null {
    return this.firstFailedBetween.get(subject, lo, hi)!.at;
  }

  /** The message, kind and evidence (output tails, a log's sample errors, an HTTP body) of the failed run of `subject` at `at`. */
  failedRun(subject: string, at: number): FailedRun {
    const row = this.failedAt.get(subject, at);
    const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);
    // A log check's sampleErrors (an array of lines) arrive joined by the query, one line each.
    const evidence = { stderr: text(row?.stderr), stdout: text(row?.stdout), log: text(row?.log), body: text(row?.body) };
    return { message: typeof row?.message === 'string' ? row.message : '', kind: row?.kind ?? null, evidence };
  }

  /** The newest failed run of `subject` with its evidence; null when it never failed (as far back as retention keeps). */
  latestFailedRun(subject: string): FailedRun | null {
    const at = this.lastFailureBefore(subject, Number.MAX_SAFE_INTEGER);
    return at === null ? null : this.failedRun(subject, at);
  }

  /** Failed runs in [from, to], all subjects. */
  totalFailures(from: number, to: number): number {
    return this.failedInWindow.get(from, to)!.n;
  }

  /** Failed runs in [from, to] per subject, with the first and last of them. */
  failuresBySubject(from: number, to: number): SubjectFailures[] {
    return this.failedBySubject.all(from, to);
  }
}

/**
 * Nothing when an index on events starting with (type, subject, at) exists;
 * otherwise ` INDEXED BY events_subject_at`: without statistics SQLite would
 * pick events(type, at) for the per-check queries and scan every check's
 * failures for each stretch (15 s instead of 2 s on the bench's week).
 */
function perSubjectIndexHint(db: Db): string {
  const indexes = db.prepare<[], string>("SELECT name FROM pragma_index_list('events')").pluck().all();
  const columnsOf = db.prepare<[string], string>('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck();
  if (indexes.some((index) => columnsOf.all(index).slice(0, 3).join(',') === 'type,subject,at')) return '';
  return indexes.includes('events_subject_at') ? ' INDEXED BY events_subject_at' : '';
}
