import { childEnvironment } from '../../config/child-env.js';
import { errorMessage } from '../../errors.js';
import { TIMED_OUT, within } from '../../util/abort.js';
import { keepEnd, keepStart } from './bounds.js';
import type { GatherOptions, GatherTarget, GatherTool, Gathered, Look, LookResult } from './types.js';

const GATHER_DEFAULTS = { timeoutMs: 2000, maxBytes: 4096, totalTimeoutMs: 8000 } as const;
/** Looks run at once at most: a diagnosis must not compete with the services it is looking at. */
const MAX_CONCURRENT_LOOKS = 4;

interface Settings {
  timeoutMs: number;
  maxBytes: number;
  totalTimeoutMs: number;
  redact: (text: string) => string;
  /** Aborts when the caller's signal does or the whole gathering's time is up. */
  overall: AbortSignal;
  /** performance.now() at which the whole gathering's time is up. */
  overallDeadline: number;
  callerSignal: AbortSignal | undefined;
}

/** One look to run, or a tool whose planning failed (reported as it is). */
type Planned = { check: string; tool: GatherTool; look: Look } | { check: string; tool: GatherTool; failure: string };

/**
 * Runs every tool's looks for every target, at most MAX_CONCURRENT_LOOKS at
 * once, each within its own timeout and byte cap, all within the total
 * timeout. Results come back in target, tool and look order, whatever order
 * they finished in. Never rejects: a tool that throws, hangs or runs out of
 * time becomes ok:false with the reason, and the others still report.
 */
export async function runGathering(tools: readonly GatherTool[], targets: readonly GatherTarget[], options: GatherOptions): Promise<Gathered[]> {
  const settings = settle(options);
  const commandEnv = options.commandEnv ?? childEnvironment();
  const planned = targets.flatMap((target) => tools.flatMap((tool) => plan(tool, target, { dataDir: options.dataDir, commandEnv })));
  const results: Gathered[] = new Array<Gathered>(planned.length);
  let next = 0;
  const worker = async () => {
    while (next < planned.length) {
      const index = next++;
      results[index] = await runOne(planned[index]!, settings);
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT_LOOKS, planned.length) }, worker));
  return results;
}

function settle(options: GatherOptions): Settings {
  // AbortSignal.timeout throws on a negative or fractional delay: a bad option must not make gathering reject.
  const totalTimeoutMs = atLeastOne(options.totalTimeoutMs ?? GATHER_DEFAULTS.totalTimeoutMs);
  const total = AbortSignal.timeout(totalTimeoutMs);
  return {
    timeoutMs: atLeastOne(options.timeoutMs ?? GATHER_DEFAULTS.timeoutMs),
    maxBytes: atLeastOne(options.maxBytes ?? GATHER_DEFAULTS.maxBytes),
    totalTimeoutMs,
    redact: options.redact,
    overall: options.signal ? AbortSignal.any([options.signal, total]) : total,
    overallDeadline: performance.now() + totalTimeoutMs,
    callerSignal: options.signal,
  };
}

function plan(tool: GatherTool, target: GatherTarget, context: { dataDir: string; commandEnv: NodeJS.ProcessEnv }): Planned[] {
  const check = target.check.name;
  try {
    return tool.plan(target, context).map((look) => ({ check, tool, look }));
  } catch (err) {
    return [{ check, tool, failure: `could not tell what to look at: ${errorMessage(err)}` }];
  }
}

async function runOne(planned: Planned, settings: Settings): Promise<Gathered> {
  const started = performance.now();
  if (!('look' in planned)) return finish(planned, settings, { target: '(its configuration)', result: { ok: false, text: planned.failure }, started });
  const target = planned.look.target;
  if (settings.overall.aborted) return finish(planned, settings, { target, result: { ok: false, text: `not looked at: ${stopReason(settings)}` }, started });
  const own = AbortSignal.timeout(settings.timeoutMs);
  const signal = AbortSignal.any([settings.overall, own]);
  const deadline = Math.min(started + settings.timeoutMs, settings.overallDeadline);
  let result: LookResult;
  try {
    const outcome = await within(planned.look.run({ signal, deadline, maxBytes: settings.maxBytes, redact: settings.redact }), settings.timeoutMs, signal);
    result =
      outcome === TIMED_OUT
        ? { ok: false, text: own.aborted || !settings.overall.aborted ? `timed out after ${settings.timeoutMs} ms` : stopReason(settings) }
        : outcome;
  } catch (err) {
    result = { ok: false, text: `the ${planned.tool.name} tool failed: ${errorMessage(err)}` };
  }
  return finish(planned, settings, { target, result, started });
}

/** The Gathered row: target and text redacted (again where a look already did: redacting twice changes nothing) and bounded, whatever the tool did. */
function finish(planned: Planned, settings: Settings, look: { target: string; result: LookResult; started: number }): Gathered {
  const row = { check: planned.check, tool: planned.tool.name, durationMs: Math.round(performance.now() - look.started), ok: look.result.ok };
  try {
    const redacted = settings.redact(look.result.text);
    const bounded = planned.tool.newestLast ? keepEnd(redacted, settings.maxBytes) : keepStart(redacted, settings.maxBytes);
    return { ...row, target: settings.redact(look.target), text: bounded.text, truncated: bounded.truncated || look.result.truncated === true };
  } catch (err) {
    // The redactor itself failed: show nothing of what was seen rather than something unredacted.
    return { ...row, ok: false, target: '(unshown)', text: `could not redact what was seen: ${errorMessage(err)}`, truncated: true };
  }
}

function atLeastOne(value: number): number {
  return Number.isFinite(value) ? Math.max(1, Math.floor(value)) : 1;
}

function stopReason(settings: Settings): string {
  return settings.callerSignal?.aborted ? 'the gathering was cancelled' : `the gathering's ${settings.totalTimeoutMs} ms ran out`;
}
