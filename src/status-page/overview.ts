import { renderSummary, type CheckSummary, type StatusSummary } from '../patrol/summary.js';
import type { CategoryScore } from '../regret/regret.js';
import { categoryLines } from '../regret/wording.js';
import { isMuted, type CheckStateRow } from '../store/check-state.js';
import type { IncidentRow } from '../store/incidents.js';
import type { HealStepLine, OverviewQueries, PendingProposalLine, PendingQuestionLine, TransitionBucket } from '../store/overview-queries.js';
import { clipAtWord } from '../util/text.js';
import { buildStrip, coverageOf, stripWindow, type CellEvents, type StripWindow } from './strip.js';

const DAY_MS = 86_400_000;
/** The diagnosis's full text can run long (ten chains, the model's answer); the page shows its start, chat has it all. */
const MAX_DIAGNOSIS_CHARS = 6_000;
/** At most this many heal attempts are listed (a crash loop is capped by maxHeals, but many checks can heal in a day). */
const MAX_HEALS = 50;

/**
 * What the status page shows, as one JSON document (GET /overview.json, and
 * each `overview` event on GET /live). Read only: it carries no answer
 * codes, no tokens, nothing to act with. The HTTP server redacts it whole.
 */
export interface Overview {
  generatedAt: number;
  /** The summary as /status.json has it, without the per-check details (`checks` below has them). */
  summary: Omit<StatusSummary, 'details' | 'generatedAt'> & {
    /** The `SUMMARY: ...` line and one line per failing or stale check, as /status prints them. */
    text: string;
  };
  /** The strips' time axis; each check's `strip` has one character per cell (`o` ok, `f` failing, `-` no data). */
  strip: { from: number; cellMs: number; cells: number };
  checks: OverviewCheck[];
  /** Open incidents, root causes first, each with the open incidents that are its symptoms. */
  incidents: OverviewIncident[];
  /** Heal attempts of the last 24 h, newest first. */
  heals: OverviewHeal[];
  regret: { lines: string[]; categories: CategoryScore[] };
  /** Waiting for an answer on chat; the page only lists them. */
  questions: PendingQuestionLine[];
  proposals: PendingProposalLine[];
  diagnosis: { id: number; at: number; trigger: string; subject: string | null; text: string; clipped: boolean } | null;
}

/** A check as /status.json has it, with whether it is muted and its 24-hour strip. */
export type OverviewCheck = CheckSummary & {
  muted: boolean;
  strip: string;
};

export interface OverviewIncident {
  id: number;
  check: string;
  severity: 'critical' | 'optional';
  openedAt: number;
  failures: number;
  message: string;
  escalated: boolean;
  ackedBy: string | null;
  /** The incident this one is a symptom of (null: it is a root cause). */
  rootCause: { id: number; check: string } | null;
  symptoms: Array<{ id: number; check: string }>;
}

/** held: it stayed healthy a whole interval after; not-held: the failure came back; failed: a step failed; watching: too early to say. */
export type HealOutcome = 'held' | 'not-held' | 'failed' | 'watching';

export interface OverviewHeal {
  check: string;
  at: number;
  incidentId: number | null;
  steps: Array<{ action: string; result: 'ok' | 'failed' | 'skipped'; message: string }>;
  outcome: HealOutcome;
  /** Why, in a few words: the regret index's note, how long it held. */
  note: string | null;
}

/** What the overview reads from the running bot: the Engine satisfies it. Checks come from summary() every time (a reload changes them). */
export interface OverviewSource {
  summary(): StatusSummary;
  readonly checkState: { all(): CheckStateRow[] };
  readonly incidents: { allOpen(): IncidentRow[] };
  readonly regret: { categories(): CategoryScore[] };
}

/** The overview's builder bound to a bot and its store: what the HTTP server's `overview` handler calls. */
export function overviewBuilder(source: OverviewSource, queries: OverviewQueries, now: () => number): () => Overview {
  const cache = new TransitionCache();
  return () => buildOverview(source, queries, now(), cache);
}

