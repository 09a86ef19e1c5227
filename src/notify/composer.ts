import type { OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import { formatDuration } from '../util/duration.js';
import type { EventLog } from '../store/events.js';
import type { IncidentRow, IncidentStore } from '../store/incidents.js';
import { alertActions } from './actions.js';

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
  /** Why it is announced after all ("restart did not bring it back"). */
  note?: string;
}

/** What wakes the operator (chat.notify). */
export interface NotifyRule {
  /** briefing: an incident Level 1 heals in time is never pushed. */
  healed: 'briefing' | 'immediate';
  /** How long after a heal attempt ends the check may take to come back. */
  graceMs: number;
  /** briefing: incidents of optional checks are never pushed. */
  optional: 'briefing' | 'immediate';
  /** A held incident is announced after this long whatever happened (a heal that never ran or never ended). */
  maxHoldMs: number;
}

export const DEFAULT_NOTIFY_RULE: NotifyRule = { healed: 'briefing', graceMs: 5_000, optional: 'briefing', maxHoldMs: 120_000 };

/** How a heal attempt ended, as Recovery reports it. */
export interface HealEnd {
  incidentId: number;
  check: string;
  at: number;
  ok: boolean;
  /** The step that failed, when one did. */
  failed?: { action: string; message: string };
  attempt: number;
}

export interface ComposerOptions {
  clock: Clock;
  incidents: IncidentStore;
  events?: EventLog;
  groupWaitMs: number;
  stormThreshold: number;
  repeatIntervalMs: number;
  rule?: NotifyRule;
  /** True when Nightshift heals this check by itself (it has heal steps): its incidents are held while it does. */
  heals?: (check: string) => boolean;
  /** True while a check is muted or silenced: it is neither reminded nor re-escalated. */
  quiet?: (check: string, now: number) => boolean;
  /** Unacknowledged escalations are re-sent, louder, this often; null: never (reminders only). */
  escalateAfterMs?: number | null;
  /** Where re-sent escalations go, in order; empty: every channel. */
  escalateTo?: readonly string[];
  /** Queues a message under an idempotency key (on the named channels, or every one). */
  send: (message: OutgoingMessage, key: string, channels?: readonly string[]) => void;
  /** Where an error inside a timer goes (a store that cannot write); default: rethrown. */
  onError?: (err: unknown, what: string) => void;
}

const LIST_LIMIT = 10;

/** An incident announced only if healing does not bring it back in time. */
interface Held {
  notice: IncidentNotice;
  heldAt: number;
  /** When the last heal attempt ended (null: none yet). */
  healEndedAt: number | null;
  /** Symptoms of it, announced with it or not at all. */
  dependents: IncidentNotice[];
}

/**
 * Decides what reaches the operator about incidents, and folds it into few
 * messages (README, "What wakes you up"). An incident of a check Nightshift
 * heals is held while it heals: announced only when the check is still
 * failing `grace` after a heal attempt ended, a heal step failed, or
 * healing gave up (then the escalation is the one announcement); one that
 * recovers in time is never pushed, nor is its recovery. Incidents of
 * optional checks go to the briefing only. What is announced is collected
 * for a group wait; incidents that share a root cause become one message, a
 * storm one summary. Unacknowledged critical incidents are reminded every
 * repeat interval, and unacknowledged escalations re-sent louder every
 * escalateAfter, except while the check is muted or silenced.
 */
export class Composer {
  private batch: IncidentNotice[] = [];
  private readonly held = new Map<number, Held>();
  private timer: NodeJS.Timeout | undefined;
  private reviewTimer: NodeJS.Timeout | undefined;
  private reminderTimer: NodeJS.Timeout | undefined;
  private flushes = 0;
  private readonly rule: NotifyRule;
  private readonly heals: (check: string) => boolean;

  constructor(private readonly options: ComposerOptions) {
    this.rule = options.rule ?? DEFAULT_NOTIFY_RULE;
    this.heals = options.heals ?? (() => false);
  }

  start(): void {
    // Incidents committed but never announced (Nightshift died inside a group wait or a hold) are decided again now.
    for (const incident of this.options.incidents.allOpen()) {
      if (incident.lastNotifiedAt !== null) continue;
      this.notice({
        kind: 'opened',
        check: incident.checkName,
        severity: incident.severity,
        incidentId: incident.id,
        rootCheck: this.currentRoot(incident.id),
        message: incident.lastMessage,
      });
    }
    // Reminders are checked every minute (or every repeat interval, if shorter, but not more than once a second).
    const every = Math.max(1_000, Math.min(60_000, this.options.repeatIntervalMs, this.options.escalateAfterMs ?? Infinity));
    this.reminderTimer = setInterval(() => this.guarded('reminders', () => this.remind()), every);
    this.reminderTimer.unref();
  }

