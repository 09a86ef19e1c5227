import { z } from 'zod';
import { ageDuration, formatDuration } from '../util/duration.js';
import type { ProbeState } from './types.js';

const DEFAULT_MAX_RESTARTS = 5;
const DEFAULT_WINDOW_MS = 10 * 60_000;
/** A bound on the persisted history; with one sample per patrol it is only reached by windows of hours at second intervals. */
const MAX_SAMPLES = 512;

/** The `restartLoop` key shared by the pm2 and systemd kinds: more than `maxRestarts` restarts inside `window` is a loop. */
export const restartLoopParams = z
  .strictObject({
    /** More restarts than this inside the window is a restart loop. */
    maxRestarts: z.number().int().min(0).default(DEFAULT_MAX_RESTARTS),
    /** How far back restarts are counted (ms; written "10m", "1h" or seconds). */
    window: ageDuration.default(DEFAULT_WINDOW_MS),
  })
  .default({ maxRestarts: DEFAULT_MAX_RESTARTS, window: DEFAULT_WINDOW_MS });

export type RestartLoopPolicy = z.output<typeof restartLoopParams>;

/**
 * One observation of a restart counter: `count` was last seen at `at` (ms
 * since epoch). Counts are strictly increasing along the history, so each
 * sample is the last moment the counter still had that value.
 */
export interface RestartSample {
  at: number;
  count: number;
}

/** What one observation tells: restarts seen inside the window, and whether that is a loop. */
export interface RestartLoopVerdict {
  restartsInWindow: number;
  loop: boolean;
  /** "restart loop: 7 restarts in 10m" when `loop`, otherwise undefined. */
  message?: string;
}

/**
 * Adds the counter's current value to a history and prunes it (pure).
 *
 * The restarts that certainly happened inside the window are the current
 * count minus the count of the oldest sample still inside it. Keeping only
 * the last time each count was seen gives exactly that oldest in-window count
 * while holding one entry per distinct value. A counter that went down was
 * reset (`pm2 reset`, a re-created app, systemd flushing NRestarts on a
 * manual start), so the history starts again from the new value; so does a
 * clock that moved backwards.
 */
export function observeRestartCount(
  history: readonly RestartSample[],
  count: number,
  now: number,
  windowMs: number,
): { history: RestartSample[]; restartsInWindow: number } {
  const last = history.at(-1);
  let next: RestartSample[] = last && (count < last.count || now < last.at) ? [] : history.map((sample) => ({ ...sample }));
  const newest = next.at(-1);
  if (newest && newest.count === count) newest.at = now;
  else next.push({ at: now, count });
  next = next.filter((sample) => sample.at >= now - windowMs);
  if (next.length > MAX_SAMPLES) next = next.slice(-MAX_SAMPLES);
  const oldest = next[0];
  return { history: next, restartsInWindow: oldest ? count - oldest.count : 0 };
}

/**
 * Watches a restart counter (pm2 restart_time, systemd NRestarts) across
 * patrols and across restarts of Nightshift: the history lives in the
 * probe's persisted state under `restartSamples`. It owns that state: a
 * probe using it keeps nothing else there.
 */
export class RestartLoopDetector {
  constructor(
    private readonly state: ProbeState,
    private readonly policy: RestartLoopPolicy,
  ) {}

  /** Records the counter's value now and says whether it grew by more than maxRestarts inside the window. */
  observe(count: number, now: number): RestartLoopVerdict {
    const { history, restartsInWindow } = observeRestartCount(this.load(), count, now, this.policy.window);
    this.state.set<PersistedRestartState>({ restartSamples: history });
    const loop = restartsInWindow > this.policy.maxRestarts;
    return loop
      ? { restartsInWindow, loop, message: `restart loop: ${restartsInWindow} restarts in ${formatDuration(this.policy.window)}` }
      : { restartsInWindow, loop };
  }

  private load(): RestartSample[] {
    const parsed = persistedRestartState.safeParse(this.state.get<unknown>());
    // State written by another version (or none yet) starts a fresh history; the next patrols rebuild it.
    return parsed.success ? parsed.data.restartSamples : [];
  }
}

const persistedRestartState = z.object({
  restartSamples: z.array(z.object({ at: z.number(), count: z.number() })),
});
type PersistedRestartState = z.output<typeof persistedRestartState>;
