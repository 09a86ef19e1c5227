import type { OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import { formatDuration } from '../util/duration.js';
import type { IncidentStore } from '../store/incidents.js';

/** An incident opened or closed: what the incident tracker tells the composer. */
export interface IncidentNotice {
  kind: 'opened' | 'recovered';
  check: string;
  severity: 'critical' | 'optional';
  incidentId: number;
  /** The check this one is a symptom of, or null for a root cause. */
  rootCheck: string | null;
  message: string;
  durationMs?: number;
}

export interface ComposerOptions {
  clock: Clock;
  incidents: IncidentStore;
  groupWaitMs: number;
  stormThreshold: number;
  repeatIntervalMs: number;
  /** Queues a message on every channel under an idempotency key. */
  send: (message: OutgoingMessage, key: string) => void;
  /** Where an error inside a timer goes (a store that cannot write); default: rethrown. */
  onError?: (err: unknown, what: string) => void;
}

const LIST_LIMIT = 10;

/**
 * Folds incident notices into few messages. Notices are collected for a
 * group wait; then incidents that share a root cause become one message
 * ("db is failing; 7 dependent checks failing with it"), a storm (at least
 * stormThreshold new incidents in one wait) becomes one summary, and
 * recoveries fold the same way. Unacknowledged critical incidents are
 * reminded every repeat interval.
 */
export class Composer {
  private batch: IncidentNotice[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reminderTimer: NodeJS.Timeout | undefined;
  private flushes = 0;

  constructor(private readonly options: ComposerOptions) {}

  start(): void {
    // Incidents committed but never announced (Nightshift died inside a group wait) are announced now.
    for (const incident of this.options.incidents.allOpen()) {
      if (incident.lastNotifiedAt !== null) continue;
      this.notice({
        kind: 'opened',
        check: incident.checkName,
        severity: incident.severity,
        incidentId: incident.id,
        rootCheck: null,
        message: incident.lastMessage,
      });
    }
    // Reminders are checked every minute (or every repeat interval, if shorter, but not more than once a second).
    const every = Math.max(1_000, Math.min(60_000, this.options.repeatIntervalMs));
    this.reminderTimer = setInterval(() => this.guarded('reminders', () => this.remind()), every);
    this.reminderTimer.unref();
  }

  stop(): void {
    clearInterval(this.reminderTimer);
    this.flush();
  }

  notice(notice: IncidentNotice): void {
    this.batch.push(notice);
    if (this.options.groupWaitMs <= 0) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => this.guarded('grouped alerts', () => this.flush()), this.options.groupWaitMs);
  }

  /** Work whose error is reported (a store that cannot write), never thrown out of a timer; rethrown without onError. */
  private guarded(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      if (!this.options.onError) throw err;
      this.options.onError(err, what);
    }
  }

  /** Sends what was collected (the group wait ended, or Nightshift stops). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    const now = this.options.clock.now();
    const key = (suffix: string) => `compose:${now}:${++this.flushes}:${suffix}`;
    // A dependent may have failed (and been noticed as a root) before its dependency did; by now its
    // incident may have been re-filed under the dependency's, so the root is looked up again.
    for (const notice of batch) if (notice.kind === 'opened' && notice.rootCheck === null) notice.rootCheck = this.currentRoot(notice.incidentId);
    const opened = batch.filter((n) => n.kind === 'opened');
    const recovered = batch.filter((n) => n.kind === 'recovered');
    if (opened.length >= this.options.stormThreshold) {
      this.options.send(stormMessage(opened, this.options.groupWaitMs), key('storm'));
    } else {
      for (const [root, group] of byRoot(opened)) this.options.send(openedMessage(root, group), key(`opened:${root}`));
    }
    for (const [root, group] of byRoot(recovered)) this.options.send(recoveredMessage(root, group), key(`recovered:${root}`));
    // The messages are queued (the outbox keeps them even when the store cannot write); an incident whose
    // mark cannot be written is announced again after a restart rather than never.
    const marked = new Set(opened.map((n) => n.incidentId));
    this.guarded('marking incidents announced', () => {
      for (const id of marked) this.options.incidents.markNotified(id, now);
    });
  }

  private currentRoot(incidentId: number): string | null {
    let incident = this.options.incidents.get(incidentId);
    let root: string | null = null;
    for (let hops = 0; incident?.rootId != null && hops < 50; hops++) {
      incident = this.options.incidents.get(incident.rootId);
      root = incident?.checkName ?? root;
    }
    return root;
  }

  /** Reminds of open, unacknowledged critical root incidents not mentioned for a repeat interval. */
  remind(): void {
    const now = this.options.clock.now();
    for (const incident of this.options.incidents.allOpen()) {
      if (incident.rootId !== null || incident.severity !== 'critical' || incident.ackedAt !== null) continue;
      const last = incident.lastNotifiedAt ?? incident.openedAt;
      if (now - last < this.options.repeatIntervalMs) continue;
      this.options.incidents.markNotified(incident.id, now);
      this.options.send(
        {
          severity: 'critical',
          title: `Still failing after ${formatDuration(now - incident.openedAt)}: ${incident.checkName}: ${incident.lastMessage}`,
          body: `incident #${incident.id}${incident.escalatedAt ? ' (escalated)' : ''} · /ack ${incident.id} to stop these reminders until it recovers`,
        },
        `remind:${incident.id}:${now}`,
      );
    }
  }
}