/**
 * A run's events are dated when it began and committed when it ends (a
 * timeout, a wait for a free slot later): older than this, the strip's
 * cells are settled and read once per quarter hour.
 */
const SETTLED_AFTER_MS = 10 * 60_000;

/**
 * The strip's transitions, with the settled cells read once per window: a
 * check failing every second for a day is 86,400 events to group, and the
 * overview is rebuilt after every run while someone watches.
 */
export class TransitionCache {
  private origin = Number.NaN;
  private settledUntil = 0;
  private settled: TransitionBucket[] = [];

  buckets(queries: OverviewQueries, window: StripWindow): TransitionBucket[] {
    if (window.from !== this.origin) {
      this.origin = window.from;
      this.settledUntil = window.from + (window.cells - 1) * window.cellMs - SETTLED_AFTER_MS;
      this.settled = queries.transitionBuckets(window.from, window.from, this.settledUntil, window.cellMs);
    }
    return [...this.settled, ...queries.transitionBuckets(window.from, this.settledUntil, window.now + 1, window.cellMs)];
  }
}

/** Everything the page shows, computed now from the store. */
export function buildOverview(source: OverviewSource, queries: OverviewQueries, now: number, cache = new TransitionCache()): Overview {
  const summary = source.summary();
  const { details, generatedAt: _, ...counts } = summary;
  const states = new Map(source.checkState.all().map((s) => [s.name, s]));
  const window = stripWindow(now);
  const strips = stripsOf(summary, queries, window, cache.buckets(queries, window));
  const categories = source.regret.categories();
  const diagnosis = queries.latestDiagnosis();
  return {
    generatedAt: now,
    summary: { ...counts, text: renderSummary(summary) },
    strip: { from: window.from, cellMs: window.cellMs, cells: window.cells },
    checks: details.map((d) => ({ ...d, muted: isMuted(states.get(d.name), now), strip: strips.get(d.name)! })),
    incidents: incidentsOf(source.incidents.allOpen()),
    heals: healsOf(queries.healStepsSince(now - DAY_MS), queries.heldSince(now - DAY_MS), states),
    regret: { lines: categoryLines(categories), categories },
    questions: queries.pendingQuestions(now),
    proposals: queries.pendingProposals(now),
    diagnosis: diagnosis
      ? {
          id: diagnosis.id,
          at: diagnosis.at,
          trigger: diagnosis.trigger,
          subject: diagnosis.subject,
          // Cut at a word, before the server redacts: a secret cut in half at the limit would no longer be recognised.
          text: clipAtWord(diagnosis.message, MAX_DIAGNOSIS_CHARS),
          clipped: diagnosis.message.length > MAX_DIAGNOSIS_CHARS,
        }
      : null,
  };
}

/** Every current check's strip, from one grouped read of the window's transitions. */
function stripsOf(summary: StatusSummary, queries: OverviewQueries, window: StripWindow, buckets: readonly TransitionBucket[]): Map<string, string> {
  const byCheck = new Map<string, Map<number, CellEvents>>();
  for (const bucket of buckets) {
    const cells = byCheck.get(bucket.subject) ?? new Map<number, CellEvents>();
    byCheck.set(bucket.subject, cells);
    const cell = cells.get(bucket.cell) ?? {};
    cells.set(bucket.cell, cell);
    // A cell split between the settled and the recent read: the later of the two counts.
    if (bucket.type === 'check.failed') cell.lastFailedAt = Math.max(cell.lastFailedAt ?? -Infinity, bucket.last);
    else cell.lastRecoveredAt = Math.max(cell.lastRecoveredAt ?? -Infinity, bucket.last);
  }
  const coverage = coverageOf(queries.instanceMarks(window.from, window.now), summary.startedAt, window.now, (at) => queries.lastEventBefore(at));
  const strips = new Map<string, string>();
  for (const check of summary.details) {
    strips.set(
      check.name,
      buildStrip({
        window,
        before: queries.stateBefore(check.name, window.from),
        cells: byCheck.get(check.name) ?? new Map(),
        coverage,
        current: check.status,
      }),
    );
  }
  return strips;
}

