/**
 * The deterministic causal analysis: from the event log, the dependency graph
 * and time order, which failures are root causes and which are their effects,
 * cascade and symptoms. No LLM: a diagnosis exists even when none answers.
 *
 * Evidence: only `check.failed` rows (one per failed run) and
 * `check.recovered` rows (the run that ended a failing stretch). Incident
 * rows are the patrol's own interpretation and are not read.
 *
 * Where each part lives:
 *  - causal/stretches.ts: step 1, each check's failing stretches in the
 *    window, read from the event log (store/failure-log.ts holds the SQL);
 *  - causal/algorithm.ts: steps 2 to 6, pure: links between stretches along
 *    the dependency graph, roots, chains (effects, cascade, and symptoms:
 *    checks whose kind declares itself one), ranking by explained failures,
 *    cycles and roots that may share a cause;
 *  - causal/evidence.ts: the signature and sample message of each node,
 *    read for a few sampled runs only;
 *  - causal/wording.ts: the sentences. A root with nothing downstream is a
 *    standalone failure: its summary says that no dependency was failing, so
 *    the cause is inside the check or outside what Nightshift watches; no
 *    cause is invented. Failures of subjects that are not configured checks
 *    (renamed or removed: their dependencies are unknown) are unexplained.
 *
 * Cost: no row is parsed in JavaScript. Stretches come from one aggregate
 * query per stretch; messages are read with json_extract only for sampled runs
 * (the first and last run of at most 32 stretches per check). The stretch
 * queries need the index `events(type, subject, at)` (migration
 * `events_type_subject_at`): with it they read only index pages and a week
 * of 1,000,000 events takes a few hundred ms (see bench/diagnose.ts);
 * without it SQLite reads every row's page to check its type (about 2 s).
 * (A partial index `(subject, at) WHERE type = 'check.failed'` is not
 * enough: with STAT4 statistics SQLite often prefers `events(subject, at)`
 * for it and reads the rows again.)
 */
import { isSymptomKind } from '../checks/index.js';
import { Redactor } from '../log/redact.js';
import type { Db } from '../store/database.js';
import { FailureLog } from '../store/failure-log.js';
import { findCausalChains, type ChainParts, type CheckStretches, type RootCluster } from './causal/algorithm.js';
import { Sampler } from './causal/evidence.js';
import { resourcesOf, sharedResource } from './causal/resources.js';
import { readStretches } from './causal/stretches.js';
import { Wording } from './causal/wording.js';
import type { RecordedChange } from '../store/failure-log.js';
import type { CausalAnalysis, CausalChain, ChainNode, FailureCluster, LatentCause } from './types.js';

/** What the analysis needs of a configured check (a CheckConfig fits). */
export interface CausalCheck {
  readonly name: string;
  readonly kind: string;
  readonly dependsOn: readonly string[];
  /** Its kind's keys as written: the host resources it uses are read from them (clusters name a shared one). */
  readonly params?: Record<string, unknown>;
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
  /** A recorded change at most this long before a root began failing is named as a candidate latent cause (default 3 days). */
  latentWindowMs?: number;
}

/** How long after its dependency began failing a dependent's failure counts as its effect. */
export const DEFAULT_EFFECT_WINDOW_MS = 5 * 60_000;
/** Failures this close are one patrol's: their order in the log says nothing (patrol interval 10 s, timeout 5 s). */
export const DEFAULT_SIMULTANEOUS_MS = 15_000;
/** A config edit or a deploy can take days to bite (the next restart, the next cron run). */
export const DEFAULT_LATENT_WINDOW_MS = 3 * 86_400_000;
/** An agent's reported error is named as a candidate cause of a failure that began at most this long after it. */
export const AGENT_ERROR_WINDOW_MS = 30 * 60_000;
/** Candidate latent causes named per root: the most recent are the likeliest. */
const MAX_LATENT_CAUSES = 2;

const patternRedactor = new Redactor();

/** Root causes, effects, cascade and symptoms of the failures in [from, to], ranked by how much of the log each explains. */
export function analyzeCausality(db: Db, checks: readonly CausalCheck[], options: CausalOptions): CausalAnalysis {
  return analyzeFailureLog(new FailureLog(db), checks, options);
}

