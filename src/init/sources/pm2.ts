import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeExit } from '../../exec.js';
import { readPm2List } from '../../checks/pm2-list.js';
import { logMentions, processMentions } from '../mentions.js';
import { findOnPath } from '../../util/which.js';
import { isProcessRunning, parsePid } from '../../util/proc.js';
import type { FoundThing, Source } from '../types.js';

/** Where a pm2 found on PATH is as good as "pm2" for the bot too. */
const STANDARD_BIN_DIRS = new Set(['/usr/bin', '/usr/local/bin', '/bin']);
const JLIST_TIMEOUT_MS = 15_000;

/** pm2 apps (`pm2 jlist`, PM2_HOME respected): a `pm2` check with the restart heal each; their logs and cwd for the log source. */
export const pm2Source: Source = {
  id: 'pm2',
  noun: ['pm2 app', 'pm2 apps'],
  async look(ctx) {
    const bin = findOnPath('pm2', ctx.env.PATH);
    if (!bin) return { things: [], problem: 'pm2: not on PATH' };
    // `pm2 jlist` would spawn a daemon where none runs: look for the running one first.
    const home = ctx.env.PM2_HOME || join(ctx.home, '.pm2');
    const daemonPid = existsSync(join(home, 'pm2.pid')) ? parsePid(readFileSync(join(home, 'pm2.pid'), 'utf8')) : undefined;
    if (daemonPid === undefined || !isProcessRunning(daemonPid)) return { things: [], problem: `pm2: no daemon running in ${home}` };
    const { list, ...listed } = await readPm2List(bin, ctx.env, AbortSignal.timeout(JLIST_TIMEOUT_MS));
    if (!list)
      return {
        things: [],
        problem: 'result' in listed && listed.result.exitCode !== 0 ? `pm2 jlist failed: ${describeExit(listed.result)}` : 'pm2 jlist printed no process list',
      };
    const pm2Home = ctx.env.PM2_HOME;
    const byName = new Map<string, FoundThing>();
    for (const entry of list) {
      if (/nightshift/i.test(entry.name)) continue; // Nightshift never watches itself this way.
      const extra = entry.pm2_env;
      const known = byName.get(entry.name);
      if (known) {
        // Cluster mode: one app, several instances.
        if (entry.pid > 0) known.pids.push(entry.pid);
        continue;
      }
      const logs = [extra.pm_out_log_path, extra.pm_err_log_path].filter((p): p is string => p !== undefined && p !== '/dev/null');
      const name = ctx.names.claim([entry.name, `${entry.name}-pm2`], 'pm2-app');
      const params: Record<string, unknown> = { app: entry.name };
      const notes = [`pm2 app ${entry.name}: ${entry.pm2_env.status}${entry.pid > 0 ? `, pid ${entry.pid}` : ''}`];
      if (pm2Home) params.pm2Home = pm2Home;
      if (!STANDARD_BIN_DIRS.has(dirname(bin))) {
        params.pm2Bin = bin;
        notes.push('pm2Bin: the pm2 init found on PATH, so a bot started with another PATH finds it too');
      }
      const thing: FoundThing = {
        label: entry.name,
        check: { name, kind: 'pm2', notes, params, heal: ['restart'], dependsOn: [] },
        pids: entry.pid > 0 ? [entry.pid] : [],
        logs,
        ports: [],
        ...(extra.pm_cwd !== undefined ? { cwd: extra.pm_cwd } : {}),
      };
      byName.set(entry.name, thing);
    }
    const things = [...byName.values()];
    for (const thing of things) thing.mentions = logMentions(thing.logs, processMentions(ctx.machine, thing.pids));
    return { things };
  },
};
