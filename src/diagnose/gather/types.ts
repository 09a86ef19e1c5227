/**
 * Read-only evidence a diagnosis gathers before it asks the model: what the
 * failing check's log, process, ports and disk look like right now. Every
 * tool only reads (files, /proc, statfs, journalctl); none writes, runs a
 * shell or makes a network call.
 */
import type { CheckConfig } from '../../checks/types.js';

/** One failing check to look at. */
export interface GatherTarget {
  check: CheckConfig;
  /** The details of its latest run (check_state.lastDetails): process: pid, logFile, exitCode...; log: path; http: url... */
  lastDetails: Record<string, unknown> | null;
}

export type GatherToolName = 'log-tail' | 'process' | 'ports' | 'disk';

/** What one tool saw of one thing. */
export interface Gathered {
  check: string;
  tool: GatherToolName;
  /** What was looked at, short: "data/logs/db.log", "pid 4242", "port 5432", "/srv/app". */
  target: string;
  /** false: the tool could not look (the text says why). */
  ok: boolean;
  /** What it saw, redacted, at most maxBytes of UTF-8. */
  text: string;
  durationMs: number;
  truncated: boolean;
}

export interface GatherOptions {
  dataDir: string;
  /** The bot's Redactor.redact: applied to every text and target. */
  redact: (text: string) => string;
  /** Per look, default 2000. */
  timeoutMs?: number;
  /** Per look's text, in UTF-8 bytes, default 4096. */
  maxBytes?: number;
  /** The whole gathering, default 8000: what has not started by then is reported as not looked at. */
  totalTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * The environment of the one program gathering runs (journalctl): the
   * bot's child environment (without its tokens) by default.
   */
  commandEnv?: NodeJS.ProcessEnv;
}

/** What a tool needs to decide what to look at. */
export interface PlanContext {
  dataDir: string;
  commandEnv: NodeJS.ProcessEnv;
}

/** Passed to every look: aborted when its own time or the gathering's runs out. */
export interface LookContext {
  signal: AbortSignal;
  /** performance.now() at which the look is cut off: a look that can answer in part (a long search) stops before it. */
  deadline: number;
  /** The text's byte cap; a look keeps to it itself so it reads no more than it can show. */
  maxBytes: number;
  redact: (text: string) => string;
}

/** What a look found. The runner redacts `text` and cuts it to the byte cap, so a look need do neither; one that cuts text itself redacts it first. */
export interface LookResult {
  ok: boolean;
  text: string;
  truncated?: boolean;
}

/** One thing a tool will look at for one target: a log file, a pid, a port, a path. */
export interface Look {
  /** Short, for the "Looked at:" list: "data/logs/db.log", "pid 4242", "port 5432". */
  target: string;
  run(ctx: LookContext): Promise<LookResult>;
}

/**
 * A read-only tool: one module under gather/, listed in index.ts. `plan`
 * decides from the check's kind, params and last details what there is to
 * look at (nothing: an empty list) and does no I/O beyond cheap existence
 * checks; the looks do the reading.
 */
export interface GatherTool {
  name: GatherToolName;
  /** Its text ends with the newest (a tail): what is over the cap is cut from the front. */
  newestLast?: boolean;
  plan(target: GatherTarget, context: PlanContext): Look[];
}
