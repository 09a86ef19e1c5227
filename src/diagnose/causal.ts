/**
 * The deterministic causal analysis: from the event log, the dependency graph
 * and time order, which failures are root causes and which are their effects,
 * cascade and symptoms. No LLM: a diagnosis exists even when none answers.
 *
 * Evidence: only `check.failed` rows (one per failed run) and
 * `check.recovered` rows (the run that ended a failing stretch). Incident
 * rows are the patrol's own interpretation and are not read.
 *
 * Algorithm:
 *  1. Stretches. For each check, its failing stretches in [from, to]: a
 *     stretch runs from a failed run to the next recovery (or past `to`).
 *     A check already failing at `from` (its last check event before the
 *     window was a failure) has a stretch carried in, dated from its first
 *     failure after its last recovery (looking back at most 7 days).
 *  2. Links. A stretch K of check C is linked to a stretch J of one of C's
 *     direct dependencies when J was failing when K started (J began before
 *     K, or at most `simultaneousMs` after it: the checks of one patrol run
 *     concurrently and finish in any order), or when J began at most
 *     `effectWindowMs` before K even if it had recovered by then (a short
 *     outage can leave a dependent broken). Of several candidates the one
 *     failing and inside the window wins, then inside the window, then
 *     failing for longer than the window ("late"); ties go to the nearest
 *     in time (the most recent change explains best).
 *  3. Roots. A stretch with no link is a root candidate: none of its direct
 *     dependencies was failing when it started. Following links upwards from
 *     any stretch ends at one root (the graph has no cycles: the config
 *     refuses them; a cycle would leave its stretches unexplained).
 *  4. Chains. All stretches of one root check form one chain, however many
 *     times it failed (counts add up, first/last seen span them). Downstream
 *     checks one link from the root are effects, further ones cascade;
 *     checks of kind `log` anywhere downstream are symptoms. A dependent
 *     that began failing longer than the window after its failing
 *     dependency is kept in the chain (its dependency was still failing)
 *     and called "later" in the summary rather than an effect within the
 *     window. A root with nothing downstream is a standalone failure: its
 *     summary says that no dependency was failing, so the cause is inside
 *     the check or outside what Nightshift watches; no cause is invented.
 *  5. Ranking by explainedFailures (failed runs of root + downstream), ties
 *     by the earliest failure: never by how often the root alone failed.
 *  6. Unexplained: failures of subjects that are not configured checks
 *     (renamed or removed: their dependencies are unknown) and of stretches
 *     caught in a dependency cycle. Roots that start together (within
 *     `simultaneousMs`, at least half of the times) with nothing failing
 *     upstream are named as possibly sharing a cause Nightshift does not
 *     watch, without naming one.
 *
 * Cost: no row is parsed in JavaScript. Stretches come from one aggregate
 * query per stretch (count, min, max over the check's failed runs between
 * two recoveries); messages are read with json_extract only for sampled runs
 * (the first and last run of at most 32 stretches per check). The stretch
 * queries need the index `events(type, subject, at)` (migration
 * `events_type_subject_at`): with it they read only index pages and a week
 * of 1,000,000 events takes a few hundred ms (see bench/diagnose.ts);
 * without it SQLite reads every row's page to check its type (about 2 s).
 * (A partial index `(subject, at) WHERE type = 'check.failed'` is not
 * enough: with STAT4 statistics SQLite often prefers `events(subject, at)`
 * for it and reads the rows again.)
 */
import { formatDuration } from '../util/duration.js';
import { Redactor } from '../log/redact.js';
import type { Db } from '../store/database.js';
import { normalizeError } from './signature.js';
import type { CausalAnalysis, CausalChain, ChainNode } from './types.js';

/** What the analysis needs of a configured check (a CheckConfig fits). */
export interface CausalCheck {
  readonly name: string;
  readonly kind: string;
  readonly dependsOn: readonly string[];
}

/** The window to analyse and how to judge time order in it. */
export interface CausalOptions {
  /** Window start and end, ms since epoch, both inclusive. */
  from: number;
  to: number;
  /** A dependent failing this long after its dependency began failing is an effect of it (default 5 min). */
  effectWindowMs?: number;
  /** Failures this close are simultaneous: a dependency failing up to this long after its dependent still comes first (default 15 s). */
  simultaneousMs?: number;
  /** Keep only chains that involve this check (and its unexplained failures). */
  check?: string;
  /** Applied to every sample message; by default the pattern redactor (token shapes). */
  redact?: (text: string) => string;
}

