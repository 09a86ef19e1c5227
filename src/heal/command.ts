import { z } from 'zod';
import { formatDuration, timerDuration } from '../util/duration.js';
import { describeExit, runCommand } from '../exec.js';
import type { HealAction } from './types.js';
import { tailAtWord } from '../util/text.js';

const params = z.strictObject({
  /** A shell command line (run with /bin/sh -c) or an argv array (run without a shell). */
  run: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  /** Working directory of the command. */
  cwd: z.string().min(1).optional(),
  /** Variables added to the environment the command inherits (the bot's, without its chat tokens). */
  env: z.record(z.string(), z.string()).optional(),
  /** Kill the command (its whole process group) after this long: a hung heal must not block recovery. */
  timeout: timerDuration.default(300_000),
});

export type CommandParams = z.output<typeof params>;

const TAIL_CHARS = 2000;

/**
 * Runs an operator-supplied command as a heal step; ok when it exits 0.
 * Nightshift cannot know what the command does, so making it idempotent
 * (harmless when run twice in a row) is the operator's business.
 */
export const commandAction: HealAction<CommandParams> = {
  action: 'command',
  description: 'run a command (sh -c string or argv array); ok on exit 0',
  params,
  create(p, environment) {
    return {
      async run(_target, ctx) {
        const deadline = AbortSignal.timeout(p.timeout);
        const signal = AbortSignal.any([ctx.signal, deadline]);
        const result = await runCommand(p.run, { cwd: p.cwd, env: environment.childEnv(p.env), signal, keepBytes: TAIL_CHARS * 2 });
        const details = {
          exitCode: result.exitCode,
          signal: result.signal,
          durationMs: Math.round(result.durationMs),
          stdoutTail: tailAtWord(result.stdout, TAIL_CHARS),
          stderrTail: tailAtWord(result.stderr, TAIL_CHARS),
          ...(result.spawnError ? { spawnError: result.spawnError } : {}),
          ...(deadline.aborted ? { timedOut: true } : {}),
        };
        if (result.exitCode === 0) return { ok: true, message: 'exit 0', details };
        const lastStderrLine = result.stderr.trim().split('\n').at(-1)?.trim();
        const exit = deadline.aborted ? `timed out after ${formatDuration(p.timeout)}, ${describeExit(result)}` : describeExit(result);
        return { ok: false, message: lastStderrLine && !result.spawnError ? `${exit}: ${lastStderrLine}` : exit, details };
      },
    };
  },
};
