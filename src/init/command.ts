import { existsSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { CliIo } from '../cli-io.js';
import { DEFAULT_CONFIG_FILE, parseConfig, readDotEnv } from '../config/load.js';
import { ConfigError, ExitCode, errorMessage } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { addGuessedDependencies, pruneDependencies } from './guesses.js';
import { Machine } from './machine.js';
import { NameRegistry } from './names.js';
import { Prompter } from './prompt.js';
import { baseChecks, holdsInterpolation, renderConfig, type RenderedSection } from './render.js';
import { sources as defaultSources } from './sources/index.js';
import type { FoundThing, Source, SourceContext, SourceReport } from './types.js';

const USAGE = `Usage: nightshift init [--yes] [--dry-run]

Finds what runs on this machine (pm2 apps, systemd units, listening ports,
Ollama, Docker containers, large or fast-growing logs, cron jobs) and writes
a commented nightshift.yml (NIGHTSHIFT_CONFIG, default ./nightshift.yml).

  --yes, -y     take the defaults (watch everything found) without asking
  --dry-run     print the file instead of writing it
  --help, -h    show this help

It never overwrites an existing file.
`;

/** The two looks at each log's size are this far apart, unless NIGHTSHIFT_INIT_GROWTH_WAIT says otherwise. */
const DEFAULT_GROWTH_WAIT_MS = 2_000;

/** What tests may change; the CLI uses the defaults. */
export interface InitOptions {
  sources?: readonly Source[];
  procRoot?: string;
  systemLogDir?: string;
  growthWaitMs?: number;
}

/** `nightshift init [--yes] [--dry-run]`: discovers what runs here and writes a commented nightshift.yml. */
export async function runInit(args: string[], cli: CliIo, options: InitOptions = {}): Promise<number> {
  // As start will see it: .env's NIGHTSHIFT_HTTP and NIGHTSHIFT_CONFIG decide the port init leaves out, the ping URLs and the file.
  let io: CliIo;
  try {
    io = { ...cli, env: { ...readDotEnv(cli.cwd), ...cli.env } };
  } catch (err) {
    cli.stderr.write(`nightshift init: cannot read ${join(cli.cwd, '.env')}: ${errorMessage(err)}\n`);
    return ExitCode.configInvalid;
  }
  let yes = false;
  let dryRun = false;
  for (const arg of args) {
    if (arg === '--yes' || arg === '-y') yes = true;
    else if (arg === '--dry-run') dryRun = true;
    else if (arg === '--help' || arg === '-h') {
      io.stdout.write(USAGE);
      return ExitCode.ok;
    } else {
      io.stderr.write(`nightshift init: unknown argument ${JSON.stringify(arg)}\n\n${USAGE}`);
      return ExitCode.configInvalid;
    }
  }
  const file = resolve(io.cwd, io.env.NIGHTSHIFT_CONFIG || DEFAULT_CONFIG_FILE);
  if (!dryRun && existsSync(file)) {
    io.stderr.write(refusal(file));
    return ExitCode.configInvalid;
  }
  let growthWaitMs = options.growthWaitMs ?? DEFAULT_GROWTH_WAIT_MS;
  if (options.growthWaitMs === undefined && io.env.NIGHTSHIFT_INIT_GROWTH_WAIT) {
    const parsed = parseDuration(
      /^\d+$/.test(io.env.NIGHTSHIFT_INIT_GROWTH_WAIT) ? `${io.env.NIGHTSHIFT_INIT_GROWTH_WAIT}ms` : io.env.NIGHTSHIFT_INIT_GROWTH_WAIT,
    );
    if (parsed === undefined) {
      io.stderr.write(
        `nightshift init: NIGHTSHIFT_INIT_GROWTH_WAIT: expected a duration such as 2s or 500ms, found ${JSON.stringify(io.env.NIGHTSHIFT_INIT_GROWTH_WAIT)}\n`,
      );
      return ExitCode.configInvalid;
    }
    growthWaitMs = parsed;
  }

  // With --dry-run stdout carries the file alone; everything else goes to stderr.
  const say = dryRun ? io.stderr : io.stdout;
  const names = new NameRegistry();
  const base = baseChecks();
  for (const check of base) names.reserve(check.name);
  const found: FoundThing[] = [];
  const groups: Array<{ source: Source; things: FoundThing[] }> = [];
  const notLookedAt: string[] = [];
  const ctx: Omit<SourceContext, 'earlier'> = {
    env: io.env,
    cwd: io.cwd,
    home: io.env.HOME || homedir(),
    names,
    machine: new Machine(options.procRoot),
    growthWaitMs,
    systemLogDir: options.systemLogDir ?? '/var/log',
  };
  say.write('Looking at this machine...\n');
  for (const source of options.sources ?? defaultSources) {
    let report: SourceReport;
    try {
      report = await source.look({ ...ctx, earlier: [...found] });
    } catch (err) {
      // A source must not throw; one that does costs its own group, not the run.
      report = { things: [], problem: `${source.id}: ${errorMessage(err)}` };
    }
    const things = report.things.filter((thing) => {
      if (!holdsInterpolation(thing.check)) return true;
      notLookedAt.push(`${source.id}: left out ${thing.label}: its path or name holds "\${", which nightshift.yml reads as a variable`);
      return false;
    });
    if (report.problem) notLookedAt.push(report.problem);
    found.push(...things);
    if (things.length > 0) groups.push({ source, things });
    say.write(`  ${source.noun[1]}: ${things.length === 0 ? 'none found' : `${things.length} found`}\n`);
    if (report.problem) say.write(`    could not look: ${report.problem}\n`);
  }

  const chosen: Array<{ source: Source; things: FoundThing[] }> = [];
  let prompter: Prompter | undefined;
  let takingDefaults = yes;
  try {
    for (const group of groups) {
      const [one, many] = group.source.noun;
      const n = group.things.length;
      const list = `Found ${n} ${n === 1 ? one : many}: ${group.things.map((thing) => thing.label).join(', ')}.`;
      if (takingDefaults) {
        say.write(`${list} Watching ${n === 1 ? 'it' : 'them'}.\n`);
        chosen.push(group);
        continue;
      }
      prompter ??= new Prompter(io.stdin, say);
      const answer = await prompter.ask(`${list} ${group.source.question ?? `Watch ${n === 1 ? 'it' : 'them'}?`}`);
      if (answer === 'eof') {
        say.write('(stdin ended: taking the defaults, watching everything found from here on)\n');
        takingDefaults = true;
        chosen.push(group);
      } else if (answer === 'yes') chosen.push(group);
    }
  } finally {
    prompter?.close();
  }

  const things = chosen.flatMap((group) => group.things);
  pruneDependencies(things);
  addGuessedDependencies(things);
  const sections: RenderedSection[] = [
    { title: 'this machine', checks: base },
    ...chosen.map((group) => ({ title: group.source.noun[1], checks: group.things.map((thing) => thing.check) })),
  ];
  const header = [
    `nightshift.yml written by \`nightshift init\` on ${hostname()}, ${new Date().toISOString().slice(0, 10)}.`,
    'Every check below is something init found running; review it, delete what you do not want,',
    'then run `nightshift check-config`. Lines marked "guess:" are dependencies init inferred',
    '(from an environment, arguments or a log naming a port); check them. Every key of every',
    'kind is in nightshift.example.yml and the README ("Check kinds"). Secrets never go here: see .env.example.',
    ...(notLookedAt.length > 0 ? ['', 'What init could not look at:', ...notLookedAt.map((line) => `  ${line}`)] : []),
  ];
  const text = renderConfig(sections, header);

  // The file must be one `start` accepts; validated as check-config would, with no environment but the file's defaults.
  try {
    parseConfig(text, file, {}, io.cwd);
  } catch (err) {
    const detail = err instanceof ConfigError ? err.message : errorMessage(err);
    io.stderr.write(`nightshift init: the file it built does not validate, so nothing was written (a bug in init; please report it):\n${detail}\n`);
    return ExitCode.failure;
  }

  const checkCount = base.length + things.length;
  if (dryRun) {
    io.stdout.write(text);
    say.write(`\n(dry run: ${file} not written; ${checkCount} checks)\n`);
  } else {
    try {
      // wx: a file that appeared since the first look is not overwritten either.
      writeFileSync(file, text, { flag: 'wx', mode: 0o644 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        io.stderr.write(refusal(file));
        return ExitCode.configInvalid;
      }
      io.stderr.write(`nightshift init: cannot write ${file}: ${errorMessage(err)}\n`);
      return ExitCode.failure;
    }
    say.write(`\nWrote ${file} (${checkCount} checks).\n`);
  }
  say.write(nextSteps(things, io.env.NIGHTSHIFT_CONFIG ? file : undefined));
  return ExitCode.ok;
}

function refusal(file: string): string {
  return (
    `nightshift init: ${file} already exists; init never overwrites a file.\n` +
    `  See what it would write:   nightshift init --dry-run\n` +
    `  Write another file:        NIGHTSHIFT_CONFIG=other.yml nightshift init\n`
  );
}

/** What to do once the file is there: validate, start, the phone's channel, the cron pings. */
function nextSteps(things: readonly FoundThing[], explicitFile: string | undefined): string {
  const env = explicitFile ? `NIGHTSHIFT_CONFIG=${explicitFile} ` : '';
  const lines = [
    '',
    'Next steps:',
    `  1. Check it:   ${env}nightshift check-config`,
    `  2. Start it:   ${env}npm start   (or: ${env}nightshift start)`,
    '  3. Your phone: set one channel in .env (copy .env.example; tokens never go in nightshift.yml):',
    '       ntfy:     NTFY_URL, NTFY_TOPIC (and NTFY_REPLY_TOPIC to answer from the phone)',
    '       Telegram: TELEGRAM_TOKEN, TELEGRAM_CHAT_ID',
    '       Discord:  DISCORD_TOKEN, DISCORD_APPLICATION_ID, DISCORD_GUILD_ID, DISCORD_CHANNEL_ID',
  ];
  const pings = things.filter((thing) => thing.nextStep !== undefined);
  if (pings.length > 0) {
    lines.push('  4. Cron jobs: each entry pings Nightshift when it succeeds (crontab -e):');
    for (const thing of pings) lines.push(`     ${thing.nextStep!}`);
  }
  return `${lines.join('\n')}\n`;
}