/** How long after its dependency began failing a dependent's failure counts as its effect. */
export const DEFAULT_EFFECT_WINDOW_MS = 5 * 60_000;
/** Failures this close are one patrol's: their order in the log says nothing (patrol interval 10 s, timeout 5 s). */
export const DEFAULT_SIMULTANEOUS_MS = 15_000;
/** A stretch carried into the window is dated back at most this far. */
const CARRY_LOOKBACK_MS = 7 * 86_400_000;
/** Messages are sampled from at most this many stretches of one check in one chain. */
const MAX_SAMPLED_STRETCHES = 32;
/** Longest sample message quoted in a summary. */
const QUOTE_CHARS = 100;

type Link = 'overlap' | 'recovered' | 'late';

interface CheckInfo {
  name: string;
  kind: string;
  dependsOn: string[];
  stretches: Stretch[];
}

/** One failing stretch of one check. */
interface Stretch {
  check: CheckInfo;
  /** When it began failing (before `from` when carried in). */
  start: number;
  /** When it recovered; Infinity when still failing at `to`. */
  end: number;
  /** Failed runs inside the window, and the first and last of them. */
  failures: number;
  firstFailure: number;
  lastFailure: number;
  /** Already failing at `from`: the time of its last failed run before the window. */
  carriedFrom: number | null;
  parent: Stretch | null;
  link: Link | null;
  /** start - parent.start. */
  delayMs: number;
  resolved: boolean;
  /** The root stretch it leads to; null inside a dependency cycle. */
  root: Stretch | null;
  depth: number;
}

interface NodeParts {
  info: CheckInfo;
  stretches: Stretch[];
  depth: number;
}

interface ChainParts {
  info: CheckInfo;
  roots: Stretch[];
  downstream: Map<string, NodeParts>;
}

const patternRedactor = new Redactor();

/** Root causes, effects, cascade and symptoms of the failures in [from, to], ranked by how much of the log each explains. */
export function analyzeCausality(db: Db, checks: readonly CausalCheck[], options: CausalOptions): CausalAnalysis {
  const { from, to } = options;
  const windowMs = options.effectWindowMs ?? DEFAULT_EFFECT_WINDOW_MS;
  const simultaneousMs = options.simultaneousMs ?? DEFAULT_SIMULTANEOUS_MS;
  const redact = options.redact ?? ((text: string) => patternRedactor.redact(text));
  const log = new FailureLog(db, from, to);

  const infos = new Map<string, CheckInfo>();
  for (const c of checks) {
    if (!infos.has(c.name)) infos.set(c.name, { name: c.name, kind: c.kind, dependsOn: c.dependsOn.filter((d) => d !== c.name), stretches: [] });
  }
  const empty = to < from;
  const recoveries = empty ? new Map<string, number[]>() : log.recoveries();
  let knownFailures = 0;
  for (const info of infos.values()) {
    info.stretches = empty ? [] : buildStretches(log, info, recoveries.get(info.name) ?? []);
    for (const s of info.stretches) knownFailures += s.failures;
  }
  const totalFailures = empty ? 0 : log.totalFailures();

  linkStretches(infos, windowMs, simultaneousMs);
  const all = [...infos.values()].flatMap((i) => i.stretches);
  resolveRoots(all);

  const text = new Wording(from, to, totalFailures, windowMs, simultaneousMs);
  const sampler = new Sampler(log, redact);
  const parts = groupChains(all);
  // A stretch carried into the window with no failed run in it explains nothing by itself (only as a dependency).
  for (const [name, p] of parts) if (p.roots.every((s) => s.failures === 0) && p.downstream.size === 0) parts.delete(name);
  let chains = [...parts.values()].map((p) => buildChain(p, infos, sampler, text));
  chains.sort((a, b) => b.explainedFailures - a.explainedFailures || earliest(a) - earliest(b) || a.root.check.localeCompare(b.root.check));

  // Unexplained: stretches in a dependency cycle, and failures of subjects that are not configured checks.
  let unexplained: ChainNode[] = [];
  for (const info of infos.values()) {
    const inCycle = info.stretches.filter((s) => s.root === null);
    if (inCycle.length > 0) unexplained.push(sampler.node(info, inCycle, from));
  }
  const unconfigured = totalFailures > knownFailures ? log.unconfiguredFailures(infos).map((u) => sampler.unconfigured(u)) : [];
  unexplained.push(...unconfigured);
  unexplained.sort((a, b) => b.failures - a.failures || a.firstSeen - b.firstSeen);

  let coincidences = sharedCauseHints(chains, parts, simultaneousMs);
  if (options.check !== undefined) {
    const name = options.check;
    chains = chains.filter((c) => [c.root, ...c.effects, ...c.cascade, ...c.symptoms].some((n) => n.check === name));
    unexplained = unexplained.filter((n) => n.check === name);
    const roots = new Set(chains.map((c) => c.root.check));
    coincidences = coincidences.filter((h) => roots.has(h.a) || roots.has(h.b));
  }
  const summary = text.overall(
    chains,
    unexplained,
    unconfigured.map((n) => n.check),
    coincidences,
    options.check,
    parts,
  );
  return { from, to, totalFailures, chains, unexplained, summary };
}

