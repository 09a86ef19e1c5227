import cron, { type ScheduledTask } from 'node-cron';
import { describeIdentity, type Identity } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import { UserError } from '../errors.js';
import type { EventLog } from '../store/events.js';
import type { SilenceRow, SilenceStore } from '../store/silences.js';
import { matches, MATCHER_USAGE, parseMatcher, type SilenceMatcher, type SilenceTarget } from './matcher.js';

const MINUTE_MS = 60_000;
/** The longest silence one command sets: long enough for any planned work, short enough that a typo does not silence a check for good. */
export const MAX_SILENCE_MS = 30 * 86_400_000;
/** The longest maintenance window (config.maintenance[].duration). */
export const MAX_WINDOW_MS = 7 * 86_400_000;

/** A scheduled maintenance window from the config (`maintenance:`). */
export interface MaintenanceWindowConfig {
  name: string;
  /** Five-field cron expression, in TZ: when the window opens. */
  cron: string;
  durationMs: number;
  /** What it covers, as a silence matcher. */
  match: string;
  reason?: string | undefined;
}

/** What silences a check right now: a silence from chat or a maintenance window. */
export type SilencedBy = { kind: 'silence'; id: number; until: number; reason: string | null } | { kind: 'window'; name: string; until: number };

export interface SilenceListing {
  silences: Array<SilenceRow & { covers: string[] }>;
  windows: Array<{
    name: string;
    match: string;
    cron: string;
    durationMs: number;
    reason: string | null;
    openUntil: number | null;
    nextOpen: number | null;
    covers: string[];
  }>;
}

/** What chat commands may do with silences (/silence, /silences, /unsilence). */
export interface SilenceService {
  add(matcher: string, durationMs: number, reason: string | null, by: Identity): SilenceRow & { covers: string[] };
  /** The removed silence; null when there is no active silence with that id. */
  remove(id: number, by: Identity): SilenceRow | null;
  list(): SilenceListing;
}

export interface SilencesOptions {
  store: SilenceStore;
  events: EventLog;
  clock: Clock;
  checks: readonly SilenceTarget[];
  windows: readonly MaintenanceWindowConfig[];
  timezone: string;
}

interface Window extends MaintenanceWindowConfig {
  matcher: SilenceMatcher;
  task: ScheduledTask;
}

/**
 * Silences by matcher with an expiry, and the maintenance windows of the
 * config: while either covers a check, it alerts, reminds and heals nobody
 * (what /mute does for one check). Setting and removing a silence is an
 * audited event; an expired one simply stops matching.
 */
export class Silences implements SilenceService {
  private readonly windows: Window[];
  private readonly parsed = new Map<string, SilenceMatcher | null>();
  /** Per window: the last minute asked about, and the latest minute it opened on (null: none within its duration). */
  private readonly scans = new Map<string, { to: number; start: number | null }>();

  /** The checks a matcher is matched against (a reload replaces them). */
  private checks: readonly SilenceTarget[];

  constructor(private readonly options: SilencesOptions) {
    this.checks = options.checks;
    this.windows = options.windows.map((w) => {
      const matcher = parseMatcher(w.match);
      if (typeof matcher === 'string') throw new Error(`maintenance window ${w.name}: ${matcher}`);
      // createTask parses the expression without scheduling anything: it is only asked which minutes match.
      return { ...w, matcher, task: cron.createTask(w.cron, () => undefined, { timezone: options.timezone, name: `maintenance-${w.name}` }) };
    });
  }

  /** What silences this check at `at`, or null. */
  /** A reload: silences cover the checks configured now. */
  replaceChecks(next: readonly SilenceTarget[]): void {
    this.checks = next;
  }

  silencedBy(check: SilenceTarget, at: number): SilencedBy | null {
    for (const silence of this.options.store.active(at)) {
      const matcher = this.matcher(silence.matcher);
      if (matcher && matches(matcher, check)) return { kind: 'silence', id: silence.id, until: silence.until, reason: silence.reason };
    }
    for (const w of this.windows) {
      const until = this.openUntil(w, at);
      if (until !== null && matches(w.matcher, check)) return { kind: 'window', name: w.name, until };
    }
    return null;
  }

