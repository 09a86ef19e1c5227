import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { describeExit, runCommand, type ExecResult } from '../exec.js';
import { stormBreakerOf } from '../checks/event-storm.js';
import { listPm2Apps } from '../checks/pm2-list.js';
import { ageDuration, formatDuration } from '../util/duration.js';
import { tailAtWord } from '../util/text.js';
import type { HealAction, HealEnvironment, HealResult, HealStep } from './types.js';

const SYSTEMD_SUFFIXES = ['service', 'socket', 'target', 'device', 'mount', 'automount', 'swap', 'timer', 'path', 'slice', 'scope'];

const params = z
  .strictObject({
    /** A pm2 app to stop (`pm2 stop <app>`): its name as `pm2 list` shows it, or its numeric id. */
    pm2: z
      .string()
      .min(1)
      .refine((app) => !app.startsWith('-'), 'an app name cannot start with "-"')
      .refine((app) => app !== 'all', '"all" would stop every pm2 app, Nightshift\'s own included; name one app')
      .refine((app) => !/^\/.*\/$/.test(app), 'a /regex/ stops every app it matches; name one app')
      .optional(),
    /** The pm2 executable (pm2 target): a name looked up on PATH, or a path. Default `pm2`. */
    pm2Bin: z.string().min(1).optional(),
    /** PM2_HOME of the daemon that runs the app (pm2 target); the bot's own default when absent. */
    pm2Home: z.string().min(1).optional(),
    /** A systemd unit to stop (`systemctl stop <unit>`); a name without a type suffix is a .service. */
    systemd: z
      .string()
      .min(1)
      .refine((unit) => !unit.startsWith('-'), 'a unit name cannot start with "-"')
      .refine((unit) => !/[*?[\s]/.test(unit), 'a unit pattern may match a unit that must not be stopped; name one unit')
      .optional(),
    /** The unit belongs to the user's service manager (`systemctl --user`); systemd target only. */
    user: z.boolean().optional(),
    /** The systemctl executable (systemd target). Default `systemctl`. */
    systemctlBin: z.string().min(1).optional(),
    /** A command that stops the source: a shell line (run with /bin/sh -c) or an argv array (run without a shell). */
    run: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
    /** At most one stop of the same target within this long, remembered across restarts of Nightshift. */
    cooldown: ageDuration.default(900_000),
    /** More names never stopped, besides Nightshift's own pm2 app and systemd units and anything named like "nightshift". */
    protected: z.array(z.string().min(1)).default([]),
  })
  .superRefine((p, ctx) => {
    const given = (['pm2', 'systemd', 'run'] as const).filter((key) => p[key] !== undefined);
    if (given.length === 0) ctx.addIssue({ code: 'custom', path: ['pm2'], message: 'expected one thing to stop: pm2, systemd or run' });
    for (const extra of given.slice(1)) ctx.addIssue({ code: 'custom', path: [extra], message: `expected one thing to stop only (${given[0]} is set too)` });
    const belongs = { pm2Bin: 'pm2', pm2Home: 'pm2', user: 'systemd', systemctlBin: 'systemd' } as const;
    for (const [key, target] of Object.entries(belongs) as Array<[keyof typeof belongs, 'pm2' | 'systemd']>) {
      if (p[key] !== undefined && p[target] === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `expected ${key} only with a ${target} target` });
    }
  });

export type StopParams = z.output<typeof params>;

/** What Nightshift itself runs as: never stopped. Read once, when the step is created. */
export interface OwnUnits {
  /** Our pm2 app, when pm2 runs us (pm2 sets `pm_id` and `name` in its apps' environment). */
  pm2: { id: string; name: string } | null;
  /** Every systemd unit in our cgroup path: our service (or scope) and the slices above it; stopping any of them stops us. */
  systemd: string[];
}