/**
 * The queries. Bound values are written `+?`: with SQLite's STAT4 statistics
 * (better-sqlite3 builds with them) a statement whose plan depends on a bound
 * value is re-planned at every new binding, and these run thousands of times
 * per analysis; `+?` keeps the index use and skips the re-planning (about
 * half the time of the stretch queries).
 */
class FailureLog {
  private readonly failedBetween;
  private readonly lastFailedBefore;
  private readonly recoveredSince;
  private readonly lastRecoveredBefore;
  private readonly firstFailedSince;
  private readonly failedAt;

  constructor(
    private readonly db: Db,
    readonly from: number,
    readonly to: number,
  ) {
    const events = `events${perSubjectIndexHint(db)}`;
    this.failedBetween = db.prepare<[string, number, number], { count: number; first: number | null; last: number | null }>(
      `SELECT count(*) AS count, min(at) AS first, max(at) AS last FROM ${events} WHERE type = 'check.failed' AND subject = +? AND at >= +? AND at < +?`,
    );
    this.lastFailedBefore = db.prepare<[string, number], { at: number | null }>(
      `SELECT max(at) AS at FROM ${events} WHERE type = 'check.failed' AND subject = +? AND at < +?`,
    );
    this.recoveredSince = db.prepare<[string, number, number], { found: number }>(
      `SELECT EXISTS (SELECT 1 FROM ${events} WHERE type = 'check.recovered' AND subject = +? AND at >= +? AND at < +?) AS found`,
    );
    this.lastRecoveredBefore = db.prepare<[string, number, number], { at: number | null }>(
      `SELECT max(at) AS at FROM ${events} WHERE type = 'check.recovered' AND subject = +? AND at >= +? AND at <= +?`,
    );
    this.firstFailedSince = db.prepare<[string, number, number], { at: number | null }>(
      `SELECT min(at) AS at FROM ${events} WHERE type = 'check.failed' AND subject = +? AND at >= +? AND at < +?`,
    );
    this.failedAt = db.prepare<[string, number], { message: string | null; kind: string | null }>(
      `SELECT json_extract(context, '$.message') AS message, json_extract(context, '$.kind') AS kind FROM ${events} WHERE type = 'check.failed' AND subject = +? AND at = +? ORDER BY id LIMIT 1`,
    );
  }

  /** Recovery times in the window, per check, in time order. */
  recoveries(): Map<string, number[]> {
    const rows = this.db
      .prepare<[number, number], [string, number]>("SELECT subject, at FROM events WHERE type = 'check.recovered' AND at >= ? AND at <= ? ORDER BY at, id")
      .raw()
      .all(this.from, this.to);
    const bySubject = new Map<string, number[]>();
    for (const [subject, at] of rows) {
      const list = bySubject.get(subject);
      if (list) list.push(at);
      else bySubject.set(subject, [at]);
    }
    return bySubject;
  }

  /** Failed runs in [lo, hi) and the first and last of them. */
  failures(subject: string, lo: number, hi: number): { count: number; first: number; last: number } {
    const row = this.failedBetween.get(subject, lo, hi)!;
    return { count: row.count, first: row.first ?? NaN, last: row.last ?? NaN };
  }

  /** When a check failing at `from` began failing, and its last failed run before `from`; null when it was not failing. */
  carriedIn(subject: string): { since: number; lastFailure: number } | null {
    const lastFailure = this.lastFailedBefore.get(subject, this.from)!.at;
    if (lastFailure === null) return null;
    // A failure at the same ms as a recovery is taken as the later event (the segments below do the same).
    if (this.recoveredSince.get(subject, lastFailure + 1, this.from)!.found) return null;
    const horizon = this.from - CARRY_LOOKBACK_MS;
    const recovered = this.lastRecoveredBefore.get(subject, horizon, lastFailure)!.at;
    const since = this.firstFailedSince.get(subject, recovered ?? horizon, this.from)!.at ?? lastFailure;
    return { since, lastFailure };
  }

