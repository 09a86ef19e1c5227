/**
 * A check's last 24 hours as a strip of quarter-hour cells, as pure
 * functions. The event log records every failed run (`check.failed`, dated
 * when the run began) and every recovery (`check.recovered`), not the runs
 * that passed: a check is failing from a failed run until its next recovery
 * and healthy otherwise, while Nightshift was running to see it.
 */

/** One cell per quarter of an hour: 96 cover the last day. */
export const CELL_MS = 15 * 60_000;
export const STRIP_CELLS = 96;

/** `o`: healthy throughout; `f`: failing at some moment of it; `-`: no data (Nightshift was not running, or the check had not run). */
export type CellState = 'o' | 'f' | '-';

/** The cells' common time axis: cell i covers [from + i·cellMs, from + (i+1)·cellMs), the last one ends now. */
export interface StripWindow {
  from: number;
  cellMs: number;
  cells: number;
  now: number;
}

/** Cells aligned to wall-clock quarter hours (the strip moves one whole cell at a time), the last one the current quarter. */
export function stripWindow(now: number, cells = STRIP_CELLS, cellMs = CELL_MS): StripWindow {
  return { from: Math.floor(now / cellMs) * cellMs - (cells - 1) * cellMs, cellMs, cells, now };
}

/** What the event log says about one cell of one check: the latest failed run and the latest recovery that began in it. */
export interface CellEvents {
  lastFailedAt?: number;
  lastRecoveredAt?: number;
}

export interface StripInput {
  window: StripWindow;
  /** The check's state when the window opened (its last transition before it); null when it had none. */
  before: 'ok' | 'failing' | null;
  /** Per cell index, the transitions that began in it. */
  cells: ReadonlyMap<number, CellEvents>;
  /** When Nightshift was running ([start, end] pairs, any order). */
  coverage: ReadonlyArray<readonly [number, number]>;
  /** The check's status now (the last committed run): a check that never ran has no data. */
  current: 'unknown' | 'ok' | 'failing';
}

/**
 * The strip as a string of `CellState` characters, oldest first. A cell is
 * failing when a failed run began in it, or the check entered it failing
 * while Nightshift was watching; healthy when Nightshift was watching and it
 * was not failing; no data otherwise. The last cell follows the current state.
 */
export function buildStrip(input: StripInput): string {
  const { window, cells, coverage } = input;
  let state = input.before;
  let strip = '';
  for (let i = 0; i < window.cells; i++) {
    const start = window.from + i * window.cellMs;
    const end = start + window.cellMs;
    const events = cells.get(i);
    // A span still running (it ends now) watches the current cell even in its first instant.
    const watched = coverage.some(([a, b]) => a < end && (b > start || b === window.now));
    const failing = events?.lastFailedAt !== undefined || (state === 'failing' && watched) || (i === window.cells - 1 && input.current === 'failing');
    if (failing) strip += 'f';
    else if (watched && input.current !== 'unknown') strip += 'o';
    else strip += '-';
    if (events?.lastFailedAt !== undefined && (events.lastRecoveredAt === undefined || events.lastFailedAt > events.lastRecoveredAt)) state = 'failing';
    else if (events?.lastRecoveredAt !== undefined) state = 'ok';
  }
  return strip;
}

/** An instance started or stopped, as the event log records it. */
export interface InstanceMark {
  at: number;
  type: 'instance.started' | 'instance.stopped';
}

/**
 * When Nightshift was running, from its start and stop records (oldest
 * first). A run that ended without a stop record (killed, the machine lost
 * power) counts until `lastSeenBefore(nextStart)`: its last recorded event.
 * The current run, from `startedAt`, always counts.
 */
export function coverageOf(
  marks: readonly InstanceMark[],
  startedAt: number,
  now: number,
  lastSeenBefore: (at: number) => number | null,
): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let open: number | null = null;
  for (const mark of marks) {
    if (mark.type === 'instance.started') {
      if (open !== null) spans.push([open, Math.max(open, lastSeenBefore(mark.at) ?? open)]);
      open = mark.at;
    } else if (open !== null) {
      spans.push([open, mark.at]);
      open = null;
    }
  }
  if (open !== null) spans.push([open, now]);
  spans.push([startedAt, now]);
  return spans;
}
