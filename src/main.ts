import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog } from './store/audit.js';
import { checkDatabase, classifyDatabaseError, DATABASE_FILE } from './store/database.js';
import { createChatChannels } from '../adapters/index.js';
import { App } from './app.js';
import { commands } from '../commands/index.js';
import type { OutgoingMessage } from './chat/channel.js';
import { loadConfig, loadDotEnv, processEnvironment } from './config/load.js';
import type { Config } from './config/schema.js';
import { ConfigError, DatabaseError, ExitCode, InstanceLockedError, MigrationError, UserError, errorMessage } from './errors.js';
import { judge, LOCK_FILE, readLock } from './lock/instance-lock.js';
import { createLogger, type Logger } from './log/logger.js';
import { Redactor } from './log/redact.js';
import { version } from './version.js';
import { TIMED_OUT, within } from './util/abort.js';
import { describeCommands } from './bot/dispatch.js';
import type { CliIo } from './cli-io.js';

const HELP = `nightshift ${version}: keeps a one-machine stack of agents and services alive

Usage: nightshift <command>

Commands:
  init [--yes] [--dry-run]
                 find what runs on this machine (pm2 apps, systemd units,
                 listening ports, Ollama, Docker, logs, cron jobs) and write a
                 commented nightshift.yml; asks per group unless --yes;
                 --dry-run prints it; never overwrites a file
  start          run the bot (patrol, heal, chat) in the foreground
  reload         make the running bot re-read its configuration (as SIGHUP
                 does): added checks start, removed ones stop, changed ones
                 restart; a bad file changes nothing
  install-service [--user] [--dry-run] [--force]
                 write and enable the systemd units that keep Nightshift
                 running and page on ntfy when systemd gives up on it;
                 refuses to replace a different unit without --force
  status         print the summary of the running instance
  check-config   validate the configuration and exit
  audit verify   check the hash chain of the audit trail (approvals, consent)
  db check       check the database file (integrity, schema version, mode);
                 read-only, safe while the bot runs
  --help, -h     show this help
  --version, -v  print the version

Environment: NIGHTSHIFT_CONFIG (default ./nightshift.yml), NIGHTSHIFT_DATA_DIR
(default ./data), NIGHTSHIFT_HTTP (default 127.0.0.1:8787); .env is loaded
from the working directory.

Exit codes:
  0  success (status: the summary is OK)
  1  failure: another instance holds the data dir, a migration failed, the
     HTTP address is taken (status: the summary is DEGRADED or DOWN)
  2  invalid configuration or usage; start: the database is unusable
     (damaged, unreadable, read-only, or from a newer Nightshift)
  3  status: no running instance; audit verify, db check: no database
  (audit verify: 0 the chain is intact, 1 it is broken or unreadable;
   db check: 0 the database is usable, 1 it is damaged or unusable)
`;