  /** The message (and kind) of the failed run of `subject` at `at`. */
  failedRun(subject: string, at: number): { message: string; kind: string | null } {
    const row = this.failedAt.get(subject, at);
    return { message: typeof row?.message === 'string' ? row.message : '', kind: row?.kind ?? null };
  }

  /** Failed runs in the window, all subjects. */
  totalFailures(): number {
    return this.db
      .prepare<[number, number], { n: number }>("SELECT count(*) AS n FROM events WHERE type = 'check.failed' AND at >= ? AND at <= ?")
      .get(this.from, this.to)!.n;
  }

  /** Failures in the window of subjects that are not configured checks. */
  unconfiguredFailures(known: ReadonlyMap<string, unknown>): Array<{ subject: string; count: number; first: number; last: number }> {
    const rows = this.db
      .prepare<[number, number], { subject: string; count: number; first: number; last: number }>(
        "SELECT subject, count(*) AS count, min(at) AS first, max(at) AS last FROM events WHERE type = 'check.failed' AND at >= ? AND at <= ? GROUP BY subject",
      )
      .all(this.from, this.to);
    return rows.filter((r) => !known.has(r.subject));
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
  const columns = (index: string) => db.prepare<[string], string>('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(index);
  if (indexes.some((index) => columns(index).slice(0, 3).join(',') === 'type,subject,at')) return '';
  return indexes.includes('events_subject_at') ? ' INDEXED BY events_subject_at' : '';
}

/** Step 1: a check's failing stretches, cut at its recoveries. */
function buildStretches(log: FailureLog, check: CheckInfo, recoveries: number[]): Stretch[] {
  const subject = check.name;
  const carried = log.carriedIn(subject);
  const stretches: Stretch[] = [];
  // Segment i holds the failures in [recovery i-1, recovery i); a failure at the ms of a recovery comes after it.
  let lo = log.from;
  for (let i = 0; i <= recoveries.length; i++) {
    const last = i === recoveries.length;
    const hi = last ? log.to + 1 : recoveries[i]!;
    const { count, first, last: lastFailure } = log.failures(subject, lo, hi);
    const carriedHere = i === 0 && carried !== null;
    if (count > 0 || carriedHere) {
      stretches.push({
        check,
        start: carriedHere ? carried.since : first,
        end: last ? Infinity : hi,
        failures: count,
        firstFailure: first,
        lastFailure,
        carriedFrom: carriedHere ? carried.lastFailure : null,
        parent: null,
        link: null,
        delayMs: 0,
        resolved: false,
        root: null,
        depth: 0,
      });
    }
    lo = hi;
  }
  return stretches;
}

/** Step 2: each stretch's best link to a stretch of one of its check's direct dependencies. */
function linkStretches(infos: Map<string, CheckInfo>, windowMs: number, simultaneousMs: number): void {
  for (const info of infos.values()) {
    for (const k of info.stretches) {
      let best: { j: Stretch; rank: number; distance: number } | null = null;
      for (const depName of info.dependsOn) {
        const list = infos.get(depName)?.stretches ?? [];
        for (let index = lastStartingBy(list, k.start + simultaneousMs); index >= 0; index--) {
          const j = list[index]!;
          const delay = k.start - j.start;
          const failing = j.end > k.start;
          const inWindow = delay <= windowMs;
          // Older stretches began even earlier and ended before this one began.
          if (!failing && !inWindow) break;
          const rank = failing ? (inWindow ? 0 : 2) : 1;
          const distance = Math.abs(delay);
          if (!best || rank < best.rank || (rank === best.rank && distance < best.distance)) best = { j, rank, distance };
        }
      }
      if (best) {
        k.parent = best.j;
        k.link = best.rank === 0 ? 'overlap' : best.rank === 1 ? 'recovered' : 'late';
        k.delayMs = k.start - best.j.start;
      }
    }
  }
}

/** Index of the last stretch starting at or before `at` (-1 if none). */
function lastStartingBy(list: Stretch[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.start <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Step 3: the root (and distance to it) of every stretch, following links upwards. */
function resolveRoots(all: Stretch[]): void {
  for (const start of all) {
    if (start.resolved) continue;
    const path: Stretch[] = [];
    const onPath = new Set<Stretch>();
    let node = start;
    let root: Stretch | null;
    let depth: number;
    for (;;) {
      if (node.resolved) {
        root = node.root;
        depth = node.depth;
        break;
      }
      if (onPath.has(node)) {
        root = null;
        depth = 0;
        break;
      }
      if (!node.parent) {
        node.resolved = true;
        node.root = node;
        node.depth = 0;
        root = node;
        depth = 0;
        break;
      }
      path.push(node);
      onPath.add(node);
      node = node.parent;
    }
    for (let i = path.length - 1; i >= 0; i--) {
      depth++;
      const s = path[i]!;
      s.resolved = true;
      s.root = root;
      s.depth = root ? depth : 0;
    }
  }
}

/** Step 4: stretches grouped by root check. */
function groupChains(all: Stretch[]): Map<string, ChainParts> {
  const chains = new Map<string, ChainParts>();
  for (const s of all) {
    if (!s.root) continue;
    const rootInfo = s.root.check;
    let chain = chains.get(rootInfo.name);
    if (!chain) {
      chain = { info: rootInfo, roots: [], downstream: new Map() };
      chains.set(rootInfo.name, chain);
    }
    if (s === s.root) {
      chain.roots.push(s);
      continue;
    }
    const node = chain.downstream.get(s.check.name);
    if (node) {
      node.stretches.push(s);
      node.depth = Math.min(node.depth, s.depth);
    } else {
      chain.downstream.set(s.check.name, { info: s.check, stretches: [s], depth: s.depth });
    }
  }
  for (const chain of chains.values()) {
    chain.roots.sort((a, b) => a.start - b.start);
    for (const node of chain.downstream.values()) node.stretches.sort((a, b) => a.start - b.start);
  }
  return chains;
}

function buildChain(parts: ChainParts, infos: Map<string, CheckInfo>, sampler: Sampler, text: Wording): CausalChain {
  const root = sampler.node(parts.info, parts.roots, text.from);
  const effects: ChainNode[] = [];
  const cascade: ChainNode[] = [];
  const symptoms: ChainNode[] = [];
  let explainedFailures = root.failures;
  for (const node of parts.downstream.values()) {
    const built = sampler.node(node.info, node.stretches, text.from);
    explainedFailures += built.failures;
    if (node.info.kind === 'log') symptoms.push(built);
    else if (node.depth === 1) effects.push(built);
    else cascade.push(built);
  }
  const byTime = (a: ChainNode, b: ChainNode) => a.firstSeen - b.firstSeen || a.check.localeCompare(b.check);
  effects.sort(byTime);
  cascade.sort(byTime);
  symptoms.sort(byTime);
  const chain: CausalChain = { root, effects, cascade, symptoms, explainedFailures, summary: '' };
  chain.summary = text.chain(chain, parts, infos);
  return chain;
}

function earliest(chain: CausalChain): number {
  return Math.min(...[chain.root, ...chain.effects, ...chain.cascade, ...chain.symptoms].map((n) => n.firstSeen));
}

/** Reads a few real messages per node to find its most common signature. */
class Sampler {
  constructor(
    private readonly log: FailureLog,
    private readonly redact: (text: string) => string,
  ) {}

  /**
   * A node from a check's stretches. The signature "most seen" is judged from
   * the first and last failed run of (at most 32, evenly spread) stretches,
   * each weighted by half the stretch's failures: reading every message
   * would parse every row's JSON, which a million rows cannot afford.
   */
  node(info: CheckInfo, stretches: Stretch[], from: number): ChainNode {
    let failures = 0;
    let firstSeen = Infinity;
    let lastSeen = -Infinity;
    for (const s of stretches) {
      if (s.failures === 0) continue;
      failures += s.failures;
      firstSeen = Math.min(firstSeen, s.firstFailure);
      lastSeen = Math.max(lastSeen, s.lastFailure);
    }
    if (failures === 0) {
      // Only a stretch carried in with no failed run inside the window: it was failing at `from`.
      firstSeen = from;
      lastSeen = from;
    }
    const samples: Array<{ at: number; weight: number }> = [];
    const withFailures = stretches.filter((s) => s.failures > 0);
    if (withFailures.length === 0) {
      const carried = stretches.find((s) => s.carriedFrom !== null);
      if (carried?.carriedFrom != null) samples.push({ at: carried.carriedFrom, weight: 1 });
    }
    const step = Math.max(1, withFailures.length / MAX_SAMPLED_STRETCHES);
    for (let i = 0; i < withFailures.length; i += step) {
      const s = withFailures[Math.floor(i)]!;
      if (s.failures === 1) {
        samples.push({ at: s.firstFailure, weight: 1 });
      } else {
        samples.push({ at: s.firstFailure, weight: Math.ceil(s.failures / 2) }, { at: s.lastFailure, weight: Math.floor(s.failures / 2) });
      }
    }
    const { signature, sampleMessage } = this.pick(info.name, samples);
    return { check: info.name, kind: info.kind, failures, firstSeen, lastSeen, signature, sampleMessage };
  }

  /** A node for a subject that is not a configured check (its kind read from its first failure). */
  unconfigured(row: { subject: string; count: number; first: number; last: number }): ChainNode {
    const kind = this.log.failedRun(row.subject, row.first).kind ?? 'unknown';
    const { signature, sampleMessage } = this.pick(row.subject, [
      { at: row.first, weight: 1 },
      { at: row.last, weight: 1 },
    ]);
    return { check: row.subject, kind, failures: row.count, firstSeen: row.first, lastSeen: row.last, signature, sampleMessage };
  }

  private pick(subject: string, samples: Array<{ at: number; weight: number }>): { signature: string; sampleMessage: string } {
    const bySignature = new Map<string, { weight: number; message: string; order: number }>();
    for (const { at, weight } of samples) {
      const message = this.log.failedRun(subject, at).message;
      const signature = normalizeError(message);
      const seen = bySignature.get(signature);
      if (seen) seen.weight += weight;
      else bySignature.set(signature, { weight, message, order: bySignature.size });
    }
    let best: [string, { weight: number; message: string; order: number }] | undefined;
    for (const entry of bySignature) {
      if (!best || entry[1].weight > best[1].weight || (entry[1].weight === best[1].weight && entry[1].order < best[1].order)) best = entry;
    }
    if (!best) return { signature: '', sampleMessage: '' };
    return { signature: this.redact(best[0]), sampleMessage: this.redact(best[1].message) };
  }
}

/** Pairs of roots that began failing together, with nothing failing upstream: a possible shared cause not watched. */
interface SharedCauseHint {
  a: string;
  b: string;
  together: number;
  of: number;
}

/** Step 6: roots that start within `simultaneousMs` of each other at least half of the times. */
function sharedCauseHints(chains: CausalChain[], parts: Map<string, ChainParts>, simultaneousMs: number): SharedCauseHint[] {
  const hints: SharedCauseHint[] = [];
  const top = chains.slice(0, 20).map((c) => parts.get(c.root.check)!);
  for (let i = 0; i < top.length; i++) {
    for (let j = i + 1; j < top.length; j++) {
      const [a, b] = top[i]!.roots.length <= top[j]!.roots.length ? [top[i]!, top[j]!] : [top[j]!, top[i]!];
      let together = 0;
      for (const s of a.roots) {
        const index = lastStartingBy(b.roots, s.start + simultaneousMs);
        if (index >= 0 && b.roots[index]!.start >= s.start - simultaneousMs) together++;
      }
      if (together > 0 && together * 2 >= a.roots.length) hints.push({ a: top[i]!.info.name, b: top[j]!.info.name, together, of: a.roots.length });
    }
  }
  return hints;
}

/** Plain-language summaries; times in UTC so they read the same on every machine. */
class Wording {
  constructor(
    readonly from: number,
    readonly to: number,
    private readonly totalFailures: number,
    private readonly windowMs: number,
    private readonly simultaneousMs: number,
  ) {}

  /**
   * "03:12 UTC" when the window lies within one UTC day (or `at` is on the
   * same day as `after`, a time just named), else "2025-01-06 03:12 UTC".
   */
  when(at: number, after?: number): string {
    const iso = new Date(at).toISOString();
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const sameDay = day(this.from) === day(this.to) || (after !== undefined && day(after) === day(at));
    return `${sameDay ? iso.slice(11, 16) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`} UTC`;
  }

  chain(chain: CausalChain, parts: ChainParts, infos: Map<string, CheckInfo>): string {
    const root = chain.root;
    const sentences: string[] = [];
    const carried = parts.roots.find((s) => s.carriedFrom !== null);
    if (root.failures === 0) {
      sentences.push(
        `${root.check} was already failing when the window began (since ${this.when(carried?.start ?? this.from)}; last: ${quote(root.sampleMessage)}).`,
      );
    } else {
      let first = `${root.check} failed at ${this.when(root.firstSeen)} (${quote(root.sampleMessage)})`;
      if (carried) first += `, already failing when the window began (since ${this.when(carried.start)})`;
      if (root.failures > 1) {
        const until = this.when(root.lastSeen, root.firstSeen);
        first += until === this.when(root.firstSeen) ? `; ${root.failures} failed runs within that minute` : `; ${root.failures} failed runs until ${until}`;
      }
      if (parts.roots.length > 1) first += ` in ${parts.roots.length} separate stretches`;
      sentences.push(`${first}.`);
    }
    const downstream = [...parts.downstream.values()];
    if (downstream.length === 0) {
      const deps = parts.info.dependsOn;
      sentences.push(
        `No dependency of ${root.check} was failing when it failed${deps.length === 0 ? ' (it has none configured)' : ` (${list(deps)} ${deps.length === 1 ? 'was' : 'were'} fine)`}: the cause is inside ${root.check} or outside what Nightshift watches.`,
      );
      const hint = this.dependencyLater(parts, infos);
      if (hint) sentences.push(hint);
      sentences.push(`This accounts for ${chain.explainedFailures} of ${failureEvents(this.totalFailures)}.`);
      return sentences.join(' ');
    }
    if (parts.info.dependsOn.length > 0) sentences.push(`None of its dependencies (${list(parts.info.dependsOn)}) was failing then.`);
    const timely = (n: NodeParts) => n.stretches.some((s) => s.link !== 'late');
    const byName = new Map(downstream.map((n) => [n.info.name, n]));
    const nodesOf = (nodes: ChainNode[], wanted: (n: NodeParts) => boolean) => nodes.filter((n) => wanted(byName.get(n.check)!));
    const effects = nodesOf(chain.effects, timely);
    if (effects.length > 0) {
      const delay = Math.max(
        0,
        ...effects.flatMap((n) =>
          byName
            .get(n.check)!
            .stretches.filter((s) => s.link !== 'late')
            .map((s) => s.delayMs),
        ),
      );
      const lead = delay <= this.simultaneousMs ? 'At the same time' : `Within ${formatDuration(delay)}`;
      sentences.push(`${lead} ${describeFailed(effects)}.`);
    }
    const cascade = nodesOf(chain.cascade, timely);
    if (cascade.length > 0) sentences.push(`Then ${describeFailed(cascade)}.`);
    const late = [...nodesOf(chain.effects, (n) => !timely(n)), ...nodesOf(chain.cascade, (n) => !timely(n))];
    if (late.length > 0) {
      sentences.push(
        `Later, more than ${formatDuration(this.windowMs)} after their dependency began failing but while it still was: ${list(late.map((n) => `${n.check} (${formatDuration(Math.min(...byName.get(n.check)!.stretches.map((s) => s.delayMs)))} after)`))}.`,
      );
    }
    const afterRecovery = downstream.filter((n) => n.stretches.some((s) => s.link === 'recovered'));
    for (const n of afterRecovery) {
      const parents = [...new Set(n.stretches.filter((s) => s.link === 'recovered').map((s) => s.parent!.check.name))];
      sentences.push(
        `${n.info.name} began failing after ${list(parents)} had already recovered, within ${formatDuration(this.windowMs)} of ${parents.length === 1 ? 'its' : 'their'} failure.`,
      );
    }
    if (chain.symptoms.length > 0) {
      const one = chain.symptoms.length === 1;
      sentences.push(`${describeNodes(chain.symptoms)} ${one ? 'is a symptom' : 'are symptoms'}, not ${one ? 'a cause' : 'causes'}.`);
    }
    sentences.push(`This chain explains ${chain.explainedFailures} of ${failureEvents(this.totalFailures)}.`);
    return sentences.join(' ');
  }

  /** For a standalone root: a dependency that began failing soon after it (its check may simply run less often). */
  private dependencyLater(parts: ChainParts, infos: Map<string, CheckInfo>): string | undefined {
    for (const s of parts.roots) {
      for (const dep of parts.info.dependsOn) {
        const later = infos.get(dep)?.stretches.find((j) => j.start > s.start && j.start - s.start <= this.windowMs);
        if (later) {
          return `Its dependency ${dep} began failing ${formatDuration(later.start - s.start)} after it, too late to have caused it by the log's order; if ${dep}'s check runs less often than ${parts.info.name}'s, ${dep} may have failed first.`;
        }
      }
    }
    return undefined;
  }

