import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { CliIo } from '../cli-io.js';
import { DEFAULT_CONFIG_FILE, loadConfig, readDotEnv } from '../config/load.js';
import { ConfigError, ExitCode, errorMessage } from '../errors.js';
import { runCommand } from '../exec.js';
import { packageRoot } from '../paths.js';
import { lineDiff } from './line-diff.js';
import { installedHeader, MAIN_UNIT, renderUnits, type UnitFile } from './units.js';

const USAGE = `Usage: nightshift install-service [--user] [--dry-run] [--force]

Run it in the folder with .env and nightshift.yml. It checks the configuration,
writes ${MAIN_UNIT} (and nightshift-alert@.service, which pages on ntfy when
systemd gives up on Nightshift) for this folder, this node and this user, then
runs systemctl daemon-reload and systemctl enable --now ${MAIN_UNIT}.

  (default)  a system unit in /etc/systemd/system that runs as the invoking
             user (SUDO_USER under sudo); needs root
  --user     a unit of your own user manager (~/.config/systemd/user,
             systemctl --user); no root needed
  --dry-run  print the unit files and the commands; write and run nothing
  --force    replace unit files that differ from what it would write
`;

interface Options {
  user: boolean;
  dryRun: boolean;
  force: boolean;
}

/** One unit file to write, and what is there now. */
interface PlannedFile extends UnitFile {
  path: string;
  current: 'absent' | 'same' | { differs: string[] };
}

/**
 * `nightshift install-service [--user] [--dry-run] [--force]`: writes and
 * enables the systemd units that keep Nightshift running and page when they
 * cannot. Refuses (exit 2, nothing written) on bad arguments or a missing or
 * invalid configuration, and (exit 1) without root for a system unit or
 * when a unit file there has other content and --force is not given.
 */
export async function runInstallService(args: string[], io: CliIo): Promise<number> {
  const say = (line = '') => io.stdout.write(`${line}\n`);
  const complain = (line: string) => io.stderr.write(`nightshift install-service: ${line}\n`);

  const options = parseOptions(args);
  if (options === 'help') {
    io.stdout.write(USAGE);
    return ExitCode.ok;
  }
  if ('error' in options) {
    io.stderr.write(`nightshift install-service: ${options.error}\n\n${USAGE}`);
    return ExitCode.configInvalid;
  }

  // The service runs from this folder and reads its .env: check the configuration it will load, now.
  let dotEnv: NodeJS.Dict<string>;
  try {
    dotEnv = readDotEnv(io.cwd);
  } catch (err) {
    complain(`cannot read ${join(io.cwd, '.env')}: ${errorMessage(err)}; nothing was written`);
    return ExitCode.configInvalid;
  }
  const env = { ...dotEnv, ...io.env };
  const configFile = resolve(io.cwd, env.NIGHTSHIFT_CONFIG || DEFAULT_CONFIG_FILE);
  if (!existsSync(configFile)) {
    complain(`no configuration at ${configFile}; nothing was written.`);
    io.stderr.write(`Run \`nightshift init\` in ${io.cwd} first: the service runs from this folder, with its nightshift.yml and .env.\n`);
    return ExitCode.configInvalid;
  }
  try {
    loadConfig({ env, cwd: io.cwd });
  } catch (err) {
    io.stderr.write(`${err instanceof ConfigError ? err.message : `cannot load the configuration: ${errorMessage(err)}`}\n`);
    complain('the service would stop at once with exit 2: fix the configuration (nightshift check-config), then run this again; nothing was written');
    return ExitCode.configInvalid;
  }

  const alertScript = join(packageRoot, 'deploy', 'nightshift-alert.sh');
  if (!existsSync(alertScript)) {
    complain(`${alertScript} is missing (a package without deploy/?); nothing was written`);
    return ExitCode.failure;
  }

  const scope = options.user ? 'user' : 'system';
  const runAs = scope === 'system' ? invokingUser(io.env) : undefined;
  const dir = unitDirectory(scope, io.env);
  let planned: PlannedFile[];
  try {
    planned = renderUnits({
      scope,
      user: runAs === 'root' ? undefined : runAs,
      workingDirectory: io.cwd,
      node: process.execPath,
      bin: join(packageRoot, 'bin', 'nightshift.js'),
      alertScript,
      journalGroup: scope === 'system' && runAs !== 'root' && groupExists('systemd-journal'),
      header: installedHeader(io.cwd, scope),
    }).map((unit) => plan(unit, dir));
  } catch (err) {
    complain(`${errorMessage(err)}; nothing was written`);
    return ExitCode.configInvalid;
  }

  const systemctl = (...rest: string[]) => [...(scope === 'user' ? ['--user'] : []), ...rest];
  const commands = [systemctl('daemon-reload'), systemctl('enable', '--now', MAIN_UNIT)];
  const conflicts = planned.filter((f) => typeof f.current === 'object');

  if (options.dryRun) {
    for (const file of planned) {
      const note = file.current === 'same' ? 'unchanged' : file.current === 'absent' ? 'would be written' : 'would be replaced with --force';
      say(`--- ${file.path} (${note})`);
      io.stdout.write(file.text);
    }
    for (const file of conflicts) describeConflict(say, file);
    for (const command of commands) say(`would run: systemctl ${command.join(' ')}`);
    say('dry run: nothing was written or run.');
    return ExitCode.ok;
  }

  if (scope === 'system' && process.getuid?.() !== 0) {
    complain(`writing ${dir} and enabling a system unit needs root; nothing was written.`);
    io.stderr.write(
      `Run it with sudo (it keeps this folder and runs Nightshift as you):\n  sudo ${process.execPath} ${join(packageRoot, 'bin', 'nightshift.js')} install-service\n` +
        'or install a unit of your own user manager, no root needed:\n  nightshift install-service --user\n',
    );
    return ExitCode.failure;
  }

  if (conflicts.length > 0 && !options.force) {
    for (const file of conflicts) describeConflict(say, file);
    complain(`refusing to overwrite ${conflicts.map((f) => f.path).join(' and ')}: nothing was written. --force replaces it.`);
    return ExitCode.failure;
  }

  try {
    mkdirSync(dir, { recursive: true });
    for (const file of planned) {
      if (file.current === 'same') {
        say(`unchanged ${file.path}`);
        continue;
      }
      if (typeof file.current === 'object') describeConflict(say, file);
      say(`writing ${file.path}`);
      // systemd reads unit files at any daemon-reload: never half-written.
      writeFileAtomic(file.path, file.text, 0o644);
    }
  } catch (err) {
    complain(`cannot write the unit: ${errorMessage(err)}`);
    return ExitCode.failure;
  }

  for (const command of commands) {
    say(`systemctl ${command.join(' ')}`);
    const result = await runCommand(['systemctl', ...command], { env: io.env, cwd: io.cwd, signal: AbortSignal.timeout(60_000) });
    if (result.exitCode === 0) continue;
    if (result.spawnError) complain(`systemctl could not be run (${result.spawnError}): is this a machine run by systemd? (pm2: deploy/ecosystem.config.cjs)`);
    else {
      io.stderr.write(result.stderr);
      complain(`systemctl ${command.join(' ')} failed (exit ${result.exitCode ?? result.signal}); the unit files are written, run it again once that is fixed`);
      if (scope === 'user' && /bus/i.test(result.stderr))
        io.stderr.write('A user manager is reached through a login session: log in as this user (not su), or set XDG_RUNTIME_DIR=/run/user/$(id -u).\n');
    }
    return ExitCode.failure;
  }

  const ctl = scope === 'user' ? 'systemctl --user' : 'systemctl';
  const journal = scope === 'user' ? 'journalctl --user' : 'journalctl';
  say();
  say(`Nightshift runs as ${MAIN_UNIT}${runAs && runAs !== 'root' ? ` (user ${runAs})` : ''}, from ${io.cwd}:`);
  say(`  ${journal} -u nightshift -f     its log`);
  say(`  ${ctl} reload nightshift     re-read nightshift.yml (SIGHUP)`);
  say(`  ${ctl} status nightshift     whether it runs; nightshift status: what it sees`);
  if (conflicts.length > 0) say(`The unit changed: if Nightshift was already running, \`${ctl} restart nightshift\` runs it under the new one.`);
  if (runAs === 'root') say('It runs as root: to run it as another user, start install-service with sudo from that account.');
  if (scope === 'user') {
    const me = currentUserName(io.env);
    if (!existsSync(join('/var/lib/systemd/linger', me)))
      say(
        `A user manager stops when your last session ends: \`sudo loginctl enable-linger ${me}\` keeps Nightshift running without a login, and starts it at boot.`,
      );
  }
  if (!dotEnv.NTFY_URL || !dotEnv.NTFY_TOPIC)
    io.stderr.write(
      `warning: NTFY_URL and NTFY_TOPIC are not both set in ${join(io.cwd, '.env')}: the alert unit reads only that file, so it cannot page you when systemd gives up on Nightshift.\n`,
    );
  return ExitCode.ok;
}

