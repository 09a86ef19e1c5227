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
  /** One plain-language paragraph. */
  summary: string;
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
  /** A few sentences for a human. */
  summary: string;
}
