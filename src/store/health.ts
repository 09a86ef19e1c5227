import type { OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import { formatDuration } from '../util/duration.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';

/**
 * SQLite codes that mean "the database file cannot be written now": a full
 * disk (SQLITE_FULL), a write the OS refused (SQLITE_IOERR_*, EFBIG under a
 * file size limit), a file that became read-only, a lock held too long.
 */
export function isStoreWriteError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(FULL|IOERR|READONLY|BUSY|LOCKED|CANTOPEN|PROTOCOL)/.test(code);
}

interface Outage {
  since: number;
  failures: number;
  lastError: string;
  loggedAt: number;
  failuresLogged: number;
}

export interface StoreHealthOptions {
  log: Logger;
  clock: Clock;
  /** A failing store is logged at most this often, with a count (default one minute). */
  logEveryMs?: number;
  /** The store is writable again and nothing waits to be written: how long it was not, and how many writes failed. */
  onRecovered?: (outage: { since: number; failures: number; lastError: string }) => void;
}

/**
 * Whether the bot can write its database. Every writer that catches a
 * write error reports it here instead of throwing out of a timer or
 * printing a stack trace per attempt; while the store is failing, or work
 * waits in memory to be written, /healthz answers 503 with the reason.
 */
export class StoreHealth {
  private outage: Outage | undefined;
  private readonly backlogs = new Map<string, () => number>();

  constructor(private readonly options: StoreHealthOptions) {}

  /**
   * A write failed. True when it is a store error (counted and logged here,
   * the caller retries later); false for any other error, which the caller
   * handles as before.
   */
  failed(err: unknown, what: string): boolean {
    if (!isStoreWriteError(err)) return false;
    const { log, clock } = this.options;
    const now = clock.now();
    const message = `${(err as { code: string }).code}: ${errorMessage(err)}`;
    if (!this.outage) {
      this.outage = { since: now, failures: 1, lastError: message, loggedAt: now, failuresLogged: 1 };
      log.error({ what, error: message }, 'the database cannot be written (disk full?): Nightshift is degraded, keeps what it could not write and retries');
      return true;
    }
    const outage = this.outage;
    outage.failures++;
    outage.lastError = message;
    if (now - outage.loggedAt >= (this.options.logEveryMs ?? 60_000)) {
      log.error(
        { what, error: message, failures: outage.failures - outage.failuresLogged, failingForMs: now - outage.since, waiting: this.waiting() },
        `the database still cannot be written: ${outage.failures - outage.failuresLogged} writes failed since the last report`,
      );
      outage.loggedAt = now;
      outage.failuresLogged = outage.failures;
    }
    return true;
  }

  /** A write went through; the outage ends once nothing waits in memory to be written. */
  succeeded(): void {
    const outage = this.outage;
    if (!outage || this.waiting() > 0) return;
    this.outage = undefined;
    this.options.log.warn(
      { failures: outage.failures, failingForMs: this.options.clock.now() - outage.since },
      'the database is writable again; everything kept meanwhile is written',
    );
    try {
      this.options.onRecovered?.({ since: outage.since, failures: outage.failures, lastError: outage.lastError });
    } catch (err) {
      if (!this.failed(err, 'recovery notice')) this.options.log.error({ err }, 'could not report the end of a store outage');
    }
  }

  /** Registers a count of things kept in memory because they could not be written (the outbox's unwritten messages). */
  track(name: string, waiting: () => number): void {
    this.backlogs.set(name, waiting);
  }

  get degraded(): boolean {
    return this.outage !== undefined;
  }

  /** Why the bot is degraded, for /healthz; empty when the store is fine. */
  problems(): string[] {
    const outage = this.outage;
    if (!outage) return [];
    const waiting = this.waiting();
    return [
      `the database cannot be written since ${new Date(outage.since).toISOString()} (${outage.failures} failed write${outage.failures === 1 ? '' : 's'}; last: ${outage.lastError})${waiting > 0 ? `; ${waiting} message${waiting === 1 ? '' : 's'} kept in memory` : ''}`,
    ];
  }

  private waiting(): number {
    let n = 0;
    for (const count of this.backlogs.values()) n += count();
    return n;
  }
}

/** The notice that the database can be written again: for how long it could not, what was lost, where to look. */
export function storeRecoveredNotice(outage: { since: number; failures: number; lastError: string }, now: number, dataDir: string): OutgoingMessage {
  return {
    severity: 'warning',
    title: `Nightshift could not write its database for ${formatDuration(now - outage.since)} (disk full?); it can again`,
    body: `${outage.failures} writes failed (last: ${outage.lastError}). Alerts held meanwhile have been sent; check runs of that time were not recorded. Look at the free space of ${dataDir}.`,
  };
}