  stop(): void {
    clearInterval(this.reminderTimer);
    clearInterval(this.reviewTimer);
    this.reviewTimer = undefined;
    this.flush();
  }

  /** Incidents held while they heal (tests, /status). */
  get holding(): number {
    return this.held.size;
  }

  /**
   * The notify rule for a check's flapping: an optional check's (optional:
   * briefing) and a healed check's (healed: briefing; a crash loop is
   * announced by its escalation) go to the briefing, not a push.
   */
  briefingOnlyFlapping(check: string, severity: IncidentNotice['severity']): boolean {
    return (severity === 'optional' && this.rule.optional === 'briefing') || (this.rule.healed === 'briefing' && this.heals(check));
  }

  notice(notice: IncidentNotice): void {
    if (notice.kind === 'recovered') {
      this.recoveredNotice(notice);
      return;
    }
    if (notice.severity === 'optional' && this.rule.optional === 'briefing') return;
    const heldRoot = notice.rootCheck === null ? undefined : [...this.held.values()].find((h) => h.notice.check === notice.rootCheck);
    if (heldRoot) {
      heldRoot.dependents.push(notice);
      return;
    }
    if (notice.rootCheck === null && this.rule.healed === 'briefing' && this.heals(notice.check)) {
      this.held.set(notice.incidentId, { notice, heldAt: this.options.clock.now(), healEndedAt: null, dependents: [] });
      this.reviewTimer ??= setInterval(() => this.guarded('held incidents', () => this.review()), Math.max(250, Math.min(1_000, this.rule.graceMs)));
      this.reviewTimer.unref();
      return;
    }
    this.announce(notice);
  }

  /** A heal attempt ended: a failed step announces the held incident now; otherwise the grace starts. */
  healEnded(end: HealEnd): void {
    const held = this.held.get(end.incidentId);
    if (!held) {
      if (end.failed)
        this.options.send(
          { severity: 'warning', title: `${end.check}: heal step ${end.failed.action} failed: ${end.failed.message}`, body: `incident #${end.incidentId}` },
          `heal-failed:${end.incidentId}:${end.attempt}:${end.at}`,
        );
      return;
    }
    held.healEndedAt = end.at;
    if (end.failed) this.release(end.incidentId, held, `heal step ${end.failed.action} failed: ${end.failed.message}`);
    else this.review();
  }

  /** The incident was escalated: that alert is its announcement, so nothing else about its opening goes out. */
  escalated(incidentId: number): void {
    const held = this.held.get(incidentId);
    this.held.delete(incidentId);
    const before = this.batch.length;
    this.batch = this.batch.filter((n) => !(n.kind === 'opened' && n.incidentId === incidentId));
    if (held || this.batch.length !== before)
      this.guarded('marking incidents announced', () => this.options.incidents.markNotified(incidentId, this.options.clock.now()));
  }

  /**
   * Announces held incidents whose grace is over and drops those that
   * closed in time. Runs on a timer while something is held, and after
   * every check result.
   */
  review(): void {
    if (this.held.size === 0) return;
    const now = this.options.clock.now();
    for (const [id, held] of this.held) {
      const incident = this.options.incidents.get(id);
      if (!incident || incident.closedAt !== null) {
        this.held.delete(id);
        this.unannounced(id, held.notice.check, 'healed in time');
        continue;
      }
      if (held.healEndedAt !== null && now >= held.healEndedAt + this.rule.graceMs)
        this.release(id, held, `still failing ${formatDuration(now - held.healEndedAt)} after the heal`);
      else if (now >= held.heldAt + this.rule.maxHoldMs) this.release(id, held, `not healed within ${formatDuration(this.rule.maxHoldMs)}`);
    }
    if (this.held.size === 0) {
      clearInterval(this.reviewTimer);
      this.reviewTimer = undefined;
    }
  }

  private release(id: number, held: Held, note: string): void {
    this.held.delete(id);
    const incident = this.options.incidents.get(id);
    this.announce({ ...held.notice, message: incident?.lastMessage ?? held.notice.message, note });
    for (const dependent of held.dependents) this.announce(dependent);
  }

  private recoveredNotice(notice: IncidentNotice): void {
    if (this.held.delete(notice.incidentId)) {
      this.unannounced(notice.incidentId, notice.check, 'healed in time');
      return;
    }
    for (const held of this.held.values()) {
      const before = held.dependents.length;
      held.dependents = held.dependents.filter((d) => d.incidentId !== notice.incidentId);
      if (held.dependents.length !== before) return;
    }
    // Opened and closed within one group wait: neither goes out (it did not need anyone).
    const pending = this.batch.findIndex((n) => n.kind === 'opened' && n.incidentId === notice.incidentId);
    if (pending >= 0 && this.rule.healed === 'briefing') {
      this.batch.splice(pending, 1);
      this.unannounced(notice.incidentId, notice.check, 'recovered within the group wait');
      return;
    }
    // A recovery is news only to someone who was told of the incident.
    if (pending < 0 && this.options.incidents.get(notice.incidentId)?.lastNotifiedAt == null) return;
    this.announce(notice);
  }

