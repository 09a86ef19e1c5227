/**
 * The causal algorithm over failing stretches: pure (no store, no clock), so
 * it can be driven with literal arrays. Its input is, per configured check,
 * the stretches the event log shows it failing (see stretches.ts); its output
 * the chains, ranked, and what no chain explains. Sampling messages and
 * wording sentences are the callers' (evidence.ts, wording.ts).
 *
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
 *     checks whose kind declares itself a symptom (a log's error spike)
 *     anywhere downstream are symptoms. A dependent that began failing
 *     longer than the window after its failing dependency is kept in the
 *     chain (its dependency was still failing).
 *  5. Ranking by explainedFailures (failed runs of root + downstream), ties
 *     by dependency (a root another tied root depends on comes first), then
 *     by when the earliest failure began (runs are dated by their start, so
 *     a slow check that failed first is not ranked after the fast ones that
 *     finished before it): never by how often the root alone failed.
 *  6. Stretches caught in a dependency cycle are left unexplained. Roots
 *     that start together (within `simultaneousMs`, at least half of the
 *     times) with nothing failing upstream and no declared edge between them
 *     form clusters (connected groups of such pairs): each cluster may share
 *     a cause Nightshift does not watch, and is said in one sentence, however
 *     many checks it holds.
 */
import { upstreamOf } from '../../util/graph.js';

/** How a stretch is linked to the dependency stretch that explains it. */
export type Link = 'overlap' | 'recovered' | 'late';

/** One failing stretch of one check, as the event log shows it. */
export interface StretchInput {
  /** When it began failing (before the window's start when carried in). */
  readonly start: number;
  /** When it recovered; Infinity when still failing at the window's end. */
  readonly end: number;
  /** Failed runs inside the window, and the first and last of them (NaN when none). */
  readonly failures: number;
  readonly firstFailure: number;
  readonly lastFailure: number;
  /** Already failing at the window's start: the time of its last failed run before it; null otherwise. */
  readonly carriedFrom: number | null;
}

/** One configured check and its failing stretches, in time order. */
export interface CheckStretches {
  readonly name: string;
  readonly kind: string;
  readonly dependsOn: readonly string[];
  readonly stretches: readonly StretchInput[];
}

export interface AlgorithmOptions {
  /** Window start, ms since epoch: the time a node with no failed run in the window is dated at. */
  from: number;
  /** A dependent failing this long after its dependency began failing is an effect of it. */
  effectWindowMs: number;
  /** Failures this close are simultaneous: a dependency failing up to this long after its dependent still comes first. */
  simultaneousMs: number;
  /** Whether a check kind's failures are symptoms, never causes (declared by the kind, see CheckKind.causalRole). */
  isSymptom: (kind: string) => boolean;
}

export interface CheckInfo {
  name: string;
  kind: string;
  /** Its direct dependencies, itself left out. */
  dependsOn: string[];
  /** Its kind's failures are symptoms. */
  symptom: boolean;
  stretches: Stretch[];
}

/** A stretch with what the algorithm found about it. */
export interface Stretch extends StretchInput {
  check: CheckInfo;
  /** The dependency stretch that explains it; null for a root. */
  parent: Stretch | null;
  link: Link | null;
  /** start - parent.start. */
  delayMs: number;
  /** The root stretch it leads to; null inside a dependency cycle. */
  root: Stretch | null;
  /** Links from its root (0 for the root itself). */
  depth: number;
  resolved: boolean;
}

/** Failed runs of a node in the window and when the first and last happened. */
export interface NodeSpan {
  failures: number;
  firstSeen: number;
  lastSeen: number;
}

export type DownstreamRole = 'effect' | 'cascade' | 'symptom';

/** One downstream check of a chain: its stretches in the chain, in time order. */
export interface NodeParts {
  info: CheckInfo;
  stretches: Stretch[];
  /** Links from the root to the nearest of its stretches. */
  depth: number;
  span: NodeSpan;
  role: DownstreamRole;
}

/** One root check and what its stretches explain. */
export interface ChainParts {
  info: CheckInfo;
  /** The root check's root stretches, in time order. */
  roots: Stretch[];
  rootSpan: NodeSpan;
  downstream: Map<string, NodeParts>;
  /** The downstream nodes by role, each by first failure (then name). */
  effects: NodeParts[];
  cascade: NodeParts[];
  symptoms: NodeParts[];
  /** Failed runs of root + downstream: the ranking key. */
  explainedFailures: number;
}