  overall(
    chains: CausalChain[],
    unexplained: ChainNode[],
    unconfigured: string[],
    hints: SharedCauseHint[],
    check: string | undefined,
    parts: Map<string, ChainParts>,
  ): string {
    const span = `between ${this.when(this.from)} and ${this.when(this.to)}`;
    if (this.totalFailures === 0) return `No check failed ${span}: there is nothing to explain.`;
    const sentences: string[] = [];
    if (check !== undefined && chains.length === 0 && unexplained.length === 0) {
      return `${check} did not fail ${span}, and no chain involves it (${failureEvents(this.totalFailures)} of other checks).`;
    }
    if (check !== undefined) sentences.push(`Chains involving ${check}:`);
    if (chains.length === 1) {
      const c = chains[0]!;
      sentences.push(`One root cause: ${c.root.check}, which explains ${c.explainedFailures} of ${failureEvents(this.totalFailures)}${downstreamNote(c)}.`);
    } else if (chains.length > 1) {
      const shown = chains.slice(0, 5).map((c) => `${c.root.check} (${c.explainedFailures})`);
      const more = chains.length > 5 ? ` and ${chains.length - 5} more` : '';
      sentences.push(
        `${capitalize(count(chains.length))} independent problems, ranked by how many of the ${this.totalFailures} failure events each explains: ${shown.join(', ')}${more}.`,
      );
    }
    const standalone = chains.filter((c) => (parts.get(c.root.check)?.downstream.size ?? 0) === 0).map((c) => c.root.check);
    if (standalone.length > 0) {
      sentences.push(
        `Nothing Nightshift watches explains ${list(standalone)}: no dependency was failing when ${standalone.length === 1 ? 'it' : 'they'} failed.`,
      );
    }
    for (const h of hints) {
      const times = h.of === 1 ? '' : ` (${h.together} of ${h.of} times)`;
      sentences.push(
        `${h.a} and ${h.b} began failing together${times}, within ${formatDuration(this.simultaneousMs)}, with nothing they depend on failing: they may share a cause Nightshift does not watch.`,
      );
    }
    if (unexplained.length > 0) {
      const failures = unexplained.reduce((sum, n) => sum + n.failures, 0);
      const cycle = unexplained.filter((n) => !unconfigured.includes(n.check)).map((n) => n.check);
      const notConfigured = unexplained.filter((n) => unconfigured.includes(n.check)).map((n) => n.check);
      const reasons: string[] = [];
      if (notConfigured.length > 0)
        reasons.push(
          `${list(notConfigured)} ${notConfigured.length === 1 ? 'is' : 'are'} not in the configuration, so ${notConfigured.length === 1 ? 'its' : 'their'} dependencies are unknown`,
        );
      if (cycle.length > 0) reasons.push(`${list(cycle)} depend on each other in a cycle, so no root can be named`);
      sentences.push(`${failures} failure event${failures === 1 ? ' is' : 's are'} left unexplained: ${reasons.join('; ')}.`);
    }
    return sentences.join(' ');
  }
}

