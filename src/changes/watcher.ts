import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Logger } from '../log/logger.js';
import type { Db } from '../store/database.js';
import type { EventContexts, EventLog, EventRow } from '../store/events.js';
import type { KeyValueStore } from '../store/kv.js';
import { changeSources } from './index.js';
import { stableJson } from './files.js';
import { watchPlan, type WatchedConfig } from './plan.js';
import type { AnyChangeSource, DetectedChange, LookContext, WatchedThing } from './types.js';

/** One source's look at everything it watches may take this long; what is left waits for the next scan. */
const SOURCE_TIMEOUT_MS = 20_000;

/** A `change` event as appended. */
export type ChangeEvent = EventRow<'change'>;

export interface ChangeWatcherOptions {
  /** What to watch (watch:, repair targets, the config file, Ollama hosts) and how often. */
  config: WatchedConfig;
  /** Events and snapshots are committed together, so a crash between the two cannot record a change twice. */
  db: Db;
  events: EventLog;
  /** Where each thing's last snapshot is kept across restarts. */
  kv: KeyValueStore;
  clock: Clock;
  log: Logger;
  /** The environment git runs with (the bot's child environment: no tokens). */
  env: () => NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** Tests shorten it. */
  sourceTimeoutMs?: number;
}

/** A stored snapshot: a thing's state, and when it was taken (the earliest a change after it can have happened). */
interface Snapshot {
  takenAt: number;
  state: unknown;
}

/**
 * Records every change Nightshift can see as a `change` event: a git HEAD
 * that moved, a lockfile, an env file (key names only), the config file,
 * an Ollama model list. Each thing's snapshot is kept in the key-value
 * store, so what changed while Nightshift was down is recorded at the next
 * start (`whileDown`); the very first snapshot of a thing records nothing.
 * It only reads what it watches. Scans never overlap; each source has a
 * time budget; a failure is logged once per streak and never thrown out of
 * the timer.
 */
export class ChangeWatcher {
  private readonly watched: Array<{ source: AnyChangeSource; things: WatchedThing[] }>;
  private readonly stopping = new AbortController();
  /** When this run last looked at a thing (by snapshot key): a change seen later happened after that. */
  private readonly lastSeenAt = new Map<string, number>();
  /** Sources and things whose looks are failing (by key): logged at warn once, then at debug until one works. */
  private readonly failing = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ChangeEvent[]> | undefined;

  constructor(private readonly options: ChangeWatcherOptions) {
    const plan = watchPlan(options.config);
    this.watched = changeSources.map((source: AnyChangeSource) => ({ source, things: source.things(plan) as WatchedThing[] }));
  }

  /** Looks once now, then every `watch.interval` after each scan ends. */
  start(): void {
    const { log, config } = this.options;
    log.debug({ watched: this.watched.map(({ source, things }) => `${source.source}: ${things.length}`) }, 'watching for changes');
    const next = () => {
      if (this.stopping.signal.aborted) return;
      this.timer = setTimeout(() => void this.scan().then(next), config.watch.intervalMs);
      this.timer.unref();
    };
    void this.scan().then(next);
  }

  /** Stops the timer, aborts the scan in flight (its git commands and requests) and waits for it to end. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.running;
  }

  /**
   * One pass over every source and thing, after any pass in flight: the
   * change events it appended. Never rejects.
   */
  scan(): Promise<ChangeEvent[]> {
    const previous = this.running ?? Promise.resolve([]);
    const pass = previous.then(() =>
      this.pass().catch((err: unknown) => {
        // pass() catches per thing; this boundary is for a bug in the watcher itself, which must not stop its timer.
        this.options.log.error({ err }, 'a change scan failed (kept watching)');
        return [];
      }),
    );
    this.running = pass;
    void pass.then(() => {
      if (this.running === pass) this.running = undefined;
    });
    return pass;
  }

