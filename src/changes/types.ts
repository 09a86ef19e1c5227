import type { z } from 'zod';
import type { OllamaEndpoint } from '../checks/ollama.js';
import type { EventContexts } from '../store/events.js';

/** Where a change was seen: one module per source (src/changes/index.ts lists them). */
export type ChangeSourceName = EventContexts['change']['source'];

/** A folder watched for changes: a `watch.repos` entry or a repair target. */
export interface WatchedTree {
  /** The event subject: the repo's or target's name. */
  name: string;
  /** Absolute and real. */
  path: string;
  checks: string[];
}

/** An Ollama server whose model list is watched, with the checks that use it. */
export interface WatchedHost {
  endpoint: OllamaEndpoint;
  /** The event subject: the first ollama check of this host, or "ollama" for the diagnosis model's host alone. */
  subject: string;
  checks: string[];
}

/** Everything a configuration asks to be watched (src/changes/plan.ts derives it from Config). */
export interface WatchPlan {
  trees: WatchedTree[];
  files: Array<{ path: string; checks: string[] }>;
  /** The config file Nightshift was started from; null for the embedded default. */
  configFile: string | null;
  hosts: WatchedHost[];
}

/** One thing a source watches: its snapshot is stored under `key`; `subject` and `checks` go into its events. */
export interface WatchedThing {
  /** Unique within its source, stable across restarts (a path, a host's URL). */
  key: string;
  subject: string;
  checks: string[];
  /** How logs name it. */
  label: string;
}

/** What a source may use while it looks. */
export interface LookContext {
  /** Aborted when the source's time is up or the watcher stops. */
  signal: AbortSignal;
  /** The environment of the commands it runs (git). */
  env: NodeJS.ProcessEnv;
  fetch: typeof fetch;
  /** True the first time this run of Nightshift looks at the thing: a difference then happened while it was down. */
  firstLook: boolean;
}

/** One change a source found, before it becomes a `change` event. */
export interface DetectedChange {
  /** One line, no value: see EventContexts['change'].summary. */
  summary: string;
  /** Overrides the thing's checks (the config source names the checks that changed). */
  checks?: string[];
  path?: string;
  before?: string | null;
  after?: string;
  /** When it happened, when the source can tell (a reflog time, an mtime); the watcher bounds it. */
  happenedAt?: number;
}

/**
 * One kind of change: what it watches, how it reads a thing's state, and
 * what differs between two states. The watcher owns the snapshots, the
 * events, the timing and the errors; a source only reads.
 */
export interface ChangeSource<Thing extends WatchedThing, State> {
  readonly source: ChangeSourceName;
  /** The shape of a stored snapshot: one that does not match (an older version's) counts as none. */
  readonly state: z.ZodType<State>;
  /** Everything this source watches under `plan`. */
  things(plan: WatchPlan): Thing[];
  /**
   * The thing's state now, as JSON-able data with a stable key order; null
   * when it has none to compare (a plain folder has no HEAD, a host does not
   * answer): nothing is stored or recorded then. `previous` lets a file whose
   * size and mtime did not move skip being read again.
   */
  read(thing: Thing, ctx: LookContext, previous: State | undefined): Promise<State | null>;
  /** What changed from `before` to `after`: [] when nothing that matters did (a touched file, a comment). */
  compare(thing: Thing, before: State, after: State, ctx: LookContext): Promise<DetectedChange[]>;
}

/** Any source, as the registry holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each source's own Thing and State; the watcher passes each source only what it produced.
export type AnyChangeSource = ChangeSource<any, any>;
