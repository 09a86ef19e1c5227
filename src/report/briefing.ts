import cron, { type ScheduledTask } from 'node-cron';
import type { OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import { formatDuration } from '../util/duration.js';
import { localParts, toMinutes } from '../util/local-time.js';
import { normalizeError } from '../diagnose/signature.js';
import type { Logger } from '../log/logger.js';
import { summaryLine, type StatusSummary } from '../patrol/summary.js';
import type { ActionStore } from '../store/actions.js';
import { BriefingQueries } from '../store/briefing-queries.js';
import type { Db } from '../store/database.js';
import type { IncidentStore } from '../store/incidents.js';
import type { KeyValueStore } from '../store/kv.js';
import type { QuestionStore } from '../store/questions.js';

/** What /briefing may do. */
export interface BriefingService {
  /** The briefing since the last one, composed now; nothing is sent or recorded. */
  compose(now: number): { message: OutgoingMessage };
}

export interface BriefingOptions {
  db: Db;
  kv: KeyValueStore;
  incidents: IncidentStore;
  actions: ActionStore;
  questions: QuestionStore;
  clock: Clock;
  log: Logger;
  timezone: string;
  /** "07:30": the daily briefing's local time. */
  at: string;
  /** Day of the weekly report, 0 = Sunday … 6 = Saturday; null: off. */
  weeklyDay: number | null;
  startedAt: number;
  summary: () => StatusSummary;
  regretLines: () => string[];
  /** Queues a message on every channel under an idempotency key (once per channel per key). */
  send: (message: OutgoingMessage, key: string) => void;
  /** Where a failed briefing goes before it is tried again a minute later (default: thrown). */
  onError?: (err: unknown, what: string) => void;
}

const DAY = 86_400_000;
const SPARKS = '▁▂▃▄▅▆▇█';

/**
 * The morning briefing and the weekly report. Each is sent once per day per
 * channel: the day is recorded in the store before the message is queued
 * under a key made of that day, so neither a restart nor a catch-up can send
 * it twice, and a bot that was down at 07:30 sends it when it starts that day.
 */
export class Briefings implements BriefingService {
  private tasks: ScheduledTask[] = [];
  private retry: NodeJS.Timeout | undefined;
  private readonly queries: BriefingQueries;

  constructor(private readonly options: BriefingOptions) {
    this.queries = new BriefingQueries(options.db);
  }

  start(): void {
    // The first start ever is remembered: a fresh install does not greet its operator with an empty briefing.
    if (!this.options.kv.get('briefing.installed')) this.options.kv.set('briefing.installed', String(this.options.clock.now()));
    const [hour, minute] = this.options.at.split(':').map(Number) as [number, number];
    const tz = { timezone: this.options.timezone, noOverlap: true };
    this.tasks.push(cron.schedule(`${minute} ${hour} * * *`, () => this.dueOrRetry(), { ...tz, name: 'daily-briefing' }));
    this.dueOrRetry();
  }

  /** due(), and when it fails (a store that cannot write) again a minute later: a briefing is late, not lost. */
  private dueOrRetry(): void {
    try {
      this.due();
    } catch (err) {
      if (!this.options.onError) throw err;
      this.options.onError(err, 'briefing');
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.dueOrRetry(), 60_000);
      this.retry.unref();
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.retry);
    // node-cron's stop() returns a promise or nothing: each becomes a promise, so every task has stopped when this resolves.
    await Promise.all(this.tasks.map((t) => Promise.resolve(t.stop())));
  }

  /** Sends today's briefing (and on the weekly day the weekly report) if it is time and they have not gone out. */
  due(): void {
    const now = this.options.clock.now();
    const local = localParts(now, this.options.timezone);
    if (local.minutes < toMinutes(this.options.at)) return;
    // Installed today after the briefing time: today's briefing was not missed, there was nothing to brief.
    const installed = localParts(Number(this.options.kv.get('briefing.installed') ?? 0), this.options.timezone);
    if (installed.day === local.day && installed.minutes >= toMinutes(this.options.at)) return;
    if (this.options.kv.get('briefing.daily.day') !== local.day) {
      const briefing = this.compose(now);
      this.options.db.transaction(() => {
        this.options.kv.set('briefing.daily.day', local.day);
        this.options.kv.set('briefing.daily.last', String(now));
        this.options.send(briefing.message, `briefing:daily:${local.day}`);
      })();
    }
    if (this.options.weeklyDay !== null && local.weekday === this.options.weeklyDay && this.options.kv.get('briefing.weekly.day') !== local.day) {
      const report = this.composeWeekly(now);
      this.options.db.transaction(() => {
        this.options.kv.set('briefing.weekly.day', local.day);
        this.options.send(report.message, `briefing:weekly:${local.day}`);
      })();
    }
  }

  /** The briefing since the last one (or the last 24 h): the first line fits a lock screen, details below. */
  compose(now: number): { message: OutgoingMessage; text: string } {
    const since = Number(this.options.kv.get('briefing.daily.last') ?? now - DAY);
    const { queries } = this;
    const { incidents, actions, questions } = this.options;
    const opened = queries.incidentsOpenedSince(since);
    const closed = queries.incidentsClosedSince(since);
    const stillOpen = incidents.allOpen().filter((i) => i.rootId === null);
    const heals = actions.healOutcomesSince(since);
    const escalations = actions.escalations(since);
    const pending = questions.pending();
    const proposals = queries.openProposalLines();
    const newFlags = queries.flagsRaisedSince(since);
    const skipped = queries.healsSkippedByFlag(since);
    const signatures = this.topSignatures(since);
    const spark = this.sparkline(now, 7);
    const summary = this.options.summary();

    const title = `Briefing: ${opened} incident${opened === 1 ? '' : 's'} (${stillOpen.length} still open), ${heals.attempts} heal${heals.attempts === 1 ? '' : 's'} (${heals.held} held), ${escalations.length} escalation${escalations.length === 1 ? '' : 's'} · errors 7d ${spark.line}`;
    const lines: string[] = [summaryLine(summary), `Since ${new Date(since).toISOString().slice(0, 16).replace('T', ' ')} UTC:`];
    lines.push(`- incidents: ${opened} opened, ${closed} closed`);
    for (const i of stillOpen.slice(0, 5))
      lines.push(`  open #${i.id} ${i.checkName} for ${formatDuration(now - i.openedAt)}: ${i.lastMessage}${i.escalatedAt ? ' [escalated]' : ''}`);
    lines.push(`- heals: ${heals.attempts} (${heals.held} held, ${heals.failed} did not, ${heals.attempts - heals.held - heals.failed} not judged yet)`);
    const quiet = queries.quietHeals(since);
    if (quiet.length) lines.push(`- healed without waking you: ${quiet.length}`);
    for (const q of quiet.slice(0, 10))
      lines.push(
        `  ${q.checkName} at ${hhmm(localParts(q.openedAt, this.options.timezone).minutes)}: ${q.message}${q.closedAt !== null ? `, back after ${formatDuration(Math.max(1, q.closedAt - q.openedAt))}` : ''}`,
      );
    if (quiet.length > 10) lines.push(`  and ${quiet.length - 10} more`);
    for (const e of escalations.slice(0, 5)) lines.push(`  escalated ${e.target}: ${e.message}`);
    if (pending.length)
      lines.push(`- waiting for you: ${pending.map((p) => (p.kind === 'proposal' ? `proposal (${p.prompt.slice(0, 60)})` : p.prompt)).join('; ')}`);
    if (proposals.length) lines.push(`- proposals: ${proposals.map((p) => `${p.id} ${p.summary}`).join('; ')}`);
    lines.push('- regret:', ...this.options.regretLines().map((l) => `  ${l}`));
    if (newFlags.length)
      lines.push(
        `  new flags: ${newFlags.map((f) => `#${f.id} ${f.kind === 'category' ? `every ${f.category}` : `${f.category} of ${f.target}`} (${f.reason})`).join('; ')}`,
      );
    if (skipped) lines.push(`  heals skipped by flags: ${skipped}`);
    lines.push(`- patrol: ${summary.checks} checks, ${summary.stale} stale; Nightshift up ${formatDuration(now - this.options.startedAt)}`);
    if (signatures.length) lines.push('- top errors:', ...signatures.map((s) => `  ${s.count}× ${s.signature}`));
    lines.push(`- errors per day (7d): ${spark.line} ${spark.counts.join(' ')}`);
    const text = `${title}\n${lines.join('\n')}`;
    return { message: { severity: stillOpen.length > 0 ? 'warning' : 'info', kind: 'briefing', title, body: lines.join('\n') }, text };
  }

  /** The weekly report: errors per week, fixes, heals that held, the streak of error-free days. */
  composeWeekly(now: number): { message: OutgoingMessage; text: string } {
    const weeks = [3, 2, 1, 0].map((w) => {
      const to = now - w * 7 * DAY;
      const from = to - 7 * DAY;
      return this.queries.failedRunsBetween(from, to);
    });
    const weekAgo = now - 7 * DAY;
    const fixes = this.queries.fixesApprovedSince(weekAgo);
    const heals = this.options.actions.healOutcomesSince(weekAgo);
    const streak = this.errorFreeStreak(now);
    const title = `Weekly report: ${weeks[3]} errors this week (${weeks.map((n) => spark(n, Math.max(...weeks))).join('')} over 4 weeks), ${heals.held}/${heals.attempts} heals held, ${fixes} fix${fixes === 1 ? '' : 'es'} approved, ${streak} error-free day${streak === 1 ? '' : 's'} in a row`;
    const body = [
      `errors per week, oldest first: ${weeks.join(', ')}`,
      `heals this week: ${heals.attempts}, held: ${heals.held}`,
      `fixes approved: ${fixes}`,
      `current streak of error-free days: ${streak}`,
    ].join('\n');
    return { message: { severity: 'info', kind: 'briefing', title, body }, text: `${title}\n${body}` };
  }

  private topSignatures(since: number): Array<{ signature: string; count: number }> {
    const rows = this.queries.failedMessageCounts(since);
    const counts = new Map<string, number>();
    for (const r of rows) {
      const signature = `${r.subject}: ${normalizeError(r.message ?? '')}`;
      counts.set(signature, (counts.get(signature) ?? 0) + r.n);
    }
    return [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([signature, count]) => ({ signature, count }));
  }

  /** Failed runs per local day, oldest first, and their sparkline. */
  private sparkline(now: number, days: number): { counts: number[]; line: string } {
    const counts: number[] = [];
    for (let d = days - 1; d >= 0; d--) {
      const [from, to] = dayBounds(now - d * DAY, this.options.timezone);
      counts.push(this.queries.failedRunsBetween(from, to));
    }
    const max = Math.max(...counts);
    return { counts, line: counts.map((n) => spark(n, max)).join('') };
  }

  /** Whole local days without a failed run, counting back from yesterday. */
  private errorFreeStreak(now: number): number {
    // Days before the first stored event are no error-free days: they were not watched.
    const firstEventAt = this.queries.firstEventAt();
    let streak = 0;
    for (let d = 1; d <= 365; d++) {
      const [from, to] = dayBounds(now - d * DAY, this.options.timezone);
      if (to <= firstEventAt) break;
      const n = this.queries.failedRunsBetween(from, to);
      if (n > 0) break;
      streak++;
    }
    return streak;
  }
}

function spark(n: number, max: number): string {
  if (max <= 0 || n <= 0) return SPARKS[0]!;
  return SPARKS[Math.min(SPARKS.length - 1, Math.max(1, Math.round((n / max) * (SPARKS.length - 1))))]!;
}

/** [start, end) in ms of the local day containing `at` (found by stepping, so DST days come out right). */
function dayBounds(at: number, timeZone: string): [number, number] {
  const { minutes } = localParts(at, timeZone);
  const seconds = new Date(at).getUTCSeconds() * 1000 + new Date(at).getUTCMilliseconds();
  const start = at - minutes * 60_000 - seconds;
  return [start, start + DAY];
}

/** "03:07" from minutes since local midnight. */
function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