function byRoot(notices: IncidentNotice[]): Map<string, IncidentNotice[]> {
  const groups = new Map<string, IncidentNotice[]>();
  for (const n of notices) {
    const root = n.rootCheck ?? n.check;
    groups.set(root, [...(groups.get(root) ?? []), n]);
  }
  return groups;
}

function severityOf(group: IncidentNotice[]): OutgoingMessage['severity'] {
  return group.some((n) => n.severity === 'critical') ? 'critical' : 'warning';
}

function listNames(names: string[]): string {
  return names.length <= LIST_LIMIT ? names.join(', ') : `${names.slice(0, LIST_LIMIT).join(', ')} and ${names.length - LIST_LIMIT} more`;
}

function openedMessage(root: string, group: IncidentNotice[]): OutgoingMessage {
  const rootNotice = group.find((n) => n.check === root);
  const dependents = group.filter((n) => n.check !== root).map((n) => n.check);
  const plural = (n: number) => `${n} dependent check${n === 1 ? '' : 's'}`;
  if (!rootNotice) {
    return {
      severity: severityOf(group),
      title: `${plural(dependents.length)} of ${root} failing too: ${listNames(dependents)}`,
      body: `symptoms of ${root}'s incident`,
    };
  }
  return {
    severity: severityOf(group),
    title: `${root} is failing: ${rootNotice.message}${dependents.length ? `; ${plural(dependents.length)} failing with it` : ''}`,
    body: [`incident #${rootNotice.incidentId}`, dependents.length ? `symptoms: ${listNames(dependents)}` : ''].filter(Boolean).join(' · '),
  };
}

function recoveredMessage(root: string, group: IncidentNotice[]): OutgoingMessage {
  const rootNotice = group.find((n) => n.check === root);
  const dependents = group.filter((n) => n.check !== root).map((n) => n.check);
  const after = rootNotice?.durationMs !== undefined ? ` after ${formatDuration(rootNotice.durationMs)}` : '';
  const title = rootNotice
    ? `${root} recovered${after}: ${rootNotice.message}${dependents.length ? `; ${dependents.length} dependent check${dependents.length === 1 ? '' : 's'} recovered with it` : ''}`
    : `${dependents.length} dependent check${dependents.length === 1 ? '' : 's'} of ${root} recovered: ${listNames(dependents)}`;
  return { severity: 'info', title, ...(rootNotice ? { body: `incident #${rootNotice.incidentId} closed` } : {}) };
}

function stormMessage(opened: IncidentNotice[], waitMs: number): OutgoingMessage {
  const groups = [...byRoot(opened)].sort((a, b) => b[1].length - a[1].length);
  const lines = groups
    .slice(0, LIST_LIMIT)
    .map(
      ([root, group]) =>
        `${root}: ${group.length} incident${group.length === 1 ? '' : 's'}${group.find((n) => n.check === root) ? ` (${group.find((n) => n.check === root)!.message})` : ''}`,
    );
  if (groups.length > LIST_LIMIT) lines.push(`and ${groups.length - LIST_LIMIT} more root causes`);
  return {
    severity: severityOf(opened),
    title: `Storm: ${opened.length} new incidents within ${formatDuration(waitMs)} from ${groups.length} root cause${groups.length === 1 ? '' : 's'}`,
    body: `${lines.join('\n')}\n/incidents lists them all`,
  };
}
