import { basename } from 'node:path';
import { parseListen } from '../../config/load.js';
import { runCommand } from '../../exec.js';
import { compactDuration, longestGapMs } from '../schedule.js';
import type { FoundThing, Source } from '../types.js';

const CRONTAB_TIMEOUT_MS = 10_000;
/** Programs that run the script named after them: the job is named after the script. */
const INTERPRETERS = new Set([
  'sh',
  'bash',
  'dash',
  'zsh',
  'python',
  'python3',
  'node',
  'php',
  'perl',
  'ruby',
  'env',
  'nice',
  'ionice',
  'flock',
  'timeout',
  'nohup',
  'sudo',
]);
/** A heartbeat's grace: a tenth of the period, at least 5 minutes, at most an hour. */
const MIN_GRACE_MS = 5 * 60_000;
const MAX_GRACE_MS = 60 * 60_000;

/** One crontab entry as read. */
export interface CronEntry {
  schedule: string;
  command: string;
}

/**
 * The user's crontab (`crontab -l`; no binary or no crontab is normal): a
 * `heartbeat` check per job, its period the longest gap between two runs,
 * and the `curl` each entry needs appended so it pings on success.
 */
export const cronSource: Source = {
  id: 'cron',
  noun: ['cron job', 'cron jobs'],
  question: 'Watch them with heartbeats (each entry then needs a curl ping, printed at the end)?',
  async look(ctx) {
    const result = await runCommand(['crontab', '-l'], { env: ctx.env, signal: AbortSignal.timeout(CRONTAB_TIMEOUT_MS) });
    if (result.spawnError) return { things: [], problem: /ENOENT/.test(result.spawnError) ? 'cron: crontab not on PATH' : `cron: ${result.spawnError}` };
    if (result.exitCode !== 0) {
      if (/no crontab/i.test(result.stderr)) return { things: [] };
      return { things: [], problem: `cron: crontab -l failed: ${result.stderr.trim().split('\n').pop() ?? `exit ${result.exitCode}`}` };
    }
    const listen = parseListen(ctx.env.NIGHTSHIFT_HTTP || '127.0.0.1:8787');
    const host = !listen || listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
    const base = `http://${host.includes(':') ? `[${host}]` : host}:${listen?.port ?? 8787}`;
    const things: FoundThing[] = [];
    for (const entry of parseCrontab(result.stdout)) {
      const gap = longestGapMs(entry.schedule);
      if (gap === undefined) continue; // @reboot, or a schedule this cannot read: no period to expect.
      const program = programOf(entry.command);
      const pinged = /\/ping\/([A-Za-z0-9._-]{1,64})/.exec(entry.command)?.[1];
      const name = ctx.names.claim(pinged ? [pinged] : [`cron-${program.replace(/\.[a-z0-9]+$/i, '')}`, 'cron-job'], 'cron-job');
      const grace = Math.min(MAX_GRACE_MS, Math.max(MIN_GRACE_MS, Math.round(gap / 10 / 60_000) * 60_000));
      const params: Record<string, unknown> = { period: compactDuration(gap), grace: compactDuration(grace) };
      if (pinged && pinged !== name) params.ping = pinged;
      const compound = /[;|&]/.test(entry.command.replace(/\d?>&\d/g, ''));
      const curl = `curl -fsS -m 10 --retry 3 ${base}/ping/${pinged ?? name} > /dev/null`;
      const thing: FoundThing = {
        label: `${program} (${entry.schedule})`,
        check: {
          name,
          kind: 'heartbeat',
          notes: [
            `cron job "${entry.schedule}" running ${program}: no ping within period + grace fails`,
            pinged ? 'the entry already pings this name' : `append to its crontab entry: && ${curl}`,
          ],
          params,
          heal: [],
          dependsOn: [],
        },
        pids: [],
        logs: [],
        ports: [],
      };
      if (!pinged) {
        thing.nextStep = `${name} ("${entry.schedule}" ${program}): append to the entry${compound ? ' (wrap its command in ( ... ) first, so the ping follows all of it)' : ''}:\n      && ${curl}`;
      }
      things.push(thing);
    }
    return { things };
  },
};

/** The job lines of a crontab: comments, blank lines and VAR=value lines left out. */
export function parseCrontab(text: string): CronEntry[] {
  const entries: CronEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || /^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line)) continue;
    if (line.startsWith('@')) {
      const [schedule, ...rest] = line.split(/\s+/);
      if (rest.length > 0) entries.push({ schedule: schedule!, command: rest.join(' ') });
      continue;
    }
    const fields = line.split(/\s+/);
    if (fields.length < 6) continue;
    entries.push({ schedule: fields.slice(0, 5).join(' '), command: fields.slice(5).join(' ') });
  }
  return entries;
}

/** The program a command runs, named by its file ("python3 /srv/jobs/cleanup.py --all" -> "cleanup.py"); no arguments, which may hold secrets. */
export function programOf(command: string): string {
  const segment =
    command
      .split(/&&|;/)
      .map((part) => part.trim())
      .find((part) => !/^cd\s/.test(part)) ?? command;
  const words = segment.split(/\s+/).filter((word) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
  for (const word of words) {
    if (word.startsWith('-')) continue;
    const name = basename(word.replace(/^["']|["']$/g, ''));
    if (!name || INTERPRETERS.has(name) || /^\d+$/.test(name)) continue;
    return name.replace(/[^A-Za-z0-9._-]/g, '') || 'job';
  }
  return 'job';
}
