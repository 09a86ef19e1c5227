import { join } from 'node:path';
import { runCommand } from '../../exec.js';
import { parseShowOutput } from '../../checks/systemd.js';
import { processMentions } from '../mentions.js';
import type { FoundThing, Source, SourceContext } from '../types.js';

const SYSTEMCTL_TIMEOUT_MS = 10_000;

/**
 * The operator's own enabled services, system and --user: those whose unit
 * file lives under /etc/systemd/system or ~/.config/systemd/user (vendor
 * units under /lib and /usr/lib are the distribution's). A `systemd` check
 * with the restart heal each.
 */
export const systemdSource: Source = {
  id: 'systemd',
  noun: ['systemd unit', 'systemd units'],
  async look(ctx) {
    const things: FoundThing[] = [];
    const problems: string[] = [];
    for (const user of [false, true]) {
      const scope = user ? 'systemd --user' : 'systemd';
      const ownDir = user ? join(ctx.home, '.config/systemd/user/') : '/etc/systemd/system/';
      const listed = await systemctl(ctx, user, ['list-unit-files', '--type=service', '--state=enabled', '--no-legend', '--no-pager']);
      if ('problem' in listed) {
        problems.push(`${scope}: ${listed.problem}`);
        continue;
      }
      const units = listed.stdout
        .split('\n')
        .map((line) => line.trim().split(/\s+/)[0] ?? '')
        .filter((unit) => unit.endsWith('.service') && !unit.startsWith('-') && !unit.includes('@') && !/nightshift/i.test(unit));
      if (units.length === 0) continue;
      const shown = await systemctl(ctx, user, ['show', '-p', 'Id', '-p', 'FragmentPath', '-p', 'MainPID', ...units]);
      if ('problem' in shown) {
        problems.push(`${scope}: ${shown.problem}`);
        continue;
      }
      for (const block of shown.stdout.split(/\n\s*\n/)) {
        const props = parseShowOutput(block);
        const unit = props.get('Id');
        const fragment = props.get('FragmentPath') ?? '';
        if (!unit || !units.includes(unit) || !fragment.startsWith(ownDir)) continue;
        const mainPid = Number(props.get('MainPID') ?? 0);
        const pids = Number.isInteger(mainPid) && mainPid > 0 ? [mainPid] : [];
        const base = unit.replace(/\.service$/, '');
        const name = ctx.names.claim([base, `${base}-service`], 'unit');
        const params: Record<string, unknown> = { unit };
        if (user) params.user = true;
        const cwd = pids[0] === undefined ? undefined : ctx.machine.cwd(pids[0]);
        things.push({
          label: user ? `${unit} (--user)` : unit,
          check: {
            name,
            kind: 'systemd',
            notes: [`${user ? 'user ' : ''}unit ${unit}, enabled, from ${fragment}${pids[0] ? `; pid ${pids[0]}` : ''}`],
            params,
            heal: ['restart'],
            dependsOn: [],
          },
          pids,
          unit,
          logs: [],
          ports: [],
          mentions: processMentions(ctx.machine, pids),
          ...(cwd && cwd !== '/' ? { cwd } : {}),
        });
      }
    }
    return problems.length > 0 ? { things, problem: problems.join('; ') } : { things };
  },
};

async function systemctl(ctx: SourceContext, user: boolean, args: string[]): Promise<{ stdout: string } | { problem: string }> {
  const result = await runCommand(['systemctl', ...(user ? ['--user'] : []), ...args], {
    env: ctx.env,
    signal: AbortSignal.timeout(SYSTEMCTL_TIMEOUT_MS),
    keepBytes: 4 * 1024 * 1024,
  });
  if (result.spawnError) return { problem: /ENOENT/.test(result.spawnError) ? 'systemctl not on PATH' : result.spawnError };
  if (result.exitCode !== 0) {
    const why = result.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${result.exitCode}`;
    return { problem: `systemctl ${args[0]} failed: ${why}` };
  }
  return { stdout: result.stdout };
}
