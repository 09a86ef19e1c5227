/** Exit codes of the `nightshift` CLI; the README documents each. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  configInvalid: 2,
  notRunning: 3,
} as const;

/**
 * An error meant for the operator: its message is shown as is, and it carries
 * a stable code. Anything that is not a UserError is logged with its context
 * and the operator gets a short generic reply instead.
 */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UserError';
  }
}

/** The configuration could not be loaded; `problems` lists every bad field. */
export class ConfigError extends UserError {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      'config_invalid',
      `${file}: invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'})\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** A migration failed; the database stays at the version before it. */
export class MigrationError extends Error {
  constructor(
    readonly migration: string,
    cause: unknown,
  ) {
    super(`migration ${migration} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'MigrationError';
  }
}

/** What is wrong with a database file Nightshift cannot use. */
export type DatabaseProblem = 'corrupt' | 'unreadable' | 'read-only' | 'newer';

/**
 * The database file cannot be used: damaged, unreadable, read-only, or
 * written by a newer Nightshift. Restarting changes nothing, so `start`
 * exits 2. `headline` is one line naming the file and the problem; the
 * message adds what to do.
 */
export class DatabaseError extends UserError {
  constructor(
    readonly file: string,
    readonly problem: DatabaseProblem,
    readonly headline: string,
    advice: string,
    cause?: unknown,
  ) {
    super('database_unusable', `${headline}. ${advice}`, cause === undefined ? undefined : { cause });
    this.name = 'DatabaseError';
  }
}

/** Another live process holds the data directory. */
export class InstanceLockedError extends UserError {
  constructor(
    readonly lockFile: string,
    readonly ownerPid: number,
  ) {
    super(
      'instance_locked',
      `another nightshift (pid ${ownerPid}) is already running on this data directory (lock: ${lockFile}); stop it first or use another NIGHTSHIFT_DATA_DIR`,
    );
    this.name = 'InstanceLockedError';
  }
}

/** Message of any thrown value, for logs and events. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
}
