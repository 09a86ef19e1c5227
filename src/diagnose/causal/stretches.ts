/**
 * Step 1 of the causal analysis: each check's failing stretches in [from, to],
 * read from the event log. A stretch runs from a failed run to the next
 * recovery (or past `to`). A check already failing at `from` (its last check
 * event before the window was a failure) has a stretch carried in, dated from
 * its first failure after its last recovery (looking back at most 7 days).
 *
 * Cost: no row is parsed in JavaScript. A stretch is one aggregate query
 * (count, min, max over the check's failed runs between two recoveries); see
 * FailureLog for the index it needs.
 */
import type { FailureLog } from '../../store/failure-log.js';
import type { StretchInput } from './algorithm.js';

/** A stretch carried into the window is dated back at most this far. */
const CARRY_LOOKBACK_MS = 7 * 86_400_000;

/** A check's failing stretches in [from, to], cut at its recoveries (`recoveries`: its recovery times in the window, in order). */
export function readStretches(log: FailureLog, subject: string, recoveries: readonly number[], from: number, to: number): StretchInput[] {
  const carried = carriedIn(log, subject, from);
  const stretches: StretchInput[] = [];
  // Segment i holds the failures in [recovery i-1, recovery i); a failure at the ms of a recovery comes after it.
  let lo = from;
  for (let i = 0; i <= recoveries.length; i++) {
    const last = i === recoveries.length;
    const hi = last ? to + 1 : recoveries[i]!;
    const { count, first, last: lastFailure } = log.failures(subject, lo, hi);
    const carriedHere = i === 0 && carried !== null;
    if (count > 0 || carriedHere) {
      stretches.push({
        start: carriedHere ? carried.since : first,
        end: last ? Infinity : hi,
        failures: count,
        firstFailure: first,
        lastFailure,
        carriedFrom: carriedHere ? carried.lastFailure : null,
      });
    }
    lo = hi;
  }
  return stretches;
}

/** When a check failing at `from` began failing, and its last failed run before `from`; null when it was not failing. */
function carriedIn(log: FailureLog, subject: string, from: number): { since: number; lastFailure: number } | null {
  const lastFailure = log.lastFailureBefore(subject, from);
  if (lastFailure === null) return null;
  // A failure at the same ms as a recovery is taken as the later event (the segments above do the same).
  if (log.recoveredIn(subject, lastFailure + 1, from)) return null;
  const horizon = from - CARRY_LOOKBACK_MS;
  const recovered = log.lastRecoveryIn(subject, horizon, lastFailure);
  const since = log.firstFailureIn(subject, recovered ?? horizon, from) ?? lastFailure;
  return { since, lastFailure };
}
