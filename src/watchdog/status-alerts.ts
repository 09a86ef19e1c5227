import type { OutgoingMessage } from '../chat/channel.js';
import type { StatusSummary } from '../patrol/summary.js';
import { formatDuration } from '../util/duration.js';

export interface StatusAlertsOptions {
  /** The status summary (the engine's): its DOWN and stale are what is pushed. */
  summary: () => StatusSummary;
  /** The send path every other alert uses (routes, quiet hours, the outbox); the key is unique per transition. */
  send: (message: OutgoingMessage, key: string) => void;
  /** How often the summary is looked at; its own timer, so a stalled patrol loop does not stop it. */
  everyMs: number;
  onError: (err: unknown, what: string) => void;
}

/**
 * Pushes what the summary only shows: one critical message when it turns
 * DOWN (the patrol loop has stalled), one warning when a check becomes stale
 * (has not run within two of its intervals), and one message when each
 * clears: once per transition, never every tick. While DOWN every check goes
 * stale too; that is the stall, so stale checks are not announced then, nor
 * on the first look after it clears (the patrol catches up first).
 */
export class StatusAlerts {
  private timer: NodeJS.Timeout | undefined;
  private down = false;
  private settling = false;
  /** Stale checks announced, and not yet announced as running again. */
  private readonly stale = new Set<string>();

  constructor(private readonly options: StatusAlertsOptions) {}

  start(): void {
    this.timer = setInterval(() => this.review(), this.options.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Looks at the summary now and sends what changed. */
  review(): void {
    let summary: StatusSummary;
    try {
      summary = this.options.summary();
    } catch (err) {
      this.options.onError(err, 'status alerts: summary');
      return;
    }
    const at = summary.generatedAt;
    const isDown = summary.state === 'DOWN';
    if (isDown && !this.down) {
      const since = summary.lastPatrolAt === null ? 'it has not run yet' : `it last ran ${formatDuration(at - summary.lastPatrolAt)} ago`;
      this.options.send(
        {
          severity: 'critical',
          title: 'Nightshift is DOWN: its patrol loop has stalled, checks are not running',
          body: `${since}. Nothing is watched or healed until it runs again; the process may be blocked (see self's event-loop delay in /status.json).`,
        },
        `status:down:${at}`,
      );
    } else if (!isDown && this.down) {
      this.options.send(
        { severity: 'info', kind: 'recovery', resolves: 'critical', title: 'Nightshift patrols again: its patrol loop runs (no longer DOWN)' },
        `status:up:${at}`,
      );
      this.settling = true;
    }
    this.down = isDown;
    if (isDown) return;
    if (this.settling) {
      this.settling = false;
      return;
    }
    for (const check of summary.details) {
      if (check.stale && !this.stale.has(check.name)) {
        this.stale.add(check.name);
        const ago = check.lastRunAt === null ? 'it never ran' : `it last ran ${formatDuration(at - check.lastRunAt)} ago`;
        this.options.send(
          { severity: 'warning', title: `${check.name} is stale: not run within two of its intervals`, body: `${ago} (${check.kind}, ${check.severity}).` },
          `status:stale:${check.name}:${at}`,
        );
      } else if (!check.stale && this.stale.has(check.name)) {
        this.stale.delete(check.name);
        this.options.send(
          { severity: 'info', kind: 'recovery', resolves: 'warning', title: `${check.name} runs again (no longer stale)` },
          `status:fresh:${check.name}:${at}`,
        );
      }
    }
  }
}