/** analyzeCausality over a FailureLog made once (its statements prepared once) by a caller that analyses again and again. */
export function analyzeFailureLog(log: FailureLog, checks: readonly CausalCheck[], options: CausalOptions): CausalAnalysis {
  const { from, to } = options;
  const windowMs = options.effectWindowMs ?? DEFAULT_EFFECT_WINDOW_MS;
  const simultaneousMs = options.simultaneousMs ?? DEFAULT_SIMULTANEOUS_MS;
  const redact = options.redact ?? ((text: string) => patternRedactor.redact(text));

  // Step 1 (stretches.ts) reads the log; steps 2 to 6 (algorithm.ts) work on what it read.
  const empty = to < from;
  const recoveries = empty ? new Map<string, number[]>() : log.recoveries(from, to);
  const read = new Map<string, CheckStretches>();
  for (const c of checks) {
    if (read.has(c.name)) continue;
    read.set(c.name, {
      name: c.name,
      kind: c.kind,
      dependsOn: c.dependsOn,
      stretches: empty ? [] : readStretches(log, c.name, recoveries.get(c.name) ?? [], from, to),
    });
  }
  const totalFailures = empty ? 0 : log.totalFailures(from, to);
  const graph = findCausalChains([...read.values()], {
    from,
    effectWindowMs: windowMs,
    simultaneousMs,
    // What each registered kind declares (CheckKind.causalRole); the algorithm itself takes it as a parameter.
    isSymptom: isSymptomKind,
  });

  const text = new Wording(from, to, totalFailures, windowMs, simultaneousMs);
  const sampler = new Sampler(log, redact);
  const parts = new Map(graph.chains.map((p) => [p.info.name, p]));
  const latentWindowMs = options.latentWindowMs ?? DEFAULT_LATENT_WINDOW_MS;
  const earliestStart = Math.min(to, ...graph.chains.map((p) => p.roots[0]?.start ?? to));
  const changes = empty || graph.chains.length === 0 ? [] : log.changes(earliestStart - latentWindowMs, to);
  const agentErrors = empty || graph.chains.length === 0 ? [] : log.agentErrors(earliestStart - AGENT_ERROR_WINDOW_MS, to, (name) => graph.checks.has(name));
  let chains = graph.chains.map((p) =>
    buildChain(p, graph.checks, sampler, text, [
      ...latentCausesOf(p, agentErrors, AGENT_ERROR_WINDOW_MS, redact),
      ...latentCausesOf(p, changes, latentWindowMs, redact),
    ]),
  );

  // Unexplained: stretches in a dependency cycle, and failures of subjects that are not configured checks.
  let unexplained: ChainNode[] = graph.inCycle.map((c) => sampler.node(c.info, c.stretches, c.span));
  const unconfigured =
    totalFailures > graph.knownFailures
      ? log
          .failuresBySubject(from, to)
          .filter((r) => !graph.checks.has(r.subject))
          .map((u) => sampler.unconfigured(u))
      : [];
  unexplained.push(...unconfigured);
  unexplained.sort((a, b) => b.failures - a.failures || a.firstSeen - b.firstSeen);

  const byRoot = new Map(chains.map((c) => [c.root.check, c]));
  const configured = new Map(checks.map((c) => [c.name, c]));
  let clusters = graph.clusters.map((c) => describeCluster(c, byRoot, configured));
  if (options.check !== undefined) {
    const name = options.check;
    chains = chains.filter((c) => [c.root, ...c.effects, ...c.cascade, ...c.symptoms].some((n) => n.check === name));
    unexplained = unexplained.filter((n) => n.check === name);
    const roots = new Set(chains.map((c) => c.root.check));
    clusters = clusters.filter((c) => c.checks.some((m) => roots.has(m)));
  }
  const summary = text.overall(
    chains,
    unexplained,
    unconfigured.map((n) => n.check),
    clusters,
    options.check,
    parts,
  );
  return { from, to, totalFailures, chains, unexplained, clusters, summary };
}

/** The recorded changes concerning a root (or every check) that came before its first failure, within the window; newest first. */
function latentCausesOf(parts: ChainParts, changes: readonly RecordedChange[], windowMs: number, redact: (text: string) => string): LatentCause[] {
  const began = parts.roots[0]?.start;
  if (began === undefined) return [];
  const found: LatentCause[] = [];
  for (let i = changes.length - 1; i >= 0 && found.length < MAX_LATENT_CAUSES; i--) {
    const change = changes[i]!;
    if (change.at > began || began - change.at > windowMs) continue;
    if (change.checks.length > 0 && !change.checks.includes(parts.info.name)) continue;
    found.push({ at: change.at, subject: change.subject, source: change.source, summary: redact(change.summary), beforeMs: began - change.at });
  }
  return found;
}

/** A cluster of roots with what its members share: a message most failed with, a resource all use. */
function describeCluster(cluster: RootCluster, byRoot: Map<string, CausalChain>, configured: Map<string, CausalCheck>): FailureCluster {
  const roots = cluster.members.map((m) => byRoot.get(m)?.root).filter((n): n is ChainNode => n !== undefined);
  const bySignature = new Map<string, { message: string; members: number }>();
  for (const node of roots) {
    if (node.signature === '') continue;
    const seen = bySignature.get(node.signature);
    if (seen) seen.members++;
    else bySignature.set(node.signature, { message: node.sampleMessage, members: 1 });
  }
  let shared: FailureCluster['shared'] = null;
  for (const candidate of bySignature.values()) if (candidate.members >= 2 && (!shared || candidate.members > shared.members)) shared = candidate;
  const resource = sharedResource(
    cluster.members.map((m) => {
      const check = configured.get(m);
      return check ? resourcesOf(check.kind, check.params) : [];
    }),
  );
  return { checks: cluster.members, together: cluster.together, of: cluster.of, shared, resource };
}

/** A chain as the diagnosis reports it: the algorithm's nodes with their evidence, and its paragraph. */
function buildChain(parts: ChainParts, checks: Map<string, ChainParts['info']>, sampler: Sampler, text: Wording, latentCauses: LatentCause[]): CausalChain {
  const root = sampler.node(parts.info, parts.roots, parts.rootSpan);
  const withEvidence = (nodes: ChainParts['effects']) => nodes.map((n) => sampler.node(n.info, n.stretches, n.span));
  const chain: CausalChain = {
    root,
    effects: withEvidence(parts.effects),
    cascade: withEvidence(parts.cascade),
    symptoms: withEvidence(parts.symptoms),
    explainedFailures: parts.explainedFailures,
    latentCauses,
    summary: '',
  };
  chain.summary = text.chain(chain, parts, checks);
  return chain;
}