/** Gives back the exit code; `start` resolves when the bot has stopped. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return ExitCode.ok;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version}\n`);
    return ExitCode.ok;
  }
  const io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: processEnvironment() };
  // Before the configuration is loaded: init writes the first one, install-service validates it itself.
  // Each imported only when asked for: `start` does not carry their code (init alone reads pm2, systemd, Docker, cron).
  if (command === 'init') return (await import('./init/command.js')).runInit(rest, io);
  if (command === 'install-service') return (await import('./service/install.js')).runInstallService(rest, io);
  const auditVerify = command === 'audit' && rest.length === 1 && rest[0] === 'verify';
  const dbCheck = command === 'db' && rest.length === 1 && rest[0] === 'check';
  if (command === undefined || (!auditVerify && !dbCheck && (!['start', 'status', 'check-config', 'reload'].includes(command) || rest.length > 0))) {
    process.stderr.write(`${command === undefined ? 'missing command' : `unknown arguments: ${argv.join(' ')}`}\n\n${HELP}`);
    return ExitCode.configInvalid;
  }

  let config: Config;
  try {
    loadDotEnv();
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : `cannot load the configuration: ${errorMessage(err)}`}\n`);
    return ExitCode.configInvalid;
  }

  if (command === 'check-config') {
    const checks = config.checks.map((c) => `${c.name} (${c.kind}, ${c.severity})`).join(', ');
    process.stdout.write(
      `${config.source}: OK\n  data dir: ${config.dataDir}\n  http: ${config.http.listen.host}:${config.http.listen.port}\n  ${config.checks.length} checks: ${checks}\n`,
    );
    // Valid but risky settings: the file is OK (exit 0), the operator still hears about them.
    for (const warning of config.warnings) process.stderr.write(`warning: ${warning}\n`);
    return ExitCode.ok;
  }
  if (command === 'status') return status(config);
  if (command === 'reload') return reload(config);
  if (auditVerify) return verifyAudit(config);
  if (dbCheck) return checkDatabaseCommand(config);
  return start(config);
}

async function start(config: Config): Promise<number> {
  const redactor = new Redactor(Object.values(config.secrets));
  const log = createLogger({ level: config.log.level, redactor });
  for (const warning of config.warnings) log.warn({ warning }, 'configuration warning');
  const app = new App({ config, log, redactor, stdin: process.stdin, stdout: process.stdout });
  // A bug that throws in a loop (or a full disk under one) must not print a stack trace per occurrence.
  const errors = new RepeatedErrors(log);
  process.on('uncaughtException', (err) => errors.report(err, 'uncaught exception (kept running)'));
  process.on('unhandledRejection', (err) => errors.report(err, 'unhandled rejection (kept running)'));
  // Signals are caught from the first moment: a SIGTERM during start-up stops the bot cleanly once it is up.
  let signalled: NodeJS.Signals | undefined;
  let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  const catchSignal = (signal: NodeJS.Signals) => {
    signalled ??= signal;
    onSignal?.(signal);
  };
  process.once('SIGINT', catchSignal);
  process.once('SIGTERM', catchSignal);
  // SIGHUP re-reads the configuration; caught from the first moment too (its default would kill the bot), and
  // one that arrives during start-up is applied once the bot is up.
  let up = false;
  let reloadWaiting = false;
  const onHangup = () => {
    if (up) void reloadFromDisk(app, log, redactor, config.source);
    else reloadWaiting = true;
  };
  process.on('SIGHUP', onHangup);
  try {
    await app.start();
    up = true;
    if (reloadWaiting) onHangup();
  } catch (err) {
    if (err instanceof DatabaseError) {
      // Exit 2: restarting cannot fix the file, so systemd and pm2 must not loop on it; the operator hears about it in chat.
      const message = redactor.redact(err.message);
      log.fatal({ code: err.code, file: err.file, problem: err.problem, cause: redactor.redact(errorMessage(err.cause)) }, message);
      process.stderr.write(`nightshift: ${message}\n`);
      await alertChannels(config, log, {
        severity: 'critical',
        urgent: true,
        title: redactor.redact(`Nightshift cannot start: ${err.headline}`),
        body: message,
      });
      return ExitCode.configInvalid;
    }
    if (err instanceof InstanceLockedError || err instanceof UserError) {
      log.error({ code: err.code }, err.message);
      process.stderr.write(`nightshift: ${err.message}\n`);
    } else if (err instanceof MigrationError) {
      log.fatal({ err, migration: err.migration }, err.message);
      process.stderr.write(`nightshift: ${err.message}\n`);
    } else {
      log.fatal({ err }, 'nightshift failed to start');
      process.stderr.write(`nightshift: failed to start: ${redactor.redact(errorMessage(err))}\n`);
    }
    return ExitCode.failure;
  }

  return new Promise<number>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      // A second signal, or a stop that hangs, must not keep the process: exit within 2 s whatever happens.
      setTimeout(() => {
        log.error({ signal }, 'stop took longer than 2 s; exiting anyway');
        resolve(ExitCode.failure);
      }, 1_800).unref();
      app.stop(signal).then(
        () => resolve(ExitCode.ok),
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          resolve(ExitCode.failure);
        },
      );
    };
    if (signalled) shutdown(signalled);
    else onSignal = shutdown;
  });
}

/**
 * Logs an error the first time its message is seen (with the stack), then
 * only a count, at most once a minute per message.
 */
class RepeatedErrors {
  private readonly seen = new Map<string, { loggedAt: number; repeats: number }>();

  constructor(private readonly log: Logger) {}

