import { z } from 'zod';
import { describeExit, runCommand, tail, type ExecResult } from '../exec.js';
import { formatDuration } from '../util/duration.js';
import { RestartLoopDetector, restartLoopParams } from './restart-loop.js';
import type { CheckKind, CheckResult, HealResult } from './types.js';
import { formatBytes } from '../util/format.js';

const params = z.strictObject({
  /** The pm2 app name (the `name` column of `pm2 list`). */
  app: z
    .string()
    .min(1)
    .refine((app) => !app.startsWith('-'), 'an app name cannot start with "-"'),
  /** The pm2 executable: a name looked up on PATH, or a path. */
  pm2Bin: z.string().min(1).default('pm2'),
  /** More than `maxRestarts` restarts (pm2's restart_time) inside `window` is a restart loop: escalate, never restart. */
  restartLoop: restartLoopParams,
  /** PM2_HOME of the daemon to watch (another user's ~/.pm2); the bot's own default when absent. */
  pm2Home: z.string().min(1).optional(),
});

/** `pm2 jlist` prints every app's environment; a few MiB is a large stack, 32 MiB is a bound. */
const JLIST_MAX_BYTES = 32 * 1024 * 1024;

/**
 * A pm2-managed app: online or not, and whether pm2 keeps restarting it.
 * Reads `pm2 jlist`; restarts with `pm2 restart <app>`.
 */
export const pm2Check: CheckKind<z.output<typeof params>> = {
  kind: 'pm2',
  description: 'a pm2 app is online and not in a restart loop (pm2 jlist); restart = pm2 restart',
  params,
  create(p, env) {
    const loopDetector = new RestartLoopDetector(env.state, p.restartLoop);
    // The child inherits the bot's environment (PATH, HOME) and only PM2_HOME changes when another daemon is watched.
    const commandEnv = env.childEnv(p.pm2Home === undefined ? {} : { PM2_HOME: p.pm2Home });

    return {
      async run(ctx): Promise<CheckResult> {
        const result = await runCommand([p.pm2Bin, 'jlist'], { env: commandEnv, signal: ctx.signal, keepBytes: JLIST_MAX_BYTES });
        const notices = pm2Notices(result.stdout);
        const daemonSpawned = notices.some((line) => line.includes('Spawning PM2 daemon'));
        if (result.exitCode !== 0) {
          return { ok: false, message: `pm2 jlist failed: ${describeExit(result)}${lastLine(result.stderr)}`, details: failureDetails(result) };
        }
        const list = parseJlist(result.stdout);
        if (list === undefined) {
          return { ok: false, message: 'pm2 jlist printed no JSON process list', details: { ...failureDetails(result), notices } };
        }
        const instances = list.filter((proc) => proc.name === p.app);
        const first = instances[0];
        if (first === undefined) {
          const why = daemonSpawned ? ' (its daemon was not running; pm2 jlist started a new, empty one)' : '';
          return { ok: false, message: `pm2 has no app named ${p.app}${why}`, details: { app: p.app, apps: list.length, daemonSpawned } };
        }

        const now = ctx.now();
        // Cluster mode lists one entry per instance under the same name: sum the counters, report the worst status.
        const notOnline = instances.find((proc) => proc.pm2_env.status !== 'online');
        const shown = notOnline ?? first;
        const status = shown.pm2_env.status;
        const restarts = sum(instances.map((proc) => proc.pm2_env.restart_time));
        const uptimeMs = status === 'online' && first.pm2_env.pm_uptime !== undefined ? Math.max(0, now - first.pm2_env.pm_uptime) : 0;
        const memoryBytes = sum(instances.map((proc) => proc.monit.memory));
        const exitCode = shown.pm2_env.exit_code;
        const details: Record<string, unknown> = {
          app: p.app,
          status,
          pid: shown.pid,
          restarts,
          unstableRestarts: sum(instances.map((proc) => proc.pm2_env.unstable_restarts)),
          uptimeMs,
          memoryBytes,
          cpu: sum(instances.map((proc) => proc.monit.cpu)),
        };
        if (instances.length > 1) {
          details.instances = instances.length;
          details.pids = instances.map((proc) => proc.pid);
        }
        if (exitCode !== undefined) details.lastExitCode = exitCode;

        const verdict = loopDetector.observe(restarts, now);
        details.restartsInWindow = verdict.restartsInWindow;
        if (verdict.loop) {
          // pm2's autorestart may show the app online at this very moment; the counter is what tells the truth.
          return { ok: false, message: `${verdict.message} (pm2 app ${p.app}, now ${status})`, details: { ...details, restartLoop: true } };
        }
        if (notOnline) {
          const which = instances.length > 1 ? ` (${instances.length - countOnline(instances)} of ${instances.length} instances)` : '';
          const lastExit = exitCode !== undefined && exitCode !== 0 ? `, last exit code ${exitCode}` : '';
          return { ok: false, message: `pm2 app ${p.app} is ${status}${which}${lastExit}`, details };
        }
        return {
          ok: true,
          message: `pm2 app ${p.app} online, pid ${first.pid}, up ${formatDuration(uptimeMs)}, ${restarts} restarts, ${formatBytes(memoryBytes)}`,
          details,
        };
      },

      async restart(ctx): Promise<HealResult> {
        const result = await runCommand([p.pm2Bin, 'restart', p.app], { env: commandEnv, signal: ctx.signal });
        const details = { exitCode: result.exitCode, signal: result.signal, stderrTail: cleanTail(result.stderr), durationMs: Math.round(result.durationMs) };
        if (result.exitCode === 0) return { ok: true, message: `pm2 restart ${p.app}: done`, details };
        return { ok: false, message: `pm2 restart ${p.app} failed: ${describeExit(result)}${lastLine(result.stderr)}`, details };
      },
    };
  },
};

/** The fields of one `pm2 jlist` entry this kind relies on. */
const jlistEntry = z.object({
  name: z.string(),
  pid: z.number(),
  pm2_env: z.object({
    status: z.string(),
    restart_time: z.number().default(0),
    unstable_restarts: z.number().default(0),
    pm_uptime: z.number().optional(),
    exit_code: z.number().optional(),
  }),
  monit: z.object({ memory: z.number().default(0), cpu: z.number().default(0) }).default({ memory: 0, cpu: 0 }),
});
type JlistEntry = z.output<typeof jlistEntry>;

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
const ANSI = /\u001b\[[0-9;]*m/g;

/** pm2's own "[PM2] ..." lines, without colour codes; never the JSON (it carries every app's environment). */
function pm2Notices(stdout: string): string[] {
  return stdout
    .replace(ANSI, '')
    .split('\n')
    .filter((line) => line.startsWith('[PM2'))
    .slice(0, 5);
}

function cleanTail(text: string): string {
  return tail(text.replace(ANSI, ''), 10);
}

function lastLine(stderr: string): string {
  const line = cleanTail(stderr).split('\n').at(-1)?.trim();
  return line ? `: ${line}` : '';
}

function failureDetails(result: ExecResult): Record<string, unknown> {
  return { exitCode: result.exitCode, signal: result.signal, spawnError: result.spawnError, stderrTail: cleanTail(result.stderr) };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function countOnline(instances: readonly JlistEntry[]): number {
  return instances.filter((proc) => proc.pm2_env.status === 'online').length;
}
