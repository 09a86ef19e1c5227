/**
 * npm run bench:peers — Nightshift beside the supervisors users would pick instead, in one run:
 *
 * 1. kill → healthy: the same small HTTP service (bench/services/http-service.mjs) killed with SIGKILL
 *    BENCH_KILLS times under a bare respawning parent (the floor, measured before and after, the faster
 *    kept), Nightshift's `process` kind, pm2, supervisord and monit: median and p95 from the kill to a
 *    new pid answering HTTP, and the idle RSS and CPU of the supervisor process itself.
 * 2. crash loop: bench/services/crash-loop.mjs (exits 1 100 ms after start) under each supervisor for
 *    BENCH_LOOP_SECONDS, all at once: restarts made, the state each ends in, and when a human is told
 *    (Nightshift: its ntfy channel, to a fake ntfy server here; monit: its alert mail, to a tiny SMTP
 *    listener here; pm2 and supervisord have no notification of their own).
 *
 * supervisord and monit are Debian's (scripts/install-bench-deps.sh); a missing one is skipped with one line.
 * Env: BENCH_KILLS (20), BENCH_LOOP_SECONDS (60), BENCH_IDLE_SECONDS (10). Last line: one JSON object.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { packageRoot } from '../src/paths.js';
import { FakeNtfyServer } from '../test/fakes/ntfy/server.js';
import { closedPort } from '../test/helpers/net.js';
import { processesWith } from '../test/helpers/processes.js';
import { hardLimit, measureWindow, positiveNumber, terminate, type WindowFigures } from './lib/bot-process.js';
import { machineInfo, round } from './lib/proc-stats.js';
import { BOT_ENV, HTTP_SERVICE, startBot, stats, waitHealthy, type SampleStats } from './lib/service-health.js';

const KILLS = Number(process.env.BENCH_KILLS ?? 20);
const LOOP_SECONDS = positiveNumber(process.env.BENCH_LOOP_SECONDS, 60);
const IDLE_SECONDS = positiveNumber(process.env.BENCH_IDLE_SECONDS, 10);
const HARD_LIMIT_MS = 12 * 60_000;
/**
 * How long each service stays healthy before the next kill, the same under every supervisor: longer than
 * Nightshift's 1 s patrol (so the heal held), pm2's min_uptime (1 s) and supervisord's startsecs (1 s), so
 * that no supervisor counts a kill as a failed start.
 */
const KILL_GAP_MS = 1_200;
/**
 * After the service first answers, before the idle window: start-up work (the first patrol, pm2's first sweep, and
 * for the Node-based supervisors V8's first full collection, which lands about 8 s after start) is not idle.
 */
const SETTLE_MS = 10_000;
const CRASH_LOOP = join(packageRoot, 'bench', 'services', 'crash-loop.mjs');
const BARE = join(packageRoot, 'bench', 'services', 'bare-supervisor.mjs');
const PM2 = join(packageRoot, 'node_modules', '.bin', 'pm2');
const NTFY_TOPIC = 'alerts';

type PeerName = 'pm2' | 'supervisord' | 'monit';

/** A service as the supervisors are told to run it: `node <script> <arg>`; `label` names it to them. */
interface Service {
  label: string;
  script: string;
  arg: string;
}

/** A service running under a supervisor the bench started. */
interface Supervision {
  /** The supervisor's own process (for pm2 its daemon, "God"): whose idle RSS and CPU are measured. */
  supervisorPid: number;
  /** The supervisor's own account of the service now, in its words. */
  state(): Promise<string>;
  /** Stops the supervisor and whatever it left running. */
  stop(): Promise<void>;
}

interface Supervisor {
  name: 'floor' | 'nightshift' | PeerName;
  /** Why it cannot run on this machine (one line), or undefined. */
  unavailable: string | undefined;
  /** What the bench set; everything else is the supervisor's default. */
  settings: string;
  supervise(service: Service, dir: string): Promise<Supervision>;
}

/** One of the supervisors Nightshift is compared with. */
type Peer = Supervisor & { name: PeerName };

/** The first message a supervisor sent a human about a service. */
interface Notice {
  at: number;
  text: string;
}