/** Roots that began failing together, with nothing failing upstream and no edge between them: a possible shared cause not watched. */
export interface RootCluster {
  /** Root check names, in rank order. */
  members: string[];
  /** Of the `of` stretches of the pair that coincided least reliably, how many began together (with `of` 1 it was once). */
  together: number;
  of: number;
}

export interface CausalGraph {
  /** Every configured check, by name. */
  checks: Map<string, CheckInfo>;
  /** Ranked by explainedFailures, then earliest failure, then root name. */
  chains: ChainParts[];
  /** Per check, the stretches caught in a dependency cycle (no root can be named). */
  inCycle: Array<{ info: CheckInfo; stretches: Stretch[]; span: NodeSpan }>;
  /** Failed runs in the window of the configured checks. */
  knownFailures: number;
  clusters: RootCluster[];
}

/** Steps 2 to 6 over the checks' stretches; the first of several checks with one name counts. */
export function findCausalChains(checks: readonly CheckStretches[], options: AlgorithmOptions): CausalGraph {
  const infos = new Map<string, CheckInfo>();
  let knownFailures = 0;
  for (const c of checks) {
    if (infos.has(c.name)) continue;
    const info: CheckInfo = {
      name: c.name,
      kind: c.kind,
      dependsOn: c.dependsOn.filter((d) => d !== c.name),
      symptom: options.isSymptom(c.kind),
      stretches: [],
    };
    info.stretches = c.stretches.map((s) => ({ ...s, check: info, parent: null, link: null, delayMs: 0, root: null, depth: 0, resolved: false }));
    for (const s of info.stretches) knownFailures += s.failures;
    infos.set(c.name, info);
  }

  linkStretches(infos, options.effectWindowMs, options.simultaneousMs);
  const all = [...infos.values()].flatMap((i) => i.stretches);
  resolveRoots(all);

  const chains = groupChains(all, options.from);
  // A stretch carried into the window with no failed run in it explains nothing by itself (only as a dependency).
  const explaining = chains.filter((p) => !(p.roots.every((s) => s.failures === 0) && p.downstream.size === 0));
  const reaches = dependencyReach(infos);
  explaining.sort(
    (a, b) =>
      b.explainedFailures - a.explainedFailures ||
      (reaches(b.info.name, a.info.name) ? -1 : reaches(a.info.name, b.info.name) ? 1 : 0) ||
      earliest(a) - earliest(b) ||
      a.info.name.localeCompare(b.info.name),
  );

  const inCycle: CausalGraph['inCycle'] = [];
  for (const info of infos.values()) {
    const stretches = info.stretches.filter((s) => s.root === null);
    if (stretches.length > 0) inCycle.push({ info, stretches, span: spanOf(stretches, options.from) });
  }
  return { checks: infos, chains: explaining, inCycle, knownFailures, clusters: rootClusters(explaining, options.simultaneousMs, reaches) };
}

/**
 * Failed runs of some stretches and the first and last of them; stretches
 * carried in with no failed run inside the window date the node at `from`
 * (it was failing then).
 */