  private async pass(): Promise<ChangeEvent[]> {
    const appended: ChangeEvent[] = [];
    if (this.stopping.signal.aborted) return appended;
    const env = this.options.env();
    const fetchImpl = this.options.fetch ?? fetch;
    for (const { source, things } of this.watched) {
      const timeoutMs = this.options.sourceTimeoutMs ?? SOURCE_TIMEOUT_MS;
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(timeoutMs)]);
      for (const [index, thing] of things.entries()) {
        if (this.stopping.signal.aborted) return appended;
        if (signal.aborted) {
          const left = things.length - index;
          this.failed(`${source.source}:time`, source.source, source.source, new Error(`ran out of time (${timeoutMs} ms); ${left} left for the next scan`));
          break;
        }
        const key = snapshotKey(source, thing);
        try {
          const ctx: LookContext = { signal, env, fetch: fetchImpl, firstLook: !this.lastSeenAt.has(key) };
          appended.push(...(await this.look(source, thing, key, ctx)));
          this.recovered(key, source.source, thing.label);
        } catch (err) {
          if (this.stopping.signal.aborted) return appended;
          this.failed(key, source.source, thing.label, err);
        }
      }
      if (!signal.aborted) this.recovered(`${source.source}:time`, source.source, source.source);
    }
    return appended;
  }

  /** Reads one thing, compares it with its snapshot, and records what changed together with the new snapshot. */
  private async look(source: AnyChangeSource, thing: WatchedThing, key: string, ctx: LookContext): Promise<ChangeEvent[]> {
    const stored = this.snapshot(source, key);
    const current: unknown = await source.read(thing, ctx, stored?.state);
    if (current === null) return [];
    if (stored && stableJson(stored.state) === stableJson(current)) {
      this.lastSeenAt.set(key, this.options.clock.now());
      return [];
    }
    // The very first snapshot of a thing has nothing to be compared with: it is only stored.
    const changes = stored ? await source.compare(thing, stored.state, current, ctx) : [];
    const now = this.options.clock.now();
    const earliest = this.lastSeenAt.get(key) ?? stored?.takenAt ?? now;
    const events = this.record(source, thing, key, changes, { now, earliest, current, whileDown: ctx.firstLook });
    this.lastSeenAt.set(key, now);
    return events;
  }

  /** Appends the changes and stores the new snapshot in one transaction. */
  private record(
    source: AnyChangeSource,
    thing: WatchedThing,
    key: string,
    changes: DetectedChange[],
    at: { now: number; earliest: number; current: unknown; whileDown: boolean },
  ): ChangeEvent[] {
    const { db, events, kv } = this.options;
    return db.transaction(() => {
      const rows = changes.map((change): ChangeEvent => {
        const happenedAt = Math.min(at.now, Math.max(at.earliest, Math.round(change.happenedAt ?? at.now)));
        const context = changeContext(source, thing, change, at.now, at.whileDown);
        const id = events.append(happenedAt, 'change', thing.subject, 'info', context);
        return { id, at: happenedAt, type: 'change', subject: thing.subject, severity: 'info', context };
      });
      kv.set(key, JSON.stringify({ takenAt: at.now, state: at.current } satisfies Snapshot));
      return rows;
    })();
  }

  /** The stored snapshot; none when there is none or it is not this source's shape (stored by another version). */
  private snapshot(source: AnyChangeSource, key: string): Snapshot | undefined {
    const text = this.options.kv.get(key);
    if (text === undefined) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      // A torn or foreign value: taken as no snapshot, so the next look stores a good one.
      return undefined;
    }
    const parsed = z.object({ takenAt: z.number(), state: source.state }).safeParse(raw);
    return parsed.success ? { takenAt: parsed.data.takenAt, state: parsed.data.state } : undefined;
  }

  private failed(key: string, source: string, thing: string, err: unknown): void {
    const reason = describeError(err);
    if (this.failing.has(key)) {
      this.options.log.debug({ source, thing, reason }, 'looking for changes failed again');
      return;
    }
    this.failing.add(key);
    this.options.log.warn({ source, thing, reason }, 'could not look for changes (kept watching; repeats are logged at debug)');
  }

  private recovered(key: string, source: string, thing: string): void {
    if (this.failing.delete(key)) this.options.log.info({ source, thing }, 'looking for changes works again');
  }
}

function snapshotKey(source: AnyChangeSource, thing: WatchedThing): string {
  return `change:${source.source}:${thing.key}`;
}

function changeContext(source: AnyChangeSource, thing: WatchedThing, change: DetectedChange, detectedAt: number, whileDown: boolean): EventContexts['change'] {
  return {
    source: source.source,
    summary: change.summary,
    checks: change.checks ?? thing.checks,
    ...(change.path !== undefined ? { path: change.path } : {}),
    ...(change.before !== undefined ? { before: change.before } : {}),
    ...(change.after !== undefined ? { after: change.after } : {}),
    detectedAt,
    ...(whileDown ? { whileDown: true } : {}),
  };
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return 'timed out';
  return err.message;
}