/** "; after it api-1 and api-2 failed, and worker-log's errors are a symptom" in one clause, or nothing for a standalone failure. */
function downstreamNote(chain: CausalChain): string {
  const after = [...chain.effects, ...chain.cascade].map((n) => n.check);
  const clauses: string[] = [];
  if (after.length > 0) clauses.push(`${list(after)} failed after it`);
  if (chain.symptoms.length > 0) clauses.push(`${list(chain.symptoms.map((n) => n.check))} ${chain.symptoms.length === 1 ? 'is a symptom' : 'are symptoms'}`);
  return clauses.length > 0 ? ` (${clauses.join('; ')})` : '';
}

/** "api-1 and api-2 failed (HTTP 502 …)" when they share a signature, else "api-1 failed (…) and queue failed (…)". */
function describeFailed(nodes: ChainNode[]): string {
  const signatures = new Set(nodes.map((n) => n.signature));
  if (signatures.size === 1) return `${list(nodes.map((n) => n.check))} failed (${quote(nodes[0]!.sampleMessage)})`;
  return list(nodes.map((n) => `${n.check} failed (${quote(n.sampleMessage)})`));
}

/** "worker-log (error spike: …)" for each node. */
function describeNodes(nodes: ChainNode[]): string {
  return list(nodes.map((n) => `${n.check} (${quote(n.sampleMessage)})`));
}

function failureEvents(n: number): string {
  return `${n} failure event${n === 1 ? '' : 's'}`;
}

function quote(message: string): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return 'no message';
  return oneLine.length <= QUOTE_CHARS ? oneLine : `${oneLine.slice(0, QUOTE_CHARS - 1).trimEnd()}…`;
}

/** "a", "a and b", "a, b and c"; long lists end with "and N more". */
function list(items: readonly string[]): string {
  const shown = items.length > 6 ? [...items.slice(0, 5), `${items.length - 5} more`] : [...items];
  if (shown.length <= 1) return shown.join('');
  return `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`;
}

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

function count(n: number): string {
  return NUMBER_WORDS[n] ?? String(n);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