const work = mkdtempSync(join(tmpdir(), 'nightshift-bench-peers-'));
/** What to do synchronously if the bench must give up (hard limit, Ctrl-C): kill each supervisor still running. */
const emergencyStops = new Map<string, () => void>();
/** argv of every service started, so whatever a supervisor leaves behind (monit's start programs detach) is found and killed. */
const launched = new Set<string>();

function argvOf(service: Service): string[] {
  return [process.execPath, service.script, service.arg];
}

/**
 * SIGKILLs every process running `argv` (its command line holds it whole: neither the floor's parent, which
 * has its own script in between, nor monit's /bin/sh, which has it as one argument, matches).
 */
function killProcessesRunning(argv: string[]): void {
  for (const pid of processesWith(`${argv.join('\0')}\0`)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone between the listing and the kill: nothing left to do.
    }
  }
}

function emergencyCleanup(): void {
  for (const stop of emergencyStops.values()) stop();
  for (const argv of launched) killProcessesRunning(argv.split('\0'));
  rmSync(work, { recursive: true, force: true });
}

/** Why `binary` cannot be run (the skip line), or undefined when it is on PATH. */
function notInstalled(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v "$0"', binary], { timeout: 5_000 });
  return found.status === 0 ? undefined : `${binary} not found (scripts/install-bench-deps.sh installs it)`;
}

/** The last lines of a supervisor's own output file, for an error message. */
function tailOf(file: string, lines = 15): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(no output)';
}

/** Registers a started service and the synchronous stop of its supervisor; returns the matching graceful stop. */
function track(service: Service, key: string, emergencyStop: () => void, gracefulStop: () => Promise<void>): () => Promise<void> {
  launched.add(argvOf(service).join('\0'));
  emergencyStops.set(key, () => {
    emergencyStop();
    killProcessesRunning(argvOf(service));
  });
  return async () => {
    await gracefulStop();
    emergencyStops.delete(key);
    killProcessesRunning(argvOf(service));
  };
}

/** A supervisor that is one child process of the bench (the floor, supervisord, monit), stopped with SIGTERM. */
function childSupervision(child: ChildProcess, service: Service, key: string, state: () => Promise<string>): Supervision {
  const stop = track(
    service,
    key,
    () => child.kill('SIGKILL'),
    async () => void (await terminate(child)),
  );
  return { supervisorPid: child.pid!, state, stop };
}

