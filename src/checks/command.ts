import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { describeExit, runCommand, tail } from '../exec.js';
import type { CheckKind } from './types.js';
import { clipAtWord, tailAtWord } from '../util/text.js';

const params = z.strictObject({
  /** A shell line (run through /bin/sh -c) or an argv array (run without a shell). */
  run: z.union([
    z.string().min(1),
    z
      .array(z.string())
      .min(1)
      .refine((argv) => argv[0] !== '', { message: 'the program name must not be empty' }),
  ]),
  cwd: z.string().min(1).optional(),
  /** Variables merged over the bot's own environment (which is passed on without the bot's chat tokens). */
  env: z.record(z.string(), z.string()).optional(),
});

const TAIL_LINES = 5;
/** Each reported tail is cut to this many characters, so one endless line cannot bloat the event log. */
const TAIL_CHARS = 1000;

/**
 * A command exits 0. Its exit code, signal and the tails of its output are
 * the evidence; on abort (the check's timeout) its whole process group is
 * killed, so a hanging script and its children never outlive the run.
 */
export const commandCheck: CheckKind<z.output<typeof params>> = {
  kind: 'command',
  description: 'a command (shell line or argv) exits 0',
  params,
  create(p, environment) {
    const env = environment.childEnv(p.env);
    return {
      async run(ctx) {
        if (p.cwd !== undefined) {
          // spawn reports a missing cwd as ENOENT of the program itself, which sends the operator looking in the wrong place.
          const problem = await cwdProblem(p.cwd);
          if (problem) return { ok: false, message: `could not start: ${problem}`, details: { exitCode: null, signal: null, cwd: p.cwd } };
        }
        const result = await runCommand(p.run, { cwd: p.cwd, env, signal: ctx.signal, keepBytes: 4096 });
        const stdoutTail = shortTail(result.stdout);
        const stderrTail = shortTail(result.stderr);
        const details = { exitCode: result.exitCode, signal: result.signal, stdoutTail, stderrTail, durationMs: Math.round(result.durationMs) };
        if (result.exitCode === 0 && !result.spawnError) return { ok: true, message: 'exit 0', details };
        let message = describeExit(result);
        if (result.spawnError?.includes('ENOENT')) {
          const program = typeof p.run === 'string' ? '/bin/sh' : p.run[0];
          message = `could not start: ${program} not found (ENOENT)`;
        }
        if (ctx.signal.aborted && !result.spawnError) message = `aborted after ${details.durationMs} ms, ${message}`;
        const lastLine = lastNonEmptyLine(result.stderr) ?? lastNonEmptyLine(result.stdout);
        if (lastLine && !result.spawnError) message += `: ${clipAtWord(lastLine, 200)}`;
        return { ok: false, message, details };
      },
    };
  },
};

async function cwdProblem(cwd: string): Promise<string | undefined> {
  try {
    const info = await stat(cwd);
    return info.isDirectory() ? undefined : `cwd ${cwd} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `cwd ${cwd} does not exist` : `cwd ${cwd}: ${code ?? String(err)}`;
  }
}

function shortTail(text: string): string {
  const lines = tail(text, TAIL_LINES);
  return tailAtWord(lines, TAIL_CHARS);
}

function lastNonEmptyLine(text: string): string | undefined {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  return lines.at(-1);
}