  report(err: unknown, what: string): void {
    const key = `${what}\u0000${errorMessage(err)}`;
    const now = Date.now();
    const entry = this.seen.get(key);
    if (!entry) {
      if (this.seen.size >= 100) this.seen.clear();
      this.seen.set(key, { loggedAt: now, repeats: 0 });
      this.log.error({ err }, what);
      return;
    }
    entry.repeats++;
    if (now - entry.loggedAt < 60_000) return;
    this.log.error({ error: errorMessage(err), repeats: entry.repeats }, `${what}: the same error ${entry.repeats} more times since the last report`);
    entry.loggedAt = now;
    entry.repeats = 0;
  }
}

const ALERT_TIMEOUT_MS = 10_000;

/**
 * Sends one message on every configured chat channel without the database
 * (no outbox, no retries): each adapter's send() works without start().
 * In parallel, within 10 s overall; failures are logged and ignored.
 */
async function alertChannels(config: Config, log: Logger, message: OutgoingMessage): Promise<void> {
  let channels: Awaited<ReturnType<typeof createChatChannels>>;
  try {
    channels = await createChatChannels(config.channels, describeCommands(commands), log);
  } catch (err) {
    log.error({ err }, 'could not set up the chat channels for the start-up alert');
    return;
  }
  if (channels.length === 0) return;
  const sends = channels.map((channel) =>
    channel.send(message).then(
      () => log.info({ channel: channel.name }, 'start-up failure alert sent'),
      (err: unknown) => log.error({ err, channel: channel.name }, 'could not send the start-up failure alert'),
    ),
  );
  if ((await within(Promise.allSettled(sends), ALERT_TIMEOUT_MS)) === TIMED_OUT) {
    log.error({ timeoutMs: ALERT_TIMEOUT_MS }, 'the start-up failure alert did not reach every channel in time');
  }
  await within(Promise.allSettled(channels.map((c) => c.stop())), 2_000);
}

