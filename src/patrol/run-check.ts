import { z } from 'zod';
import { errorMessage } from '../errors.js';
import type { CheckResult, Probe } from '../checks/types.js';

const resultSchema = z.object({
  ok: z.boolean(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export interface TimedResult extends CheckResult {
  durationMs: number;
  timedOut: boolean;
}

/**
 * One check run inside its error boundary: a timeout fails it ("timed out
 * after 5s") and aborts its signal; a throw or a malformed result fails it.
 * Never rejects.
 */
export async function runWithBoundary(probe: Probe, timeoutMs: number, stopSignal: AbortSignal, now: () => number): Promise<TimedResult> {
  const started = performance.now();
  const controller = new AbortController();
  const onStop = () => controller.abort(stopSignal.reason);
  stopSignal.addEventListener('abort', onStop, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`timed out after ${formatSeconds(timeoutMs)}`));
      resolve('timeout');
    }, timeoutMs);
  });
  try {
    const outcome = await Promise.race([probe.run({ signal: controller.signal, now }), timedOut]);
    const durationMs = performance.now() - started;
    if (outcome === 'timeout') {
      return { ok: false, message: `timed out after ${formatSeconds(timeoutMs)}`, durationMs, timedOut: true, details: { timeoutMs } };
    }
    // The common case is checked by hand (zod on every one of a thousand runs showed in the profile);
    // anything else gets zod's full explanation.
    if (isResult(outcome))
      return { ok: outcome.ok, message: outcome.message, ...(outcome.details ? { details: outcome.details } : {}), durationMs, timedOut: false };
    const parsed = resultSchema.safeParse(outcome);
    if (!parsed.success) {
      return { ok: false, message: `check returned an invalid result: ${z.prettifyError(parsed.error).replace(/\s+/g, ' ')}`, durationMs, timedOut: false };
    }
    return { ...parsed.data, durationMs, timedOut: false };
  } catch (err) {
    const durationMs = performance.now() - started;
    return { ok: false, message: errorMessage(err), durationMs, timedOut: false, details: errorDetails(err) };
  } finally {
    clearTimeout(timer);
    stopSignal.removeEventListener('abort', onStop);
  }
}

function isResult(value: unknown): value is CheckResult {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.ok === 'boolean' &&
    typeof r.message === 'string' &&
    (r.details === undefined || (r.details !== null && typeof r.details === 'object' && !Array.isArray(r.details)))
  );
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

function errorDetails(err: unknown): Record<string, unknown> | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  return code ? { errorCode: code } : undefined;
}
