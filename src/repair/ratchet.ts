import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RepairTarget } from '../config/schema.js';
import { describeExit, runCommand, tail } from '../exec.js';
import type { Baseline } from '../store/repairs.js';
import { describeCounts, parseTestCounts, type TestCounts } from './test-results.js';

/** A test run as the ratchet reads it: counts, or why there are none. */
export type TestRun = { ok: true; counts: TestCounts; exit: string } | { ok: false; error: string };

/**
 * Runs the target's test command (sh -c, in its folder) and reads its pass
 * and fail counts from the JUnit report it writes (testReport) or from its
 * output. A non-zero exit is fine (failing tests are what the ratchet
 * counts); output nobody can count is not: it never passes as "no tests".
 */
export async function runTests(target: RepairTarget, env: NodeJS.ProcessEnv, signal: AbortSignal, onSpawn?: (pid: number) => void): Promise<TestRun> {
  if (!target.test) return { ok: false, error: 'no test command' };
  const result = await runCommand(target.test, { cwd: target.path, env, signal, keepBytes: 4 << 20, ...(onSpawn ? { onSpawn } : {}) });
  if (result.spawnError) return { ok: false, error: `the test command ${describeExit(result)}` };
  if (signal.aborted) return { ok: false, error: 'the test command was stopped (the repair timed out)' };
  let report: string | undefined;
  if (target.testReport) {
    try {
      report = readFileSync(join(target.path, target.testReport), 'utf8');
    } catch {
      return { ok: false, error: `the test command did not write ${target.testReport}` };
    }
  }
  const counts = parseTestCounts(`${result.stdout}\n${result.stderr}`, report);
  if (!counts)
    return {
      ok: false,
      error: `no pass/fail counts in the test output (${describeExit(result)}; last lines: ${tail(result.stdout || result.stderr, 3) || 'none'})`,
    };
  return { ok: true, counts, exit: describeExit(result) };
}

/** Why `now` is below the baseline (fewer passing, or more failing), or null when it holds. */
export function ratchetBreach(baseline: Pick<Baseline, 'passed' | 'failed'>, now: TestCounts): string | null {
  const problems: string[] = [];
  if (now.passed < baseline.passed) problems.push(`${now.passed} passed, below the baseline of ${baseline.passed}`);
  if (now.failed > baseline.failed) problems.push(`${now.failed} failed, above the baseline of ${baseline.failed}`);
  return problems.length > 0 ? `the tests went backwards: ${problems.join(' and ')} (${describeCounts(now)})` : null;
}