/** Open incidents, root causes first (oldest first), then symptoms; a root cause names its symptoms, a symptom its root cause. */
function incidentsOf(open: readonly IncidentRow[]): OverviewIncident[] {
  const byId = new Map(open.map((i) => [i.id, i]));
  const symptomsOf = new Map<number, Array<{ id: number; check: string }>>();
  for (const incident of open) {
    if (incident.rootId === null) continue;
    const list = symptomsOf.get(incident.rootId) ?? [];
    list.push({ id: incident.id, check: incident.checkName });
    symptomsOf.set(incident.rootId, list);
  }
  const rows = open.map((i): OverviewIncident => {
    const root = i.rootId !== null ? byId.get(i.rootId) : undefined;
    return {
      id: i.id,
      check: i.checkName,
      severity: i.severity,
      openedAt: i.openedAt,
      failures: i.failures,
      message: i.lastMessage,
      escalated: i.escalatedAt !== null,
      ackedBy: i.ackedAt !== null ? i.ackedBy : null,
      rootCause: root ? { id: root.id, check: root.checkName } : null,
      symptoms: symptomsOf.get(i.id) ?? [],
    };
  });
  return [...rows.filter((r) => r.rootCause === null), ...rows.filter((r) => r.rootCause !== null)];
}

/**
 * Heal steps folded into attempts (a check's steps of one attempt share its
 * start time) and judged: failed when a step failed, held when `heal.held`
 * was recorded for it (or the regret index scored it +1), not held when the
 * failure came back (a negative score, or another heal followed), watching
 * while it is too early to say.
 */
function healsOf(
  steps: readonly HealStepLine[],
  held: ReadonlyArray<{ subject: string; healedAt: number; heldForMs: number }>,
  states: ReadonlyMap<string, CheckStateRow>,
): OverviewHeal[] {
  const attempts = new Map<string, HealStepLine[]>();
  for (const step of steps) {
    const key = `${step.target}\u0000${step.at}`;
    attempts.set(key, [...(attempts.get(key) ?? []), step]);
  }
  const heldFor = new Map(held.map((h) => [`${h.subject}\u0000${h.healedAt}`, h.heldForMs]));
  const latest = new Map<string, number>();
  for (const step of steps) latest.set(step.target, Math.max(latest.get(step.target) ?? -Infinity, step.at));
  const heals: OverviewHeal[] = [];
  for (const [key, group] of attempts) {
    const ordered = [...group].sort((a, b) => a.id - b.id);
    const { target, at, incidentId } = ordered[0]!;
    const state = states.get(target);
    const heldMs = heldFor.get(key);
    const scored = ordered.find((s) => s.score !== null);
    let outcome: HealOutcome;
    let note: string | null = scored?.scoreNote ?? null;
    if (ordered.some((s) => s.result !== 'ok')) {
      outcome = 'failed';
      note = ordered.find((s) => s.result !== 'ok')!.message;
    } else if (heldMs !== undefined || (state?.lastHealAt === at && state.healHeld) || scored?.score === 1) {
      outcome = 'held';
      if (heldMs !== undefined) note = `healthy ${Math.round(heldMs / 1000)}s after it${scored?.scoreNote ? `; ${scored.scoreNote}` : ''}`;
    } else if ((scored?.score ?? 0) < 0 || latest.get(target)! > at) {
      outcome = 'not-held';
    } else {
      outcome = 'watching';
    }
    heals.push({ check: target, at, incidentId, steps: ordered.map((s) => ({ action: s.category, result: s.result, message: s.message })), outcome, note });
    if (heals.length >= MAX_HEALS) break;
  }
  return heals.sort((a, b) => b.at - a.at);
}
