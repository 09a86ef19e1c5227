import type { z } from 'zod';
import type { Logger } from '../log/logger.js';

/** What one run of a check found. `details` becomes the context of its events (exit code, latency, bytes...). */
export interface CheckResult {
  ok: boolean;
  /** One human line: "12.4 GiB free (41%)", "connection refused". */
  message: string;
  details?: Record<string, unknown>;
}

/** Passed to every run: the abort signal fires when the check's timeout expires or the bot stops. */
export interface CheckRunContext {
  signal: AbortSignal;
  now: () => number;
}

/** Services a probe may need from the running bot; the composition root fills them in. */
export interface CheckEnvironment {
  log: Logger;
  dataDir: string;
  now: () => number;
  /** Probes the bot itself: event-loop delay, store writability, heartbeat age. */
  self: SelfProbe;
}

export interface SelfProbe {
  /** p99 event-loop delay over the last measurement window, in ms. */
  eventLoopDelayP99Ms(): number;
  /** Writes and reads back a row; throws when the store cannot be written. */
  storeRoundTrip(): void;
  /** Resident set size in bytes. */
  rssBytes(): number;
}

/** A configured check bound to its parameters; may keep state between runs (offsets, children). */
export interface Probe {
  run(ctx: CheckRunContext): Promise<CheckResult>;
  /** Releases what the probe holds (timers, children) when the bot stops. */
  dispose?(): Promise<void> | void;
}

/**
 * A check kind: one module under src/checks/, registered in index.ts.
 * `params` is the zod schema of its kind-specific keys in nightshift.yml.
 */
export interface CheckKind<Params = unknown> {
  kind: string;
  description: string;
  params: z.ZodType<Params, Record<string, unknown>>;
  create(params: Params, env: CheckEnvironment): Probe;
}

/** A registry holds kinds of different parameter types; each is checked where it is defined. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCheckKind = CheckKind<any>;