export function spanOf(stretches: readonly Stretch[], from: number): NodeSpan {
  let failures = 0;
  let firstSeen = Infinity;
  let lastSeen = -Infinity;
  for (const s of stretches) {
    if (s.failures === 0) continue;
    failures += s.failures;
    firstSeen = Math.min(firstSeen, s.firstFailure);
    lastSeen = Math.max(lastSeen, s.lastFailure);
  }
  if (failures === 0) return { failures, firstSeen: from, lastSeen: from };
  return { failures, firstSeen, lastSeen };
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
function lastStartingBy(list: readonly StretchInput[], at: number): number {
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

/** Step 4: stretches grouped by root check, downstream checks given their role. */
function groupChains(all: Stretch[], from: number): ChainParts[] {
  const chains = new Map<string, ChainParts>();
  for (const s of all) {
    if (!s.root) continue;
    const rootInfo = s.root.check;
    let chain = chains.get(rootInfo.name);
    if (!chain) {
      chain = {
        info: rootInfo,
        roots: [],
        rootSpan: { failures: 0, firstSeen: from, lastSeen: from },
        downstream: new Map(),
        effects: [],
        cascade: [],
        symptoms: [],
        explainedFailures: 0,
      };
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
      chain.downstream.set(s.check.name, {
        info: s.check,
        stretches: [s],
        depth: s.depth,
        span: { failures: 0, firstSeen: from, lastSeen: from },
        role: 'effect',
      });
    }
  }
  const byTime = (a: NodeParts, b: NodeParts) => a.span.firstSeen - b.span.firstSeen || a.info.name.localeCompare(b.info.name);
  for (const chain of chains.values()) {
    chain.roots.sort((a, b) => a.start - b.start);
    chain.rootSpan = spanOf(chain.roots, from);
    chain.explainedFailures = chain.rootSpan.failures;
    for (const node of chain.downstream.values()) {
      node.stretches.sort((a, b) => a.start - b.start);
      node.span = spanOf(node.stretches, from);
      node.role = node.info.symptom ? 'symptom' : node.depth === 1 ? 'effect' : 'cascade';
      chain.explainedFailures += node.span.failures;
      (node.role === 'symptom' ? chain.symptoms : node.role === 'effect' ? chain.effects : chain.cascade).push(node);
    }
    chain.effects.sort(byTime);
    chain.cascade.sort(byTime);
    chain.symptoms.sort(byTime);
  }
  return [...chains.values()];
}

function earliest(chain: ChainParts): number {
  return Math.min(chain.rootSpan.firstSeen, ...[...chain.downstream.values()].map((n) => n.span.firstSeen));
}

/** `reaches(a, b)`: check a depends on b, directly or through others (each check's upstream computed once, when asked). */
function dependencyReach(infos: Map<string, CheckInfo>): (a: string, b: string) => boolean {
  const memo = new Map<string, Set<string>>();
  const dependsOnOf = (name: string) => infos.get(name)?.dependsOn ?? [];
  return (a, b) => {
    let upstream = memo.get(a);
    if (!upstream) memo.set(a, (upstream = upstreamOf(a, dependsOnOf)));
    return upstream.has(b);
  };
}

/** Roots this many top chains apart are compared; more would cost the square for a note nobody reads. */
const CLUSTER_CANDIDATES = 50;

/**
 * Step 6: clusters of roots (of the top chains) that start within
 * `simultaneousMs` of each other at least half of the times, with no
 * declared dependency between them: the connected groups of such pairs.
 */
function rootClusters(ranked: ChainParts[], simultaneousMs: number, reaches: (a: string, b: string) => boolean): RootCluster[] {
  const top = ranked.slice(0, CLUSTER_CANDIDATES);
  const parent = top.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const weakest = new Map<number, { together: number; of: number }>();
  const edges: Array<[number, number, number, number]> = [];
  for (let i = 0; i < top.length; i++) {
    for (let j = i + 1; j < top.length; j++) {
      const x = top[i]!;
      const y = top[j]!;
      if (reaches(x.info.name, y.info.name) || reaches(y.info.name, x.info.name)) continue;
      const [a, b] = x.roots.length <= y.roots.length ? [x, y] : [y, x];
      let together = 0;
      for (const s of a.roots) {
        const index = lastStartingBy(b.roots, s.start + simultaneousMs);
        if (index >= 0 && b.roots[index]!.start >= s.start - simultaneousMs) together++;
      }
      if (together > 0 && together * 2 >= a.roots.length) {
        edges.push([i, j, together, a.roots.length]);
        parent[find(i)] = find(j);
      }
    }
  }
  for (const [i, , together, of] of edges) {
    const root = find(i);
    const seen = weakest.get(root);
    if (!seen || together / of < seen.together / seen.of) weakest.set(root, { together, of });
  }
  const groups = new Map<number, string[]>();
  top.forEach((chain, i) => {
    const root = find(i);
    if (!weakest.has(root)) return;
    const members = groups.get(root);
    if (members) members.push(chain.info.name);
    else groups.set(root, [chain.info.name]);
  });
  return [...groups.entries()].map(([root, members]) => ({ members, ...weakest.get(root)! }));
}