function parseOptions(args: string[]): Options | 'help' | { error: string } {
  const options: Options = { user: false, dryRun: false, force: false };
  for (const arg of args) {
    if (arg === '--user') options.user = true;
    else if (arg === '--dry-run') options.dryRun = true;
    else if (arg === '--force') options.force = true;
    else if (arg === '--help' || arg === '-h') return 'help';
    else return { error: `unknown argument: ${arg}` };
  }
  return options;
}

/**
 * Where the unit files go: NIGHTSHIFT_SYSTEMD_DIR when set (tests, unusual
 * layouts), else /etc/systemd/system, or $XDG_CONFIG_HOME/systemd/user.
 */
function unitDirectory(scope: 'system' | 'user', env: NodeJS.ProcessEnv): string {
  if (env.NIGHTSHIFT_SYSTEMD_DIR) return resolve(env.NIGHTSHIFT_SYSTEMD_DIR);
  if (scope === 'system') return '/etc/systemd/system';
  const configHome = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(configHome, 'systemd', 'user');
}

function plan(unit: UnitFile, dir: string): PlannedFile {
  const path = join(dir, unit.name);
  if (!existsSync(path)) return { ...unit, path, current: 'absent' };
  const text = readFileSync(path, 'utf8');
  return { ...unit, path, current: text === unit.text ? 'same' : { differs: lineDiff(text, unit.text) } };
}

function describeConflict(say: (line: string) => void, file: PlannedFile): void {
  if (typeof file.current !== 'object') return;
  say(`${file.path} exists with other content (- there now, + install-service's):`);
  for (const line of file.current.differs) say(`  ${line}`);
}

/** Who runs Nightshift from a system unit: the user who ran sudo, else whoever runs this. */
function invokingUser(env: NodeJS.ProcessEnv): string {
  const sudoUser = env.SUDO_USER;
  if (sudoUser && sudoUser !== 'root' && /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(sudoUser)) return sudoUser;
  return currentUserName(env);
}

function currentUserName(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): systemd's User= also takes a number.
    return env.USER || String(process.getuid?.() ?? 0);
  }
}

function groupExists(name: string): boolean {
  try {
    return readFileSync('/etc/group', 'utf8')
      .split('\n')
      .some((line) => line.startsWith(`${name}:`));
  } catch {
    return false;
  }
}
