/**
 * The evidence of a chain node: the signature most seen among a check's
 * failed runs, one real message with it, and the most telling line of that
 * run's evidence (its stderr's FATAL line), read from the event log.
 */
import type { FailureLog, SubjectFailures } from '../../store/failure-log.js';
import { normalizeError } from '../signature.js';
import { tellingLine, type TellingLine } from '../telling-line.js';
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
   * the first and last failed run of (at most 32, evenly spread) stretches,
   * each weighted by half the stretch's failures: reading every message
   * would parse every row's JSON, which a million rows cannot afford.
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
      } else {
        samples.push({ at: s.firstFailure, weight: Math.ceil(s.failures / 2) }, { at: s.lastFailure, weight: Math.floor(s.failures / 2) });
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

  private pick(subject: string, samples: Sample[]): Pick<ChainNode, 'signature' | 'sampleMessage' | 'evidence'> {
    const bySignature = new Map<string, { weight: number; message: string; order: number; telling: TellingLine | null }>();
    for (const { at, weight } of samples) {
      const run = this.log.failedRun(subject, at);
      const signature = normalizeError(run.message);
      const telling = tellingLine(run.evidence);
      const seen = bySignature.get(signature);
      if (seen) {
        seen.weight += weight;
        // The first run of the signature that left a telling line speaks for it.
        seen.telling ??= telling;
      } else bySignature.set(signature, { weight, message: run.message, order: bySignature.size, telling });
    }
    let best: [string, { weight: number; message: string; order: number; telling: TellingLine | null }] | undefined;
    for (const entry of bySignature) {
      if (!best || entry[1].weight > best[1].weight || (entry[1].weight === best[1].weight && entry[1].order < best[1].order)) best = entry;
    }
    if (!best) return { signature: '', sampleMessage: '', evidence: null };
    const telling = best[1].telling;
    return {
      signature: this.redact(best[0]),
      sampleMessage: this.redact(best[1].message),
      evidence: telling ? { line: this.redact(telling.line), from: telling.from } : null,
    };
  }
}