  add(matcherText: string, durationMs: number, reason: string | null, by: Identity): SilenceRow & { covers: string[] } {
    const matcher = parseMatcher(matcherText);
    if (typeof matcher === 'string') throw new UserError('bad_matcher', `${matcher}. A matcher is ${MATCHER_USAGE}.`);
    const covers = this.covered(matcher);
    if (covers.length === 0) throw new UserError('matches_nothing', `"${matcher.text}" matches no check, so it would silence nothing. /status lists them.`);
    if (durationMs <= 0 || durationMs > MAX_SILENCE_MS) throw new UserError('bad_duration', 'A silence lasts from 1m to 30d.');
    const now = this.options.clock.now();
    const who = describeIdentity(by);
    const row = this.options.store.add({ matcher: matcher.text, createdAt: now, createdBy: who, until: now + durationMs, reason });
    this.options.events.append(now, 'silence.added', matcher.text, 'info', {
      silenceId: row.id,
      until: row.until,
      reason,
      covers,
      by: who,
      channel: by.channel,
    });
    return { ...row, covers };
  }

  remove(id: number, by: Identity): SilenceRow | null {
    const now = this.options.clock.now();
    const silence = this.options.store.get(id);
    const who = describeIdentity(by);
    if (!silence || !this.options.store.remove(id, who, now)) return null;
    this.options.events.append(now, 'silence.removed', silence.matcher, 'info', { silenceId: id, by: who, channel: by.channel });
    return { ...silence, removedAt: now, removedBy: who };
  }

  list(): SilenceListing {
    const now = this.options.clock.now();
    return {
      silences: this.options.store.active(now).map((s) => ({ ...s, covers: this.covered(this.matcher(s.matcher)) })),
      windows: this.windows.map((w) => ({
        name: w.name,
        match: w.matcher.text,
        cron: w.cron,
        durationMs: w.durationMs,
        reason: w.reason ?? null,
        openUntil: this.openUntil(w, now),
        nextOpen: this.nextOpen(w, now),
        covers: this.covered(w.matcher),
      })),
    };
  }

  private covered(matcher: SilenceMatcher | null): string[] {
    if (!matcher) return [];
    return this.checks.filter((c) => matches(matcher, c)).map((c) => c.name);
  }

  /** A stored matcher, parsed once; null if it no longer parses (it was checked when set), so it matches nothing rather than everything. */
  private matcher(text: string): SilenceMatcher | null {
    if (!this.parsed.has(text)) {
      const parsed = parseMatcher(text);
      this.parsed.set(text, typeof parsed === 'string' ? null : parsed);
    }
    return this.parsed.get(text)!;
  }

  /** When the window closes if it is open at `at` (opened on a cron minute less than its duration ago), else null. */
  private openUntil(w: Window, at: number): number | null {
    const start = this.lastStart(w, Math.floor(at / MINUTE_MS) * MINUTE_MS);
    return start !== null && start + w.durationMs > at ? start + w.durationMs : null;
  }

  /**
   * The latest minute at or before `minute`, within the window's duration, on
   * which the window opened. Asking cron about a minute costs some
   * microseconds and a window may last a week, so each window remembers how
   * far it has looked and only the minutes since are asked about.
   */
  private lastStart(w: Window, minute: number): number | null {
    let scan = this.scans.get(w.name);
    if (!scan || minute < scan.to || minute - scan.to > w.durationMs) {
      scan = { to: minute - w.durationMs, start: null };
    }
    for (let m = scan.to + MINUTE_MS; m <= minute; m += MINUTE_MS) if (w.task.match(new Date(m))) scan.start = m;
    scan.to = Math.max(scan.to, minute);
    this.scans.set(w.name, scan);
    return scan.start !== null && scan.start > minute - w.durationMs ? scan.start : null;
  }

  /** The next minute the window opens, within a little over a week (a weekly window's whole cycle); null if none. */
  private nextOpen(w: Window, at: number): number | null {
    const first = Math.floor(at / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    for (let start = first; start < at + MAX_WINDOW_MS + 86_400_000; start += MINUTE_MS) if (w.task.match(new Date(start))) return start;
    return null;
  }
}
