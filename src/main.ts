import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog } from './store/audit.js';
import { DATABASE_FILE } from './store/database.js';
import { App } from './app.js';
import { loadConfig, loadDotEnv } from './config/load.js';
import type { Config } from './config/schema.js';
import { ConfigError, ExitCode, InstanceLockedError, MigrationError, UserError, errorMessage } from './errors.js';
import { judge, LOCK_FILE, readLock } from './lock/instance-lock.js';
import { createLogger } from './log/logger.js';
import { Redactor } from './log/redact.js';
import { version } from './version.js';

const HELP = `nightshift ${version}: keeps a one-machine stack of agents and services alive

Usage: nightshift <command>

Commands:
  start          run the bot (patrol, heal, chat) in the foreground
  status         print the summary of the running instance
  check-config   validate the configuration and exit
  audit verify   check the hash chain of the audit trail (approvals, consent)
  --help, -h     show this help
  --version, -v  print the version

Environment: NIGHTSHIFT_CONFIG (default ./nightshift.yml), NIGHTSHIFT_DATA_DIR
(default ./data), NIGHTSHIFT_HTTP (default 127.0.0.1:8787); .env is loaded
from the working directory.

Exit codes:
  0  success (status: the summary is OK)
  1  failure: another instance holds the data dir, a migration failed, the
     HTTP address is taken (status: the summary is DEGRADED or DOWN)
  2  invalid configuration or usage
  3  status: no running instance; audit verify: no database
  (audit verify: 0 the chain is intact, 1 it is broken)
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
  const auditVerify = command === 'audit' && rest.length === 1 && rest[0] === 'verify';
  if (command === undefined || (!auditVerify && (!['start', 'status', 'check-config'].includes(command) || rest.length > 0))) {
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
    process.stdout.write(`${config.source}: OK\n  data dir: ${config.dataDir}\n  http: ${config.http.listen.host}:${config.http.listen.port}\n  ${config.checks.length} checks: ${checks}\n`);
    return ExitCode.ok;
  }
  if (command === 'status') return status(config);
  if (auditVerify) return verifyAudit(config);
  return start(config);
}

async function start(config: Config): Promise<number> {
  const redactor = new Redactor(Object.values(config.secrets));
  const log = createLogger({ level: config.log.level, redactor });
  const app = new App({ config, log, redactor, stdin: process.stdin, stdout: process.stdout });
  try {
    await app.start();
  } catch (err) {
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
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
    process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception (kept running)'));
    process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (kept running)'));
  });
}

/** Walks the audit trail's hash chain, read-only (safe while the bot runs). */
function verifyAudit(config: Config): number {
  const file = join(config.dataDir, DATABASE_FILE);
  if (!existsSync(file)) {
    process.stdout.write(`no database in ${config.dataDir}\n`);
    return ExitCode.notRunning;
  }
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const verdict = new AuditLog(db).verify();
    if (verdict.ok) {
      process.stdout.write(`audit trail intact: ${verdict.rows} row${verdict.rows === 1 ? '' : 's'}\n`);
      return ExitCode.ok;
    }
    process.stdout.write(`audit trail BROKEN at row #${verdict.brokenAt}: ${verdict.reason} (${verdict.rows} rows before it are intact)\n`);
    return ExitCode.failure;
  } finally {
    db.close();
  }
}

/** Finds the running instance through the data dir's lock file and asks it for its summary. */
async function status(config: Config): Promise<number> {
  const lockFile = join(config.dataDir, LOCK_FILE);
  const lock = readLock(lockFile);
  if (lock === 'missing' || lock === 'unreadable' || !judge(lock).alive) {
    const why = lock === 'missing' ? `no lock file in ${config.dataDir}` : lock === 'unreadable' ? 'its lock file is unreadable' : `stale lock: ${judge(lock).reason}`;
    process.stdout.write(`nightshift is not running (${why})\n`);
    return ExitCode.notRunning;
  }
  const address = lock.http ?? `${config.http.listen.host}:${config.http.listen.port}`;
  try {
    const response = await fetch(`http://${address}/status.json`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = (await response.json()) as { text: string; state: string };
    process.stdout.write(`${body.text}\n`);
    return body.state === 'OK' ? ExitCode.ok : ExitCode.failure;
  } catch (err) {
    process.stdout.write(`nightshift (pid ${lock.pid}) is running but did not answer on ${address}: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
}
