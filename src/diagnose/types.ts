/** One check's part in a causal chain, with the evidence from the event log. */
export interface ChainNode {
  check: string;
  kind: string;
  /** Failed runs of this check in the analysed window. */
  failures: number;
  /** ms since epoch of the first and last failed run in the window. */
  firstSeen: number;
  lastSeen: number;
  /** The normalised error most seen (numbers, ids, paths folded): see signature.ts. */
  signature: string;
  /** One real message with that signature, redacted. */
  sampleMessage: string;
  /** The most telling line of that run's evidence (a stderr FATAL line), redacted; null when none stands out (see telling-line.ts). */
  evidence: { line: string; from: 'stderr' | 'stdout' | 'log' | 'body' } | null;
  /** The first failed run's message, when its signature is not the one most seen (redacted). */
  beganWith?: string;
}

/** One root cause and what it explains downstream. */
export interface CausalChain {
  root: ChainNode;
  /** Direct dependents that started failing within the effect window after the root. */
  effects: ChainNode[];
  /** Dependents of the effects (transitively) that followed them. */
  cascade: ChainNode[];
  /** Failures of kinds that declare themselves symptoms (a log's error spike) of affected services: symptoms, not causes. */
  symptoms: ChainNode[];
  /** Failure events this chain explains (root + downstream): the ranking key. */
  explainedFailures: number;
  /** Recorded changes that preceded the root's first failure (within the latent window), newest first: candidate latent causes. */
  latentCauses: LatentCause[];
  /** One plain-language paragraph. */
  summary: string;
}

/** A recorded change (a `change` event) that preceded a root's failure: it may be why, days later. */
export interface LatentCause {
  /** When the change happened, ms. */
  at: number;
  /** What changed: a watched repo, 'config', an ollama check. */
  subject: string;
  source: string;
  /** The change in one line ("git HEAD of api moved …"), as recorded (never a value). */
  summary: string;
  /** How long before the root began failing. */
  beforeMs: number;
}

/** Roots that began failing together with nothing they depend on failing and no edge between them. */
export interface FailureCluster {
  checks: string[];
  together: number;
  of: number;
  /** A message most members failed with, and how many did; null when no two share one. */
  shared: { message: string; members: number } | null;
  /** A host resource all members use (a host:port, a folder); null when none. */
  resource: string | null;
}

/** The deterministic diagnosis: it exists even when no LLM answers. */
export interface CausalAnalysis {
  from: number;
  to: number;
  /** Failure events in the window (all checks). */
  totalFailures: number;
  /** Ranked by explainedFailures, most first (never by raw frequency of one check). */
  chains: CausalChain[];
  /** Failures nothing in the dependency graph explains, said honestly rather than attributed. */
  unexplained: ChainNode[];
  /** Independent roots that began failing together: each may share a cause Nightshift does not watch. */
  clusters: FailureCluster[];
  /** A few sentences for a human. */
  summary: string;
}
