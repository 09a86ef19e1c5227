import { constants } from 'node:os';
import { z } from 'zod';
import { describeExit, runCommand, tail, type ExecResult } from '../exec.js';
import { RestartLoopDetector, restartLoopParams } from './restart-loop.js';
import type { CheckKind, CheckResult, HealResult } from './types.js';

const params = z.strictObject({
  /** The unit, with its type: "worker.service", "backup.timer". */
  unit: z
    .string()
    .min(1)
    .refine((unit) => !unit.startsWith('-'), 'a unit name cannot start with "-"'),
  /** Watch the user's manager (`systemctl --user`) instead of the system one. */
  user: z.boolean().default(false),
  /** The systemctl executable: a name looked up on PATH, or a path. */
  systemctlBin: z.string().min(1).default('systemctl'),
  /** More than `maxRestarts` automatic restarts (NRestarts) inside `window` is a restart loop: escalate, never restart. */
  restartLoop: restartLoopParams,
});

/**
 * What `show` asks for. Properties a unit type lacks (NRestarts on a timer,
 * NextElapseUSecRealtime on a service) are simply not printed, and the
 * output order is systemd's, not this one.
 */
export const SHOW_PROPERTIES = [
  'Id',
  'LoadState',
  'ActiveState',
  'SubState',
  'NRestarts',
  'Result',
  'ExecMainStatus',
  'ExecMainCode',
  'MainPID',
  'ActiveEnterTimestamp',
  'NextElapseUSecRealtime',
  'LastTriggerUSec',
] as const;

/**
 * A systemd unit (service or timer) is active and not in a restart loop.
 * Reads `systemctl [--user] show`; restarts with `systemctl [--user] restart`.
 */
export const systemdCheck: CheckKind<z.output<typeof params>> = {
  kind: 'systemd',
  description: 'a systemd service or timer is active and not in a restart loop (systemctl show); restart = systemctl restart',
  params,
  create(p, env) {
    const loopDetector = new RestartLoopDetector(env.state, p.restartLoop);
    const isTimer = p.unit.endsWith('.timer');
    const scope = p.user ? ['--user'] : [];
    const commandEnv = p.user ? userManagerEnv(env.childEnv()) : env.childEnv();

    return {
      async run(ctx): Promise<CheckResult> {
        const result = await runCommand([p.systemctlBin, ...scope, 'show', p.unit, `--property=${SHOW_PROPERTIES.join(',')}`], {
          env: commandEnv,
          signal: ctx.signal,
        });
        if (result.exitCode !== 0) {
          return {
            ok: false,
            message: `systemctl show ${p.unit} failed: ${describeExit(result)}${firstLine(result.stderr)}`,
            details: { unit: p.unit, ...exitDetails(result), ...(isTimer ? { timer: true } : {}) },
          };
        }
        const unit = readUnitState(parseShowOutput(result.stdout));
        const details: Record<string, unknown> = {
          unit: p.unit,
          loadState: unit.loadState,
          activeState: unit.activeState,
          subState: unit.subState,
          result: unit.result,
        };
        if (isTimer) {
          details.timer = true;
          details.nextElapse = unit.nextElapse;
          details.lastTrigger = unit.lastTrigger;
        } else {
          Object.assign(details, { nRestarts: unit.nRestarts, execMainStatus: unit.execMainStatus, execMainCode: unit.execMainCode, pid: unit.mainPid });
        }
        if (unit.activeEnterTimestamp) details.activeEnterTimestamp = unit.activeEnterTimestamp;

        if (unit.loadState === 'not-found') return { ok: false, message: `unit ${p.unit} not found`, details };
        if (unit.loadState !== 'loaded') return { ok: false, message: `unit ${p.unit} is not loaded (LoadState=${unit.loadState})`, details };

        if (unit.nRestarts !== undefined) {
          const verdict = loopDetector.observe(unit.nRestarts, ctx.now());
          details.restartsInWindow = verdict.restartsInWindow;
          if (verdict.loop) {
            return {
              ok: false,
              message: `${verdict.message} (${p.unit}, now ${unit.activeState}/${unit.subState})`,
              details: { ...details, restartLoop: true },
            };
          }
        }
        if (unit.result === 'start-limit-hit') {
          // systemd itself stopped restarting it (StartLimitBurst= within StartLimitIntervalSec=): another restart is refused or repeats the loop.
          return {
            ok: false,
            message: `restart loop: ${p.unit} hit its start limit, systemd stopped restarting it`,
            details: { ...details, restartLoop: true },
          };
        }

        const state = `${unit.activeState} (${unit.subState})`;
        // "reloading" is a running unit re-reading its configuration.
        if (unit.activeState !== 'active' && unit.activeState !== 'reloading') {
          const why = isTimer ? '' : exitCause(unit);
          return { ok: false, message: `${p.unit} is ${state}${why}`, details };
        }
        if (isTimer) {
          const next = unit.nextElapse ? `, next ${unit.nextElapse}` : '';
          const last = unit.lastTrigger ? `, last ${unit.lastTrigger}` : '';
          return { ok: true, message: `${p.unit} ${state}${next}${last}`, details };
        }
        const since = unit.activeEnterTimestamp ? ` since ${unit.activeEnterTimestamp}` : '';
        return { ok: true, message: `${p.unit} ${state}${since}, pid ${unit.mainPid ?? '?'}, ${unit.nRestarts ?? 0} restarts`, details };
      },

      async restart(ctx): Promise<HealResult> {
        const result = await runCommand([p.systemctlBin, ...scope, 'restart', p.unit], { env: commandEnv, signal: ctx.signal });
        const details = { unit: p.unit, ...exitDetails(result), durationMs: Math.round(result.durationMs) };
        if (result.exitCode === 0) return { ok: true, message: `systemctl${p.user ? ' --user' : ''} restart ${p.unit}: done`, details };
        return {
          ok: false,
          message: `systemctl${p.user ? ' --user' : ''} restart ${p.unit} failed: ${describeExit(result)}${firstLine(result.stderr)}`,
          details,
        };
      },
    };
  },
};

