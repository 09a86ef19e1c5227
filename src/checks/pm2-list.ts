import { z } from 'zod';
import { describeExit, runCommand, tail, type ExecResult } from '../exec.js';

/**
 * `pm2 jlist`, run and read, for everything that asks pm2 about its apps: the pm2 check, the event-storm check's pm2
 * source, the stop heal and `nightshift init`.
 */

/** `pm2 jlist` prints every app's environment; a few MiB is a large stack, 32 MiB is a bound. */
export const JLIST_MAX_BYTES = 32 * 1024 * 1024;

/** What `pm2 jlist` gave: its apps, or the run that gave none (a failed command, or output without a list). */
export type Pm2Listing = { list: JlistEntry[]; daemonSpawned: boolean; notices: string[] } | { list: undefined; result: ExecResult; notices: string[] };

/** Every app of a pm2 daemon, or why they cannot be listed (the problem in one line, and its evidence). */
export async function listPm2Apps(
  pm2Bin: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<{ apps: JlistEntry[]; daemonSpawned: boolean } | { problem: string; evidence: Record<string, unknown> }> {
  const listed = await readPm2List(pm2Bin, env, signal);
  if (listed.list !== undefined) return { apps: listed.list, daemonSpawned: listed.daemonSpawned };
  const { result } = listed;
  if (result.exitCode === 0) return { problem: 'pm2 jlist printed no process list', evidence: { exitCode: 0 } };
  const line = tail(result.stderr.replace(ANSI, ''), 1).trim();
  return {
    problem: `pm2 jlist failed: ${describeExit(result)}${line ? `: ${line}` : ''}`,
    evidence: { exitCode: result.exitCode, spawnError: result.spawnError },
  };
}

/** Runs `pm2 jlist`. `daemonSpawned`: there was no daemon, and asking started an empty one. */
export async function readPm2List(pm2Bin: string, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<Pm2Listing> {
  const result = await runCommand([pm2Bin, 'jlist'], { env, signal, keepBytes: JLIST_MAX_BYTES });
  const notices = pm2Notices(result.stdout);
  const list = result.exitCode === 0 ? parseJlist(result.stdout) : undefined;
  if (list === undefined) return { list, result, notices };
  return { list, daemonSpawned: notices.some((line) => line.includes('Spawning PM2 daemon')), notices };
}

/** One app instance in `pm2 jlist`: the fields Nightshift reads (a stopped app's pid is 0). */
const jlistEntry = z.object({
  name: z.string(),
  pid: z.number().default(0),
  pm_id: z.number().optional(),
  pm2_env: z.object({
    pm_err_log_path: z.string().optional(),
    pm_out_log_path: z.string().optional(),
    /** The app's working folder. */
    pm_cwd: z.string().optional(),
    status: z.string(),
    restart_time: z.number().default(0),
    unstable_restarts: z.number().default(0),
    pm_uptime: z.number().optional(),
    exit_code: z.number().optional(),
  }),
  monit: z.object({ memory: z.number().default(0), cpu: z.number().default(0) }).default({ memory: 0, cpu: 0 }),
});
export type JlistEntry = z.output<typeof jlistEntry>;

/**
 * The process list in `pm2 jlist` output, or undefined when there is none.
 * pm2 may print its own lines first ("[PM2] Spawning PM2 daemon...", colour
 * codes included) and writes the JSON without a trailing newline, so the
 * list is found as the first `[` that opens an array of objects (or `[]`)
 * and parses, wherever it starts.
 */
export function parseJlist(stdout: string): JlistEntry[] | undefined {
  const opening = /\[\s*[{\]]/g;
  for (let match = opening.exec(stdout); match !== null; match = opening.exec(stdout)) {
    const end = matchingBracket(stdout, match.index);
    if (end === undefined) continue;
    let value: unknown;
    try {
      value = JSON.parse(stdout.slice(match.index, end + 1));
    } catch {
      // Not the list (a bracketed notice); try the next opening bracket.
      continue;
    }
    const parsed = z.array(jlistEntry).safeParse(value);
    if (parsed.success) return parsed.data;
  }
  return undefined;
}

/** Index of the `]` closing the array opened at `start`, skipping brackets inside JSON strings. */
function matchingBracket(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return undefined;
}

// eslint-disable-next-line no-control-regex -- ANSI colour codes are control characters by definition.
export const ANSI = /\u001b\[[0-9;]*m/g;

/** pm2's own "[PM2] ..." lines, without colour codes; never the JSON (it carries every app's environment). */
export function pm2Notices(stdout: string): string[] {
  return stdout
    .replace(ANSI, '')
    .split('\n')
    .filter((line) => line.startsWith('[PM2'))
    .slice(0, 5);
}