/** Our pm2 app and systemd units, from our environment and the text of /proc/self/cgroup (v1 or v2). */
export function ownUnits(environment: NodeJS.ProcessEnv, cgroup: string): OwnUnits {
  const pm2 = environment.pm_id !== undefined && environment.name !== undefined ? { id: environment.pm_id, name: environment.name } : null;
  const units = new Set<string>();
  for (const line of cgroup.split('\n')) {
    // "0::/system.slice/nightshift.service", "1:name=systemd:/user.slice/user-1000.slice/session-2.scope"
    const path = line.split(':').slice(2).join(':');
    for (const segment of path.split('/')) if (SYSTEMD_SUFFIXES.some((suffix) => segment.endsWith(`.${suffix}`))) units.add(segment);
  }
  return { pm2, systemd: [...units] };
}

function readOwnCgroup(): string {
  try {
    return readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    // No /proc (not Linux): no systemd unit can be ours to know.
    return '';
  }
}

/**
 * Stops the source of a storm: a pm2 app, a systemd unit, or whatever a
 * command stops. It is the breaker's last resort, so it refuses much: to stop
 * Nightshift's own pm2 app or systemd unit, anything named like Nightshift,
 * the `protected` names, or the same target twice within `cooldown` (kept in
 * the data directory, so a restart of Nightshift does not forget it). On an
 * event-storm check it stops only while the breaker is tripped. Nothing
 * starts the target again: the operator does, once the storm is explained.
 */
export const stopAction: HealAction<StopParams> = {
  action: 'stop',
  description: 'stop a pm2 app, systemd unit or command (never Nightshift itself), at most once per cooldown',
  params,
  create(p, env) {
    return createStopStep(p, env, ownUnits(env.childEnv(), readOwnCgroup()));
  },
};

/** A stop of one target, as the step carries it out. */
interface Target {
  /** "pm2 app api", "systemd unit api.service (--user)", "the stop command (kill …)". */
  what: string;
  /** "stop pm2 app api", "run the stop command (kill …)". */
  act: string;
  /** "stopped pm2 app api", "ran the stop command (kill …)". */
  acted: string;
  /** Identity for the cooldown file. */
  key: string;
  /** The start of the cooldown file's name: readable, never a command line (which may hold a secret). */
  slug: string;
  /** The names a protection rule is held against. */
  names: string[];
  /** Whether a bare number among `names` is a pm2 id (a pm2 target), not just a word of a command. */
  namesArePm2Ids: boolean;
  /** How the operator starts it again. */
  startAgain: string;
}

/** Stops in progress in this process, by cooldown key: two checks sharing a target do not both stop it. */
const stopping = new Set<string>();