function spawnLogged(command: string, args: string[], dir: string): { child: ChildProcess; output: string } {
  const output = join(dir, 'supervisor.out');
  const fd = openSync(output, 'w');
  const child = spawn(command, args, { cwd: dir, env: BOT_ENV, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return { child, output };
}

const floor: Supervisor = {
  name: 'floor',
  unavailable: undefined,
  settings: 'bench/services/bare-supervisor.mjs: respawns the service the moment it exits, nothing else',
  async supervise(service, dir) {
    const parent = spawn(process.execPath, [BARE, service.script, service.arg], { stdio: 'ignore', env: BOT_ENV });
    return childSupervision(parent, service, dir, async () => (parent.exitCode === null ? 'respawning' : `exited ${parent.exitCode}`));
  },
};

/**
 * Nightshift's `process` kind. For the kills, recovery.ts's config: patrol 1 s, cooldown 0s (a bench kill is not
 * a restart that failed to hold) and maxHeals raised so every kill is healed. For the crash loop, the check as a
 * user would write it (defaults for the patrol, heals, back-off and escalation) with the ntfy channel on.
 */
function nightshift(purpose: 'kills' | 'crash-loop', ntfy?: FakeNtfyServer): Supervisor {
  const tuning = purpose === 'kills' ? `    cooldown: 0s\n    maxHeals: { count: ${KILLS + 5}, window: 15m }\n` : '';
  return {
    name: 'nightshift',
    unavailable: undefined,
    settings:
      purpose === 'kills'
        ? 'process check, heal [restart], patrol 1 s, cooldown 0s, maxHeals raised to kills + 5; no chat channel'
        : 'process check, heal [restart], every other setting its default (patrol 10 s, maxHeals 3 per 15m, back-off 1-2-4 s, escalation); ntfy channel on',
    async supervise(service, dir) {
      const patrol = purpose === 'kills' ? 'patrol: { interval: 1s }\n' : '';
      const yaml = `${patrol}checks:\n  - name: ${service.label}\n    kind: process\n    command: ${JSON.stringify(argvOf(service))}\n    heal: [restart]\n${tuning}`;
      const env = ntfy ? { NTFY_URL: ntfy.url, NTFY_TOPIC } : {};
      const { bot, db } = await startBot(dir, yaml, env);
      const stop = track(
        service,
        dir,
        () => bot.kill('SIGKILL'),
        async () => {
          db.close();
          await bot.stop();
        },
      );
      return { supervisorPid: bot.pid, state: async () => nightshiftState(db, service.label), stop };
    },
  };
}

/** What Nightshift recorded about a check: whether it escalated, and its events by type. */
function nightshiftState(db: Database.Database, check: string): string {
  const counts = db.prepare('SELECT type, count(*) AS n FROM events WHERE subject = ? GROUP BY type ORDER BY min(id)').all(check) as Array<{
    type: string;
    n: number;
  }>;
  const escalated = counts.some((c) => c.type === 'escalated');
  const summary = counts.map((c) => `${c.type} ${c.n}`).join(', ');
  return `${escalated ? 'escalated' : 'not escalated'}; events: ${summary}`;
}

function pm2(home: string, args: string[]): string {
  const result = spawnSync(PM2, args, { env: { ...BOT_ENV, PM2_HOME: home }, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`pm2 ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

const pm2Supervisor: Peer = {
  name: 'pm2',
  unavailable: existsSync(PM2) ? undefined : 'pm2 not found in node_modules/.bin (npm install installs it)',
  settings:
    '`pm2 start <script> --name <label> -- <arg>`, own PM2_HOME; defaults otherwise (autorestart on, min_uptime 1 s, max_restarts 16, no restart delay)',
  async supervise(service, dir) {
    const home = join(dir, 'pm2');
    mkdirSync(home, { recursive: true });
    const stop = track(
      service,
      dir,
      () => spawnSync(PM2, ['kill'], { env: { ...BOT_ENV, PM2_HOME: home }, timeout: 30_000 }),
      async () => void pm2(home, ['kill']),
    );
    try {
      pm2(home, ['start', service.script, '--name', service.label, '--', service.arg]);
    } catch (err) {
      await stop();
      throw err;
    }
    const state = async () => {
      const listing = pm2(home, ['jlist']);
      const apps = JSON.parse(listing.slice(listing.indexOf('['))) as Array<{
        name: string;
        pm2_env: { status: string; restart_time: number; unstable_restarts: number };
      }>;
      const app = apps.find((a) => a.name === service.label);
      return app ? `${app.pm2_env.status}; restart_time ${app.pm2_env.restart_time}, unstable_restarts ${app.pm2_env.unstable_restarts}` : 'not listed';
    };
    return { supervisorPid: Number(readFileSync(join(home, 'pm2.pid'), 'utf8').trim()), state, stop };
  },
};

const supervisord: Peer = {
  name: 'supervisord',
  unavailable: notInstalled('supervisord') ?? notInstalled('supervisorctl'),
  settings:
    '`supervisord -n -c <conf>`: own unix socket, pidfile, logfile, childlogdir; [program] command and autorestart=true; defaults otherwise (startsecs 1, startretries 3)',
  async supervise(service, dir) {
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'supervisord.conf');
    writeFileSync(
      conf,
      [
        '[unix_http_server]',
        `file=${join(dir, 'supervisor.sock')}`,
        '[supervisord]',
        `logfile=${join(dir, 'supervisord.log')}`,
        `pidfile=${join(dir, 'supervisord.pid')}`,
        `childlogdir=${dir}`,
        '[rpcinterface:supervisor]',
        'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
        '[supervisorctl]',
        `serverurl=unix://${join(dir, 'supervisor.sock')}`,
        `[program:${service.label}]`,
        `command=${argvOf(service).join(' ')}`,
        'autorestart=true',
        '',
      ].join('\n'),
    );
    const { child, output } = spawnLogged('supervisord', ['-n', '-c', conf], dir);
    const state = async () => {
      const status = spawnSync('supervisorctl', ['-c', conf, 'status', service.label], { encoding: 'utf8', timeout: 10_000 });
      // supervisorctl exits non-zero for any state but RUNNING; its line is the answer either way.
      return status.stdout.trim().replace(/\s+/g, ' ') || `no answer: ${tailOf(output, 3)}`;
    };
    return childSupervision(child, service, dir, state);
  },
};

/**
 * monit runs a start program and waits for it to exit (30 s, then it kills it and calls the start failed), so a
 * service that stays in the foreground is started in the background through /bin/sh, as monit's docs do it.
 */
function monit(mail?: { port: number }): Peer {
  return {
    name: 'monit',
    unavailable: notInstalled('monit'),
    settings: `\`monit -I -c <monitrc>\`: set daemon 1 (its shortest cycle); own idfile, statefile, pidfile, logfile, httpd unix socket (for \`monit status\`); check process ... matching "<script> <arg>" with start program = "/bin/sh -c '<node script arg> >/dev/null 2>&1 &'"${mail ? '; set mailserver 127.0.0.1 (the bench), set alert' : ''}; defaults otherwise`,
    async supervise(service, dir) {
      mkdirSync(dir, { recursive: true });
      const argv = argvOf(service);
      if (argv.some((part) => /['"\s]/.test(part))) throw new Error(`monit's start program cannot quote ${JSON.stringify(argv)}`);
      const rc = join(dir, 'monitrc');
      writeFileSync(
        rc,
        [
          'set daemon 1',
          `set logfile ${join(dir, 'monit.log')}`,
          `set idfile ${join(dir, 'monit.id')}`,
          `set statefile ${join(dir, 'monit.state')}`,
          `set pidfile ${join(dir, 'monit.pid')}`,
          `set httpd unixsocket ${join(dir, 'monit.sock')} allow localhost`,
          ...(mail ? [`set mailserver 127.0.0.1 port ${mail.port}`, 'set alert operator@bench.invalid'] : []),
          // The paths hold only letters, digits, "-", "_", "/" and ".": as a regular expression "." matches itself too.
          `check process ${service.label} matching "${basename(service.script)} ${service.arg}"`,
          `  start program = "/bin/sh -c '${argv.join(' ')} >/dev/null 2>&1 &'"`,
          '',
        ].join('\n'),
      );
      // monit refuses a control file others can read.
      chmodSync(rc, 0o600);
      const { child, output } = spawnLogged('monit', ['-I', '-c', rc], dir);
      const state = async () => {
        const status = spawnSync('monit', ['-c', rc, 'status', service.label], { encoding: 'utf8', timeout: 10_000 });
        const field = (name: string) => new RegExp(`^\\s*${name}\\s{2,}(.+)$`, 'm').exec(status.stdout)?.[1]?.trim();
        const shown = field('status');
        return shown ? `${shown}; monitoring status ${field('monitoring status') ?? '?'}` : `no answer: ${tailOf(output, 3)}`;
      };
      return childSupervision(child, service, dir, state);
    },
  };
}

/**
 * A minimal SMTP server for monit's alert mail (220, EHLO/HELO 250, MAIL/RCPT 250, DATA 354, "." 250,
 * QUIT 221): every mail is accepted and kept (its Subject line) with the time its final "." arrived.
 */
async function startMailSink(): Promise<{ port: number; mails: Notice[]; close(): Promise<void> }> {
  const mails: Notice[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffered = '';
    let data: string[] | undefined;
    socket.write('220 bench ESMTP\r\n');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (data) {
          if (line === '.') {
            mails.push({ at: Date.now(), text: data.find((header) => header.startsWith('Subject:')) ?? data.join('\n') });
            data = undefined;
            socket.write('250 OK\r\n');
          } else data.push(line);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'DATA') {
          data = [];
          socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        } else if (verb === 'QUIT') socket.end('221 Bye\r\n');
        else socket.write(verb === 'EHLO' || verb === 'HELO' ? '250 bench\r\n' : '250 OK\r\n');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    mails,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Records when each ntfy message first shows up at the fake (its own `time` is whole seconds). */
function watchNtfy(ntfy: FakeNtfyServer): { notices: Notice[]; stop(): void } {
  const notices: Notice[] = [];
  const timer = setInterval(() => {
    for (const message of ntfy.messages(NTFY_TOPIC).slice(notices.length))
      notices.push({ at: Date.now(), text: [message.title, message.message].filter(Boolean).join(': ') });
  }, 20);
  return { notices, stop: () => clearInterval(timer) };
}

interface KillFigures {
  healthyMs: SampleStats;
  idle: WindowFigures;
}

/** KILLS kills of the HTTP service under `supervisor`, after an idle window over the supervisor's own process. */
async function killsUnder(supervisor: Supervisor, run: string): Promise<KillFigures> {
  const port = await closedPort();
  const supervision = await supervisor.supervise({ label: 'svc', script: HTTP_SERVICE, arg: String(port) }, join(work, run));
  try {
    let pid = await waitHealthy(port);
    await sleep(SETTLE_MS);
    const idle = await measureWindow(supervision.supervisorPid, IDLE_SECONDS);
    const samples: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      await sleep(KILL_GAP_MS);
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      try {
        pid = await waitHealthy(port, pid);
      } catch (err) {
        const state = await supervision.state().catch((stateErr: unknown) => `nothing (${messageOf(stateErr)})`);
        throw new Error(`kill ${i + 1}: ${messageOf(err)}; ${supervisor.name} says: ${state}`, { cause: err });
      }
      samples.push(performance.now() - killedAt);
    }
    return { healthyMs: stats(samples), idle };
  } finally {
    await supervision.stop();
  }
}

interface LoopFigures {
  starts: number;
  restarts: number;
  endState: string;
  toldAfterS: number | null;
  /** The first message's text, or why there is none. */
  toldBy: string;
  /** Every message about the service within the window: seconds after its first start, and its start. */
  messages: string[];
}

/** The crash-looping service under each supervisor at once for LOOP_SECONDS; a supervisor that fails is reported, the others still count. */
async function crashLoops(
  supervisors: Supervisor[],
  noticesOf: (name: Supervisor['name']) => Notice[] | string,
): Promise<Partial<Record<Supervisor['name'], LoopFigures | { error: string }>>> {
  const results: Partial<Record<Supervisor['name'], LoopFigures | { error: string }>> = {};
  const started = await Promise.allSettled(
    supervisors.map(async (supervisor) => {
      const dir = join(work, `${supervisor.name}-crash-loop`);
      mkdirSync(dir, { recursive: true });
      const startsFile = join(dir, 'starts.log');
      writeFileSync(startsFile, '');
      const supervision = await supervisor.supervise({ label: 'crash-loop', script: CRASH_LOOP, arg: startsFile }, dir);
      return { supervisor, supervision, startsFile };
    }),
  );
  const runs = started.flatMap((outcome, i) => {
    if (outcome.status === 'fulfilled') return [outcome.value];
    results[supervisors[i]!.name] = { error: messageOf(outcome.reason) };
    return [];
  });
  try {
    // The window itself: how many restarts, and whether anyone is told, within LOOP_SECONDS.
    await sleep(LOOP_SECONDS * 1000);
    for (const { supervisor, supervision, startsFile } of runs) {
      const starts = readFileSync(startsFile, 'utf8').trim().split('\n').filter(Boolean);
      const firstStartAt = starts.length > 0 ? Number(starts[0]!.split(' ')[1]) : Number.POSITIVE_INFINITY;
      const notices = noticesOf(supervisor.name);
      // About this service, and after it first started: monit's first cycle mails "Does not exist" before it starts anything.
      const about = typeof notices === 'string' ? [] : notices.filter((n) => n.at >= firstStartAt && n.text.includes('crash-loop'));
      // Told that something is wrong: monit also mails "Exists" when it sees the process again, which reports no crash.
      const told = about.find((n) => !/ -- (Exists|Execution succeeded) /.test(n.text));
      const afterStartS = (notice: Notice) => round((notice.at - firstStartAt) / 1000, 1);
      results[supervisor.name] = {
        starts: starts.length,
        restarts: Math.max(0, starts.length - 1),
        endState: await supervision.state().catch((err: unknown) => `unknown: ${messageOf(err)}`),
        toldAfterS: told ? afterStartS(told) : null,
        toldBy: typeof notices === 'string' ? notices : told ? oneLine(told.text, 160) : 'nothing within the window',
        messages: about.map((n) => `+${afterStartS(n)} s ${oneLine(n.text, 100)}`),
      };
    }
  } finally {
    await Promise.all(runs.map(({ supervision }) => supervision.stop()));
  }
  return results;
}

/** `text` on one line, cut at `max` characters. */
function oneLine(text: string, max: number): string {
  return text.replace(/\s+/g, ' ').slice(0, max);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function idleFigures(idle: WindowFigures): { rssMiB: number; cpuPercent: number } {
  return { rssMiB: round(idle.rss.meanKB / 1024), cpuPercent: round(idle.cpu.percent, 2) };
}

function ratio(of: number, to: number | undefined): number | null {
  return to === undefined ? null : round(of / to, 2);
}

hardLimit('bench:peers', HARD_LIMIT_MS, emergencyCleanup);
process.once('SIGINT', () => {
  emergencyCleanup();
  process.exit(130);
});

const machine = machineInfo();
const ntfy = await FakeNtfyServer.start();
const ntfyWatch = watchNtfy(ntfy);
const mailSink = await startMailSink();
try {
  const peers: Peer[] = [pm2Supervisor, supervisord, monit()];
  const runnable = peers.filter((peer) => {
    if (peer.unavailable) console.log(`skipped: ${peer.unavailable}`);
    return !peer.unavailable;
  });
  console.log(
    `kill → healthy: bench/services/http-service.mjs killed with SIGKILL ${KILLS} times per supervisor, each kill ${KILL_GAP_MS} ms after it answered again; idle RSS and CPU of the supervisor process over ${IDLE_SECONDS} s first`,
  );
  for (const supervisor of [floor, nightshift('kills'), ...runnable]) console.log(`  ${supervisor.name} settings: ${supervisor.settings}`);

  const kills: Partial<Record<Supervisor['name'], KillFigures | { error: string }>> = {};
  const measure = async (supervisor: Supervisor, run: string): Promise<KillFigures | { error: string }> => {
    try {
      return await killsUnder(supervisor, run);
    } catch (err) {
      console.log(`  ${supervisor.name}: failed: ${messageOf(err)}`);
      return { error: messageOf(err) };
    }
  };
  const report = (name: string, figures: KillFigures | { error: string }, note = '') => {
    if ('error' in figures) return;
    const idle = idleFigures(figures.idle);
    console.log(
      `${name.padEnd(12)} kill → healthy: median ${figures.healthyMs.median} ms, p95 ${figures.healthyMs.p95} ms (min ${figures.healthyMs.min}, max ${figures.healthyMs.max}); idle: RSS ${idle.rssMiB} MiB, CPU ${idle.cpuPercent} % of a core${note}`,
    );
  };

  // The floor is measured before and after the others and the faster is kept, so warm-up flatters no one.
  const floorBefore = await measure(floor, 'floor-before');
  kills.nightshift = await measure(nightshift('kills'), 'nightshift-kills');
  for (const peer of runnable) kills[peer.name] = await measure(peer, `${peer.name}-kills`);
  const floorAfter = await measure(floor, 'floor-after');
  const floorRuns = [floorBefore, floorAfter].filter((f): f is KillFigures => !('error' in f));
  const floorKept = floorRuns.sort((a, b) => a.healthyMs.median - b.healthyMs.median)[0];
  if (!floorKept) throw new Error('the floor could not be measured');
  report(
    'floor',
    floorKept,
    ` (before: ${'error' in floorBefore ? 'failed' : floorBefore.healthyMs.median} ms, after: ${'error' in floorAfter ? 'failed' : floorAfter.healthyMs.median} ms)`,
  );
  const figuresOf = (name: 'nightshift' | PeerName): KillFigures | undefined => {
    const figures = kills[name];
    return figures && !('error' in figures) ? figures : undefined;
  };
  for (const name of ['nightshift', ...runnable.map((p) => p.name)] as Array<'nightshift' | PeerName>) report(name, kills[name] ?? { error: 'not run' });

  const ours = figuresOf('nightshift');
  const medianOf = (name: PeerName) => figuresOf(name)?.healthyMs.median;
  const ratios = ours
    ? {
        vsFloor: ratio(ours.healthyMs.median, floorKept.healthyMs.median),
        vsPm2: ratio(ours.healthyMs.median, medianOf('pm2')),
        vsSupervisord: ratio(ours.healthyMs.median, medianOf('supervisord')),
        vsMonit: ratio(ours.healthyMs.median, medianOf('monit')),
      }
    : { vsFloor: null, vsPm2: null, vsSupervisord: null, vsMonit: null };
  const peerRatios = [ratios.vsPm2, ratios.vsSupervisord, ratios.vsMonit].filter((r): r is number => r !== null);
  const met = {
    vsFloor: ratios.vsFloor !== null && ratios.vsFloor <= 1.3,
    // Ahead of every peer that ran; a skipped or failed peer is named in `peersMeasured`.
    aheadOfEveryPeer: ours !== undefined && peerRatios.length > 0 && peerRatios.every((r) => r < 1),
  };
  console.log(
    `Nightshift's median: ${ratios.vsFloor}x the floor (target ≤ 1.3x: ${met.vsFloor ? 'met' : 'missed'}); vs pm2 ${ratios.vsPm2}x, vs supervisord ${ratios.vsSupervisord}x, vs monit ${ratios.vsMonit}x (ahead of every peer: ${met.aheadOfEveryPeer ? 'yes' : 'no'})`,
  );

  const loopSupervisors = [nightshift('crash-loop', ntfy), ...runnable.map((peer) => (peer.name === 'monit' ? monit({ port: mailSink.port }) : peer))];
  console.log(
    `crash loop: bench/services/crash-loop.mjs (exits 1 100 ms after start) under ${loopSupervisors.map((s) => s.name).join(', ')} for ${LOOP_SECONDS} s, all at once (they are light)`,
  );
  for (const supervisor of loopSupervisors) console.log(`  ${supervisor.name} settings: ${supervisor.settings}`);
  const noticesOf = (name: Supervisor['name']): Notice[] | string =>
    name === 'nightshift'
      ? ntfyWatch.notices
      : name === 'monit'
        ? mailSink.mails
        : name === 'pm2'
          ? 'never: pm2 has no notification of its own (PM2 Plus / pm2.io, or a pm2 module, would be needed)'
          : 'never: supervisord has no notification of its own (superlance crashmail, an event listener, would be needed)';
  const crashLoop = await crashLoops(loopSupervisors, noticesOf);
  for (const [name, loop] of Object.entries(crashLoop)) {
    if ('error' in loop) {
      console.log(`${name.padEnd(12)} crash loop failed: ${loop.error}`);
      continue;
    }
    const told = loop.toldAfterS === null ? loop.toldBy : `told after ${loop.toldAfterS} s: ${loop.toldBy}`;
    console.log(`${name.padEnd(12)} ${loop.starts} starts (${loop.restarts} restarts) in ${LOOP_SECONDS} s; ends: ${loop.endState}; ${told}`);
    for (const message of loop.messages) console.log(`             ${message}`);
  }

  const killJson = (name: 'nightshift' | PeerName) => {
    const figures = kills[name];
    if (!figures) return { skipped: peers.find((p) => p.name === name)?.unavailable ?? 'not run' };
    if ('error' in figures) return { error: figures.error };
    return { medianMs: figures.healthyMs.median, p95Ms: figures.healthyMs.p95, healthyMs: figures.healthyMs, idle: idleFigures(figures.idle) };
  };
  console.log(
    JSON.stringify({
      bench: 'peers',
      kills: KILLS,
      killGapMs: KILL_GAP_MS,
      idleSeconds: IDLE_SECONDS,
      floor: { medianMs: floorKept.healthyMs.median, p95Ms: floorKept.healthyMs.p95, healthyMs: floorKept.healthyMs, idle: idleFigures(floorKept.idle) },
      nightshift: killJson('nightshift'),
      pm2: killJson('pm2'),
      supervisord: killJson('supervisord'),
      monit: killJson('monit'),
      peersMeasured: runnable.map((p) => p.name).filter((name) => figuresOf(name) !== undefined),
      ratios,
      crashLoop: { seconds: LOOP_SECONDS, concurrent: true, each: crashLoop },
      targets: { vsFloor: 1.3, aheadOfEveryPeer: true },
      met,
      machine: { ...machine, loadAverageAtEnd: machineInfo().loadAverage },
    }),
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  ntfyWatch.stop();
  await ntfy.close();
  await mailSink.close();
  emergencyCleanup();
}