/** Checks the database file read-only (safe while the bot runs): integrity, schema version, mode. */
function checkDatabaseCommand(config: Config): number {
  const file = join(config.dataDir, DATABASE_FILE);
  let report: ReturnType<typeof checkDatabase>;
  try {
    report = checkDatabase(file);
  } catch (err) {
    process.stdout.write(`cannot check ${file}: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
  if (report === 'missing') {
    process.stdout.write(`no database in ${config.dataDir}\n`);
    return ExitCode.notRunning;
  }
  const mode = report.mode.toString(8).padStart(4, '0');
  const lines = [
    `database: ${file}`,
    `  mode: ${mode}${report.mode & 0o077 ? ' (group or others have access; start tightens it to 0600)' : ''}`,
    `  schema version: ${report.schemaVersion ?? 'unknown'} (this Nightshift knows up to ${report.knownVersion})`,
    `  integrity: ${report.integrity.length === 0 ? 'not checked' : report.integrity.slice(0, 10).join('\n    ')}${report.integrity.length > 10 ? `\n    ... ${report.integrity.length - 10} more` : ''}`,
  ];
  if (report.problem) {
    lines.push(`${report.problem.problem === 'corrupt' ? 'DAMAGED' : 'UNUSABLE'}: ${report.problem.message}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return ExitCode.failure;
  }
  lines.push('OK');
  process.stdout.write(`${lines.join('\n')}\n`);
  return ExitCode.ok;
}

/** Walks the audit trail's hash chain, read-only (safe while the bot runs). */
function verifyAudit(config: Config): number {
  const file = join(config.dataDir, DATABASE_FILE);
  if (!existsSync(file)) {
    process.stdout.write(`no database in ${config.dataDir}\n`);
    return ExitCode.notRunning;
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const verdict = new AuditLog(db).verify();
    if (verdict.ok) {
      process.stdout.write(`audit trail intact: ${verdict.rows} row${verdict.rows === 1 ? '' : 's'}\n`);
      return ExitCode.ok;
    }
    process.stdout.write(`audit trail BROKEN at row #${verdict.brokenAt}: ${verdict.reason} (${verdict.rows} rows before it are intact)\n`);
    return ExitCode.failure;
  } catch (err) {
    // A damaged or unreadable file: say so with the file named and what to do, not with a stack trace.
    const problem = classifyDatabaseError(file, err);
    if (!(problem instanceof DatabaseError)) throw problem;
    process.stdout.write(`cannot verify the audit trail: ${problem.message}\n`);
    return ExitCode.failure;
  } finally {
    db?.close();
  }
}

/** Finds the running instance through the data dir's lock file and asks it for its summary. */
async function status(config: Config): Promise<number> {
  const lockFile = join(config.dataDir, LOCK_FILE);
  const lock = readLock(lockFile);
  if (lock === 'missing' || lock === 'unreadable' || !judge(lock).alive) {
    const why =
      lock === 'missing' ? `no lock file in ${config.dataDir}` : lock === 'unreadable' ? 'its lock file is unreadable' : `stale lock: ${judge(lock).reason}`;
    process.stdout.write(`nightshift is not running (${why})\n`);
    return ExitCode.notRunning;
  }
  const address = lock.http ?? `${config.http.listen.host}:${config.http.listen.port}`;
  try {
    const headers: Record<string, string> = config.http.token ? { authorization: `Bearer ${config.http.token}` } : {};
    const response = await fetch(`http://${address}/status.json`, { headers, signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = (await response.json()) as { text: string; state: string };
    // Redacted by the server, which knows the same secrets.
    process.stdout.write(`${body.text}\n`);
    return body.state === 'OK' ? ExitCode.ok : ExitCode.failure;
  } catch (err) {
    process.stdout.write(`nightshift (pid ${lock.pid}) is running but did not answer on ${address}: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
}

/** Re-reads the configuration file for a running bot; an invalid file changes nothing and is reported. */
async function reloadFromDisk(app: App, log: Logger, redactor: Redactor, source: string): Promise<void> {
  let next: Config;
  try {
    next = loadConfig();
  } catch (err) {
    const problems = redactor.redact(err instanceof ConfigError ? err.message : `cannot load the configuration: ${errorMessage(err)}`);
    try {
      app.reloadRefused(source, problems);
    } catch (recordErr) {
      log.error({ err: recordErr, problems }, 'configuration reload refused; could not record it');
    }
    return;
  }
  try {
    await app.reload(next);
  } catch (err) {
    log.error({ err }, 'configuration reload failed');
  }
}

/** How long `nightshift reload` waits for the bot to say what it did. */
const RELOAD_WAIT_MS = 30_000;

/**
 * Asks the running instance to re-read its configuration (SIGHUP), once this one has read the file whole and found
 * it valid (main() exits 2 before this when it is not), then waits for the bot's own account of what it applied.
 */
async function reload(config: Config): Promise<number> {
  const lock = readLock(join(config.dataDir, LOCK_FILE));
  if (lock === 'missing' || lock === 'unreadable' || !judge(lock).alive) {
    process.stdout.write(`${config.source}: OK, but nightshift is not running here (data dir ${config.dataDir}): nothing to reload\n`);
    return ExitCode.notRunning;
  }
  const file = join(config.dataDir, DATABASE_FILE);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const newest = db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM events').get()?.id ?? 0;
    process.kill(lock.pid, 'SIGHUP');
    const outcome = db.prepare<[number], { type: string; context: string }>(
      "SELECT type, context FROM events WHERE id > ? AND type IN ('config.reloaded', 'config.reload_failed') ORDER BY id LIMIT 1",
    );
    const deadline = Date.now() + RELOAD_WAIT_MS;
    for (;;) {
      const row = outcome.get(newest);
      if (row) {
        const context = JSON.parse(row.context) as { summary?: string; problems?: string; durationMs?: number };
        if (row.type === 'config.reload_failed') {
          process.stdout.write(`nightshift (pid ${lock.pid}) refused the file; nothing changed:\n${context.problems ?? ''}\n`);
          return ExitCode.failure;
        }
        process.stdout.write(`reloaded ${config.source} in ${context.durationMs ?? 0} ms: ${context.summary ?? ''}\n`);
        return ExitCode.ok;
      }
      if (Date.now() > deadline) {
        process.stdout.write(`sent SIGHUP to nightshift (pid ${lock.pid}); it has not said what it applied within ${RELOAD_WAIT_MS / 1000} s (see its log)\n`);
        return ExitCode.failure;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (err) {
    process.stdout.write(`cannot reload nightshift (pid ${lock.pid}): ${errorMessage(err)}\n`);
    return ExitCode.failure;
  } finally {
    db?.close();
  }
}