/** The step with Nightshift's own units given (the action reads them from this process). */
export function createStopStep(p: StopParams, env: HealEnvironment, own: OwnUnits): HealStep {
  const target = describeTarget(p);
  const cooldownFile = join(env.dataDir, 'stops', `${target.slug.replace(/[^A-Za-z0-9._@-]+/g, '_').slice(0, 60)}-${hash(target.key)}.json`);
  const pm2Env = env.childEnv(p.pm2Home === undefined ? {} : { PM2_HOME: p.pm2Home });
  return {
    async run(check, ctx): Promise<HealResult> {
      const base = { target: target.what, cooldownMs: p.cooldown };
      const breaker = stormBreakerOf(check.probe);
      if (breaker && !breaker().tripped) {
        return {
          ok: false,
          message: `did not ${target.act}: the breaker of ${check.check.name} is not tripped`,
          details: { ...base, refused: 'breaker-closed' },
        };
      }
      const refusal = protectionOf(target, own, p.protected);
      if (refusal) return refused(target, refusal);
      const now = ctx.now();
      const last = await readStop(cooldownFile);
      // A record dated after now means the clock was set back: it cannot say how long ago the stop was, so it is not held against this one.
      if (last && now - last.stoppedAt < p.cooldown && now >= last.stoppedAt) {
        return {
          ok: false,
          message: `${target.acted} ${formatDuration(now - last.stoppedAt)} ago; next stop allowed in ${formatDuration(last.stoppedAt + p.cooldown - now)}`,
          details: { ...base, refused: 'cooldown', stoppedAt: last.stoppedAt, by: last.check },
        };
      }
      if (stopping.has(cooldownFile))
        return { ok: false, message: `did not ${target.act}: another stop of it is under way`, details: { ...base, refused: 'in-progress' } };
      stopping.add(cooldownFile);
      try {
        let argv: string[] | string;
        if (p.pm2 !== undefined) {
          const resolved = await resolvePm2App(target, p.pm2, p.pm2Bin ?? 'pm2', pm2Env, own, ctx.signal);
          if ('result' in resolved) return { ...resolved.result, details: { ...base, ...resolved.result.details } };
          argv = [p.pm2Bin ?? 'pm2', 'stop', p.pm2];
        } else if (p.systemd !== undefined) {
          argv = [p.systemctlBin ?? 'systemctl', ...(p.user ? ['--user'] : []), 'stop', p.systemd];
        } else {
          argv = p.run!;
        }
        // Remembered before it runs: a Nightshift that dies mid-stop must not stop again at once when it comes back.
        await writeStop(cooldownFile, { stoppedAt: now, target: target.what, check: check.check.name });
        const result = await runCommand(argv, { env: p.pm2 !== undefined ? pm2Env : env.childEnv(), signal: ctx.signal, keepBytes: 4096 });
        const details = { ...base, ...commandDetails(result), stoppedAt: now };
        if (result.exitCode !== 0) {
          // It did not stop: the next heal may try again.
          await rm(cooldownFile, { force: true });
          const line = result.stderr.trim().split('\n').at(-1)?.trim();
          return { ok: false, message: `could not ${target.act}: ${describeExit(result)}${line && !result.spawnError ? `: ${line}` : ''}`, details };
        }
        env.log.warn({ target: target.what, check: check.check.name }, 'stopped the source of an event storm');
        return { ok: true, message: `${target.acted}; ${target.startAgain} once the storm is explained`, details };
      } finally {
        stopping.delete(cooldownFile);
      }
    },
  };
}