  private unannounced(incidentId: number, check: string, reason: string): void {
    this.guarded('recording an unannounced incident', () =>
      this.options.events?.append(this.options.clock.now(), 'incident.unannounced', check, 'info', { incidentId, reason }),
    );
  }

  /** Into the group wait (or out at once). */
  private announce(notice: IncidentNotice): void {
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
      for (const [root, group] of byRoot(opened)) this.options.send(openedMessage(root, group, this.heals), key(`opened:${root}`));
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

  /**
   * Reminds of open, unacknowledged critical root incidents not mentioned
   * for a repeat interval, and re-sends unacknowledged escalations, louder,
   * every escalateAfter (to the next channel of escalateTo when one is set).
   * A muted or silenced check is reminded of nobody.
   */
  remind(): void {
    const now = this.options.clock.now();
    const { escalateAfterMs = null, escalateTo = [] } = this.options;
    for (const incident of this.options.incidents.allOpen()) {
      if (incident.rootId !== null || incident.severity !== 'critical' || incident.ackedAt !== null) continue;
      if (incident.lastNotifiedAt === null && incident.escalationSends === 0) continue;
      if (this.options.quiet?.(incident.checkName, now)) continue;
      if (incident.escalationSends > 0 && escalateAfterMs !== null) {
        if (now - (incident.escalationSentAt ?? incident.escalatedAt ?? now) >= escalateAfterMs) this.resendEscalation(incident, now, escalateTo);
        continue;
      }
      const last = incident.lastNotifiedAt ?? incident.openedAt;
      if (now - last < this.options.repeatIntervalMs) continue;
      this.options.incidents.markNotified(incident.id, now);
      this.options.send(
        {
          severity: 'critical',
          title: `Still failing after ${formatDuration(now - incident.openedAt)}: ${incident.checkName}: ${incident.lastMessage}`,
          body: `incident #${incident.id}${incident.escalatedAt ? ' (escalated)' : ''} · /ack ${incident.id} to stop these reminders until it recovers`,
          actions: alertActions(incident.id, incident.checkName, this.heals(incident.checkName)),
        },
        `remind:${incident.id}:${now}`,
      );
    }
  }

  private resendEscalation(incident: IncidentRow, now: number, escalateTo: readonly string[]): void {
    const sends = incident.escalationSends + 1;
    const channels = escalateTo.length > 0 ? [escalateTo[Math.min(sends - 2, escalateTo.length - 1)]!] : undefined;
    this.options.incidents.markEscalationSent(incident.id, now);
    this.options.events?.append(now, 'escalation.resent', incident.checkName, 'critical', { incidentId: incident.id, sends, channels: channels ?? 'all' });
    this.options.send(
      {
        severity: 'critical',
        kind: 'escalation',
        urgent: true,
        title: `Still needs you (nobody acknowledged it, ${formatDuration(now - (incident.escalatedAt ?? incident.openedAt))}): ${incident.checkName}: ${incident.lastMessage}`,
        body: `incident #${incident.id} · escalation sent ${sends} times · Ack stops these until it recovers`,
        actions: alertActions(incident.id, incident.checkName, this.heals(incident.checkName)),
      },
      `escalation:${incident.id}:${sends}`,
      channels,
    );
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

function openedMessage(root: string, group: IncidentNotice[], heals: (check: string) => boolean): OutgoingMessage {
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
    body: [`incident #${rootNotice.incidentId}`, rootNotice.note ?? '', dependents.length ? `symptoms: ${listNames(dependents)}` : '']
      .filter(Boolean)
      .join(' · '),
    actions: alertActions(rootNotice.incidentId, root, heals(root)),
  };
}

function recoveredMessage(root: string, group: IncidentNotice[]): OutgoingMessage {
  const rootNotice = group.find((n) => n.check === root);
  const dependents = group.filter((n) => n.check !== root).map((n) => n.check);
  const after = rootNotice?.durationMs !== undefined ? ` after ${formatDuration(rootNotice.durationMs)}` : '';
  const title = rootNotice
    ? `${root} recovered${after}: ${rootNotice.message}${dependents.length ? `; ${dependents.length} dependent check${dependents.length === 1 ? '' : 's'} recovered with it` : ''}`
    : `${dependents.length} dependent check${dependents.length === 1 ? '' : 's'} of ${root} recovered: ${listNames(dependents)}`;
  return {
    severity: 'info',
    kind: 'recovery',
    resolves: severityOf(group),
    title,
    ...(rootNotice ? { body: `incident #${rootNotice.incidentId} closed` } : {}),
  };
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
