/**
 * The evidence of a chain node: the signature most seen among a check's
 * failed runs, one real message with it, and the most telling line of that
 * run's evidence (its stderr's FATAL line), read from the event log.
 */
import type { FailureLog, SubjectFailures } from '../../store/failure-log.js';
import { normalizeError } from '../signature.js';
import { tellingLine, type TellingLine } from '../../util/telling-line.js';
import type { ChainNode } from '../types.js';
import type { NodeSpan, Stretch } from './algorithm.js';

/** Messages are sampled from at most this many stretches of one check in one chain. */
const MAX_SAMPLED_STRETCHES = 32;

interface Sample {
  at: number;
  weight: number;
}

/** Reads a few real messages per node to find its most common signature. */
export class Sampler {
  constructor(
    private readonly log: FailureLog,
    private readonly redact: (text: string) => string,
  ) {}

  /**
   * A node from a check's stretches. The signature "most seen" is judged from
   * the first, a middle and the last failed run of (at most 32, evenly
   * spread) stretches, each weighted by its share of the stretch's failures:
   * reading every message would parse every row's JSON, which a million rows
   * cannot afford. (The middle run matters: a stretch that began with a kill
   * and went on failing to bind its port is mostly the latter.)
   */
  node(check: { name: string; kind: string }, stretches: readonly Stretch[], span: NodeSpan): ChainNode {
    const samples: Sample[] = [];
    const withFailures = stretches.filter((s) => s.failures > 0);
    if (withFailures.length === 0) {
      const carried = stretches.find((s) => s.carriedFrom !== null);
      if (carried?.carriedFrom != null) samples.push({ at: carried.carriedFrom, weight: 1 });
    }
    const step = Math.max(1, withFailures.length / MAX_SAMPLED_STRETCHES);
    for (let i = 0; i < withFailures.length; i += step) {
      const s = withFailures[Math.floor(i)]!;
      if (s.failures === 1) {
        samples.push({ at: s.firstFailure, weight: 1 });
      } else if (s.failures === 2) {
        samples.push({ at: s.firstFailure, weight: 1 }, { at: s.lastFailure, weight: 1 });
      } else {
        const middle = this.log.firstFailureIn(check.name, Math.floor((s.firstFailure + s.lastFailure) / 2), s.lastFailure) ?? s.lastFailure;
        const third = s.failures / 3;
        samples.push({ at: s.firstFailure, weight: third }, { at: middle, weight: third }, { at: s.lastFailure, weight: third });
      }
    }
    return {
      check: check.name,
      kind: check.kind,
      failures: span.failures,
      firstSeen: span.firstSeen,
      lastSeen: span.lastSeen,
      ...this.pick(check.name, samples),
    };
  }

  /** A node for a subject that is not a configured check (its kind read from its first failure). */
  unconfigured(row: SubjectFailures): ChainNode {
    const kind = this.log.failedRun(row.subject, row.first).kind ?? 'unknown';
    const picked = this.pick(row.subject, [
      { at: row.first, weight: 1 },
      { at: row.last, weight: 1 },
    ]);
    return { check: row.subject, kind, failures: row.count, firstSeen: row.first, lastSeen: row.last, ...picked };
  }

  private pick(subject: string, samples: Sample[]): Pick<ChainNode, 'signature' | 'sampleMessage' | 'evidence' | 'beganWith'> {
    const bySignature = new Map<string, { weight: number; message: string; order: number; telling: TellingLine | null }>();
    let first: { at: number; signature: string; message: string } | undefined;
    for (const { at, weight } of samples) {
      const run = this.log.failedRun(subject, at);
      const signature = normalizeError(run.message);
      const telling = tellingLine(run.evidence);
      if (!first || at < first.at) first = { at, signature, message: run.message };
      const seen = bySignature.get(signature);
      if (seen) {
        seen.weight += weight;
        // The first run of the signature that left a telling line speaks for it.
        seen.telling ??= telling;
      } else bySignature.set(signature, { weight, message: run.message, order: bySignature.size, telling });
    }
    // Most weight wins; at equal weight, the one whose evidence has a telling line (it explains more), then the first seen.
    type Seen = { weight: number; order: number; telling: TellingLine | null };
    const better = (a: Seen, b: Seen) => a.weight - b.weight || Number(a.telling !== null) - Number(b.telling !== null) || b.order - a.order;
    let best: [string, Seen & { message: string }] | undefined;
    for (const entry of bySignature) if (!best || better(entry[1], best[1]) > 0) best = entry;
    if (!best) return { signature: '', sampleMessage: '', evidence: null };
    const telling = best[1].telling;
    return {
      signature: this.redact(best[0]),
      sampleMessage: this.redact(best[1].message),
      evidence: telling ? { line: this.redact(telling.line), from: telling.from } : null,
      // How it began, when that was something else (killed, then failing to bind its port).
      ...(first && first.signature !== best[0] ? { beganWith: this.redact(first.message) } : {}),
    };
  }
}