function describeTarget(p: StopParams): Target {
  if (p.pm2 !== undefined) {
    const home = p.pm2Home === undefined ? '' : ` (PM2_HOME ${p.pm2Home})`;
    const what = `pm2 app ${p.pm2}${home}`;
    return {
      what,
      act: `stop ${what}`,
      acted: `stopped ${what}`,
      key: `pm2-${p.pm2}-${p.pm2Home ?? ''}`,
      slug: `pm2-${p.pm2}`,
      names: [p.pm2],
      namesArePm2Ids: true,
      startAgain: `start it again with \`pm2 start ${p.pm2}\``,
    };
  }
  if (p.systemd !== undefined) {
    const unit = withUnitSuffix(p.systemd);
    const scope = p.user ? ' --user' : '';
    const what = `systemd unit ${unit}${p.user ? ' (--user)' : ''}`;
    return {
      what,
      act: `stop ${what}`,
      acted: `stopped ${what}`,
      key: `systemd-${p.user ? 'user-' : ''}${unit}`,
      slug: `systemd-${p.user ? 'user-' : ''}${unit}`,
      names: [unit],
      namesArePm2Ids: false,
      startAgain: `start it again with \`systemctl${scope} start ${unit}\``,
    };
  }
  const text = typeof p.run === 'string' ? p.run : p.run!.join(' ');
  // The words of the command are what a protection rule can recognise: "pm2 stop api", "kill $(cat api.pid)".
  const words = text.split(/[\s"'`;|&()$<>=]+/).filter((word) => word.length > 0);
  // Only the program is named: a command line may carry a secret that was interpolated into the configuration.
  const program = (typeof p.run === 'string' ? words[0] : p.run![0])?.split('/').at(-1) ?? 'sh';
  const what = `the stop command (${program}${words.length > 1 ? ' …' : ''})`;
  return {
    what,
    act: `run ${what}`,
    acted: `ran ${what}`,
    key: `run-${text}`,
    slug: 'run',
    names: words,
    namesArePm2Ids: false,
    startAgain: 'start what it stopped again by hand',
  };
}

/** "api" is "api.service" to systemctl. */
function withUnitSuffix(unit: string): string {
  return SYSTEMD_SUFFIXES.some((suffix) => unit.endsWith(`.${suffix}`)) ? unit : `${unit}.service`;
}

/** Why a name must not be stopped, or undefined. */
function protectionOf(target: Target, own: OwnUnits, protectedNames: string[]): string | undefined {
  const listed = new Set(protectedNames.flatMap((name) => [name, withUnitSuffix(name)]));
  for (const name of target.names) {
    // A path ("/opt/nightshift/bin/stop-api.sh") names where a script lives, not what it stops.
    if (/nightshift/i.test(name) && !name.includes('/')) return `${name} is named like Nightshift itself`;
    if (own.pm2 && (name === own.pm2.name || (target.namesArePm2Ids && name === own.pm2.id)))
      return `${name} is Nightshift's own pm2 app (pm_id ${own.pm2.id})`;
    const unit = withUnitSuffix(name);
    if (own.systemd.includes(name) || own.systemd.includes(unit)) return `${name} is a systemd unit Nightshift runs in (/proc/self/cgroup)`;
    if (listed.has(name) || listed.has(unit)) return `${name} is on the protected list`;
  }
  return undefined;
}

function refused(target: Target, reason: string): HealResult {
  return { ok: false, message: `refused to ${target.act}: ${reason}; nothing was run`, details: { target: target.what, refused: 'protected', reason } };
}

/**
 * The instances pm2 would stop for `app`, checked first: pm2 reads a name it
 * does not know as a namespace (which may hold Nightshift), so an unknown
 * name is refused, and so is one that resolves to our own process.
 */
async function resolvePm2App(
  target: Target,
  app: string,
  pm2Bin: string,
  pm2Env: NodeJS.ProcessEnv,
  own: OwnUnits,
  signal: AbortSignal,
): Promise<{ ok: true } | { result: HealResult }> {
  const listed = await listPm2Apps(pm2Bin, pm2Env, signal);
  if ('problem' in listed) return { result: { ok: false, message: `did not ${target.act}: ${listed.problem}`, details: listed.evidence } };
  // pm2 reads a number as an id first, as this does.
  const byId = /^\d+$/.test(app) ? listed.apps.filter((entry) => String(entry.pm_id) === app) : [];
  const instances = byId.length > 0 ? byId : listed.apps.filter((entry) => entry.name === app);
  if (instances.length === 0) {
    const message = `did not ${target.act}: pm2 has no app by that name or id; nothing was run`;
    return { result: { ok: false, message, details: { apps: listed.apps.length } } };
  }
  const ours = own.pm2 && instances.find((entry) => String(entry.pm_id) === own.pm2!.id || entry.name === own.pm2!.name);
  if (ours) return { result: refused(target, `it is Nightshift's own pm2 app (${ours.name}, pm_id ${String(ours.pm_id)})`) };
  if (instances.every((entry) => entry.pm2_env.status === 'stopped')) {
    return { result: { ok: true, message: `${target.what} is already stopped; nothing was run`, details: { alreadyStopped: true } } };
  }
  return { ok: true };
}

function commandDetails(result: ExecResult): Record<string, unknown> {
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    durationMs: Math.round(result.durationMs),
    stderrTail: tailAtWord(result.stderr.trim(), 1000),
    ...(result.spawnError ? { spawnError: result.spawnError } : {}),
  };
}

/** The last stop of a target, as remembered in its file under the data directory. */
interface StopRecord {
  stoppedAt: number;
  target: string;
  check: string;
}

async function readStop(file: string): Promise<StopRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let value: Partial<StopRecord> | undefined;
  try {
    value = JSON.parse(text) as Partial<StopRecord>;
  } catch {
    // Unreadable (a damaged disk; writes are atomic): the file's own time is when it was written, at the last stop.
  }
  if (typeof value?.stoppedAt === 'number') return value as StopRecord;
  return { stoppedAt: (await stat(file)).mtimeMs, target: 'unknown', check: 'unknown' };
}

/** Written to a temporary file and renamed over the old one: a crash leaves the old record or the new, never half. */
async function writeStop(file: string, record: StopRecord): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(record)}\n`);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}