/** `systemctl show` output as a map: one KEY=VALUE per line, split at the first "=" (values may contain "="). */
export function parseShowOutput(stdout: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) properties.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return properties;
}

/** The fields this kind reads from `systemctl show`; numbers are undefined when the unit type has no such property. */
export interface UnitState {
  loadState: string;
  activeState: string;
  subState: string;
  result?: string | undefined;
  nRestarts?: number | undefined;
  execMainCode?: number | undefined;
  execMainStatus?: number | undefined;
  mainPid?: number | undefined;
  /** systemd's own text ("Sun 2025-11-23 03:00:00 UTC"), kept as printed: it carries the machine's time zone. */
  activeEnterTimestamp?: string | undefined;
  nextElapse?: string | undefined;
  lastTrigger?: string | undefined;
}

function readUnitState(properties: Map<string, string>): UnitState {
  const text = (key: string) => properties.get(key) || undefined;
  const int = (key: string) => {
    const value = properties.get(key);
    return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : undefined;
  };
  return {
    loadState: text('LoadState') ?? 'unknown',
    activeState: text('ActiveState') ?? 'unknown',
    subState: text('SubState') ?? 'unknown',
    result: text('Result'),
    nRestarts: int('NRestarts'),
    execMainCode: int('ExecMainCode'),
    execMainStatus: int('ExecMainStatus'),
    mainPid: int('MainPID'),
    activeEnterTimestamp: text('ActiveEnterTimestamp'),
    nextElapse: text('NextElapseUSecRealtime'),
    lastTrigger: text('LastTriggerUSec'),
  };
}

/** ExecMainCode is the siginfo code of the main process's end: CLD_EXITED, CLD_KILLED, CLD_DUMPED. */
const CLD_EXITED = 1;
const CLD_KILLED = 2;
const CLD_DUMPED = 3;

/** ", Result=exit-code, exit status 1" / ", Result=signal, killed by SIGKILL". */
function exitCause(unit: UnitState): string {
  const parts: string[] = [];
  if (unit.result && unit.result !== 'success') parts.push(`Result=${unit.result}`);
  if (unit.execMainCode === CLD_EXITED) parts.push(`exit status ${unit.execMainStatus}`);
  else if (unit.execMainCode === CLD_KILLED) parts.push(`killed by ${signalName(unit.execMainStatus)}`);
  else if (unit.execMainCode === CLD_DUMPED) parts.push(`dumped core on ${signalName(unit.execMainStatus)}`);
  return parts.length > 0 ? `, ${parts.join(', ')}` : '';
}

function signalName(signal: number | undefined): string {
  const name = Object.entries(constants.signals).find(([, number]) => number === signal)?.[0];
  return name ?? `signal ${signal}`;
}

/**
 * `systemctl --user` finds the user's manager through XDG_RUNTIME_DIR, which
 * a system service or cron job running Nightshift usually lacks; the user's
 * runtime folder is /run/user/<uid> on every systemd machine.
 */
function userManagerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.XDG_RUNTIME_DIR || process.getuid === undefined) return env;
  return { ...env, XDG_RUNTIME_DIR: `/run/user/${process.getuid()}` };
}

function exitDetails(result: ExecResult): Record<string, unknown> {
  return { exitCode: result.exitCode, signal: result.signal, spawnError: result.spawnError, stderrTail: tail(result.stderr, 10) };
}

/** The first line of systemctl's complaint ("Failed to restart x: Unit x not found."): the lines after it point elsewhere. */
function firstLine(stderr: string): string {
  const line = stderr.split('\n').find((text) => text.trim() !== '');
  return line ? `: ${line.trim()}` : '';
}
