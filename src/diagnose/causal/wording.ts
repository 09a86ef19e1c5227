/** The English of the causal analysis: one paragraph per chain and a few sentences over all. */
import { formatDuration } from '../../util/duration.js';
import type { CausalChain, ChainNode, FailureCluster } from '../types.js';
import type { ChainParts, CheckInfo, NodeParts } from './algorithm.js';

/** Longest sample message quoted in a summary. */
const QUOTE_CHARS = 100;
/** Longest evidence line quoted after it (the telling line is the point: it gets more room). */
const TELLING_CHARS = 160;
/** Longest change summary quoted as a candidate latent cause. */
const CHANGE_CHARS = 140;

/** Plain-language summaries; times in UTC so they read the same on every machine. */
export class Wording {
  /** One timestamp format for the whole text: the date is shown only when the window spans more than one UTC day. */
  private readonly withDate: boolean;

  constructor(
    readonly from: number,
    readonly to: number,
    private readonly totalFailures: number,
    private readonly windowMs: number,
    private readonly simultaneousMs: number,
  ) {
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    this.withDate = day(from) !== day(to);
  }

  /** "03:12:05 UTC", or "2025-01-06 03:12:05 UTC" for every time of a window that spans days. */
  when(at: number): string {
    const iso = new Date(at).toISOString();
    return `${this.withDate ? `${iso.slice(0, 10)} ` : ''}${iso.slice(11, 19)} UTC`;
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
      const began = root.beganWith !== undefined ? `first ${quote(root.beganWith)}, then mostly: ` : '';
      let first = `${root.check} failed at ${this.when(root.firstSeen)} (${began}${quoteWithEvidence(root)})`;
      if (carried) first += `, already failing when the window began (since ${this.when(carried.start)})`;
      if (root.failures > 1) {
        const sameMinute = Math.floor(root.firstSeen / 60_000) === Math.floor(root.lastSeen / 60_000);
        first += sameMinute ? `; ${root.failures} failed runs within that minute` : `; ${root.failures} failed runs until ${this.when(root.lastSeen)}`;
      }
      if (parts.roots.length > 1) first += ` in ${parts.roots.length} separate stretches`;
      sentences.push(`${first}.`);
    }
    const latent = this.latent(chain);
    if (latent) sentences.push(latent);
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

  /** "Candidate latent cause: db began failing 4 min after a change: .env of db changed: DATABASE_URL removed." */
  private latent(chain: CausalChain): string | undefined {
    if (chain.latentCauses.length === 0) return undefined;
    const [newest, ...older] = chain.latentCauses;
    const after = newest!.source === 'agent' ? 'an agent reported an error' : 'a change';
    let sentence = `Candidate latent cause: ${chain.root.check} began failing ${formatDuration(newest!.beforeMs)} after ${after}: ${quote(newest!.summary, CHANGE_CHARS)} (${this.when(newest!.at)})`;
    if (older.length > 0) sentence += `; before that: ${list(older.map((c) => `${quote(c.summary, CHANGE_CHARS)} (${formatDuration(c.beforeMs)} before)`))}`;
    return `${sentence}.`;
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
    clusters: FailureCluster[],
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
    // A root in a cluster is said once, in its cluster's sentence (which says nothing it depends on was failing).
    const clustered = new Set(clusters.flatMap((c) => c.checks));
    const standalone = chains.filter((c) => (parts.get(c.root.check)?.downstream.size ?? 0) === 0 && !clustered.has(c.root.check)).map((c) => c.root.check);
    if (standalone.length > 0) {
      sentences.push(
        `Nothing Nightshift watches explains ${list(standalone)}: no dependency was failing when ${standalone.length === 1 ? 'it' : 'they'} failed.`,
      );
    }
    for (const c of clusters) sentences.push(this.cluster(c));
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

  /**
   * One sentence per cluster, whatever its size: "3 checks failed together
   * with "command not found: svcctl" (a, b and c), within 15s, with nothing
   * they depend on failing: they may share a cause Nightshift does not watch."
   */
  private cluster(c: FailureCluster): string {
    const n = c.checks.length;
    const times = c.of === 1 ? '' : ` (${c.together} of ${c.of} times)`;
    const all = c.shared?.members === n;
    let lead = all ? `${n} checks failed together with "${quote(c.shared!.message)}" (${list(c.checks)})` : `${list(c.checks)} began failing together`;
    lead += times;
    if (c.shared && !all) lead += `, ${c.shared.members} of them with "${quote(c.shared.message)}"`;
    if (c.resource) lead += `, all of them using ${c.resource}`;
    return `${lead}, within ${formatDuration(this.simultaneousMs)} of each other, with nothing they depend on failing: they may share a cause Nightshift does not watch.`;
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

/** The node's message, with its most telling evidence line when that says more: "exited with code 1 after 166ms; stderr: FATAL: …". */
function quoteWithEvidence(node: ChainNode): string {
  if (!node.evidence) return quote(node.sampleMessage);
  const flat = (text: string) => text.replace(/\s+/g, ' ').trim();
  // A message that already quotes the line (a process's exit with its last stderr line) gets the room to show it whole.
  if (flat(node.sampleMessage).includes(flat(node.evidence.line).replace(/…$/, ''))) return quote(node.sampleMessage, QUOTE_CHARS + TELLING_CHARS);
  return `${quote(node.sampleMessage)}; ${node.evidence.from}: ${quote(node.evidence.line, TELLING_CHARS)}`;
}

function quote(message: string, max = QUOTE_CHARS): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return 'no message';
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1).trimEnd()}…`;
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
