import { describeIdentity, type Identity, type OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { CheckConfig } from '../checks/types.js';
import type { Logger } from '../log/logger.js';
import type { RunOutcome } from '../patrol/patrol.js';
import type { Db } from '../store/database.js';
import type { EventLog } from '../store/events.js';
import type { FlagRow, RegretStore } from '../store/regret.js';

export interface RegretOptions {
  db: Db;
  store: RegretStore;
  events: EventLog;
  clock: Clock;
  log: Logger;
  checks: readonly CheckConfig[];
  notify: (message: OutgoingMessage) => void;
  /** Healthy patrols after a heal before it scores +1. */
  heldAfterPatrols?: number;
}

/** The audit's thresholds (DESIGN.md, Regret index). */
export const CATEGORY_WINDOW = 20;
export const CATEGORY_FLAG_BELOW = -0.4;
export const ACTION_FLAG_AT = 3;
/**
 * A category is judged on at least this many scores: one bad restart must not
 * stop every restart of every check (the action flag covers a single check).
 */
export const CATEGORY_MIN_SCORES = 5;

/** How one category of Nightshift's actions has turned out. */
export interface CategoryScore {
  category: string;
  /** Scored actions. */
  count: number;
  average: number;
  /** The newest scores against the ones before them. */
  trend: 'better' | 'worse' | 'steady';
  /** Active flags on the category or on one of its actions. */
  flags: FlagRow[];
}

/** What /score did. */
export type ScoreOutcome = { kind: 'unknown-action' } | { kind: 'scored'; action: { id: number; category: string; target: string }; score: number };

/** What /regret, /flags and /score may do. */
export interface RegretService {
  /** Per category, in name order. */
  categories(): CategoryScore[];
  /** Active flags, oldest first. */
  flags(): FlagRow[];
  /** An operator's score (-2..1) replaces the automatic one. */
  override(actionId: number, score: number, note: string | undefined, by: Identity): ScoreOutcome;
  /** Lets the flagged heals run again; undefined when there is no such active flag. */
  clear(flagId: number, by: Identity): FlagRow | undefined;
}

interface Watch {
  actionId: number;
  category: string;
  at: number;
  okRuns: number;
}

/**
 * The regret index: every autonomous action is scored from what happened
 * next (+1 the failure stayed away for K patrols, 0 unknown, -1 it came back
 * within the cooldown, -2 it had to be escalated), an audit after every score
 * flags a category averaging below -0.4 over its last 20 scores (judged once
 * it has 5) and an action
 * (category + check) with 3 scores of -1 or worse, and flagged heals are
 * skipped (the check escalates instead) until an operator clears the flag.
 */
export class RegretIndex implements RegretService {
  private readonly watching = new Map<string, Watch[]>();
  private byName: Map<string, CheckConfig>;

  constructor(private readonly options: RegretOptions) {
    this.byName = new Map(options.checks.map((c) => [c.name, c]));
  }

  /** A reload: scores and cooldowns follow `next` from now on; an action on a removed check can no longer be judged. */
  replaceChecks(next: readonly CheckConfig[]): void {
    this.byName = new Map(next.map((c) => [c.name, c]));
    for (const [check, watches] of this.watching) {
      if (this.byName.has(check)) continue;
      for (const w of watches) this.score(w.actionId, 0, 'outcome unknown: its check was removed from the configuration');
      this.watching.delete(check);
    }
  }

  /** Scores what was left unscored by the previous run: escalations at once, older heals as unknown, recent ones watched. */
  start(): void {
    const now = this.options.clock.now();
    for (const action of this.options.store.unscored()) {
      // An agent's action about no check waits for the agent's own score (POST /events/<id>/score).
      if (action.category.startsWith('agent:') && !this.byName.has(action.target)) continue;
      const cooldown = this.byName.get(action.target)?.cooldownMs ?? 300_000;
      if (action.category === 'escalate') this.score(action.id, -2, 'it had to be escalated to the operator');
      else if (now - action.at > cooldown) this.score(action.id, 0, 'outcome unknown: Nightshift was not watching when it would have shown');
      else this.watch(action.target, { actionId: action.id, category: action.category, at: action.at, okRuns: 0 });
    }
  }

  /** A new action was recorded. */
  onAction(action: { id: number; at: number; category: string; target: string }): void {
    if (action.category === 'escalate') this.score(action.id, -2, 'it had to be escalated to the operator');
    else this.watch(action.target, { actionId: action.id, category: action.category, at: action.at, okRuns: 0 });
  }

  /** Every patrol result of a check judges the actions taken for it. */
  onResult({ check, result }: RunOutcome): void {
    const watches = this.watching.get(check.name);
    if (!watches?.length) return;
    const now = this.options.clock.now();
    const held = this.options.heldAfterPatrols ?? 3;
    const remaining: Watch[] = [];
    for (const w of watches) {
      if (now <= w.at) {
        remaining.push(w);
      } else if (!result.ok) {
        if (now - w.at <= check.cooldownMs) this.score(w.actionId, -1, `the failure came back ${Math.round((now - w.at) / 1000)}s later, within the cooldown`);
        else this.score(w.actionId, 0, 'the failure came back after the cooldown: outcome unclear');
      } else if (++w.okRuns >= held) {
        this.score(w.actionId, 1, `the failure stayed away for ${held} patrols`);
      } else {
        remaining.push(w);
      }
    }
    this.watching.set(check.name, remaining);
  }

  override(actionId: number, score: number, note: string | undefined, by: Identity): ScoreOutcome {
    const action = this.options.store.action(actionId);
    if (!action) return { kind: 'unknown-action' };
    for (const [check, watches] of this.watching)
      this.watching.set(
        check,
        watches.filter((w) => w.actionId !== actionId),
      );
    this.score(actionId, score, `set by ${describeIdentity(by)} on ${by.channel}${note ? `: ${note}` : ''}`);
    return { kind: 'scored', action: { id: action.id, category: action.category, target: action.target }, score };
  }

  /** Scores an action whose outcome is known at once (a repair: verified and kept, or rolled back). */
  scoreAction(actionId: number, score: number, note: string): void {
    this.score(actionId, score, note);
  }

  /** The active flag on a category of action (or on that category for one target), described; null when there is none. */
  flagFor(category: string, target: string): string | null {
    const flag = this.options.store.activeFlags().find((f) => f.category === category && (f.kind === 'category' || f.target === target));
    return flag ? `regret flag #${flag.id} on ${describeFlag(flag)} (${flag.reason})` : null;
  }

  /** Why a heal of this check is skipped (its step's category or this action is flagged), or null. */
  flaggedReason(check: CheckConfig): string | null {
    const flags = this.options.store.activeFlags();
    for (const step of check.heal) {
      const flag = flags.find((f) => f.category === step.action && (f.kind === 'category' || f.target === check.name));
      if (flag) return `regret flag #${flag.id} on ${describeFlag(flag)} (${flag.reason}): skipped, escalating instead`;
    }
    return null;
  }

  clear(flagId: number, by: Identity): FlagRow | undefined {
    const who = describeIdentity(by);
    const flag = this.options.store.clear(flagId, who, this.options.clock.now());
    if (flag) this.options.events.append(this.options.clock.now(), 'regret.cleared', describeFlag(flag), 'info', { flagId, by: who, channel: by.channel });
    return flag;
  }

  categories(): CategoryScore[] {
    const flags = this.options.store.activeFlags();
    return this.options.store.categories().map((c) => ({
      category: c.category,
      count: c.count,
      average: c.average,
      trend: trend(c.recent),
      flags: flags.filter((f) => f.category === c.category),
    }));
  }

  flags(): FlagRow[] {
    return this.options.store.activeFlags();
  }

  private watch(check: string, watch: Watch): void {
    this.watching.set(check, [...(this.watching.get(check) ?? []), watch]);
  }

  private score(actionId: number, score: number, note: string): void {
    const { store, events, clock, db } = this.options;
    const now = clock.now();
    const action = store.action(actionId);
    if (!action) return;
    db.transaction(() => {
      store.setScore(actionId, score, now, note);
      events.append(now, 'regret.scored', action.target, 'info', { actionId, category: action.category, score, note });
    })();
    this.audit(action.category, action.target);
  }

  /** After every score: flag a category averaging below -0.4, and an action with 3 scores of -1 or worse (both counted since their last clear). */
  private audit(category: string, target: string): void {
    const { store, clock } = this.options;
    const now = clock.now();
    if (category === 'escalate') return;
    const since = store.lastCleared('category', category, '');
    const scores = store.lastScores(category, CATEGORY_WINDOW, since);
    const average = scores.reduce((a, b) => a + b, 0) / (scores.length || 1);
    if (scores.length >= CATEGORY_MIN_SCORES && average < CATEGORY_FLAG_BELOW) {
      this.raise(
        store.flag('category', category, '', `average ${signed(average)} over its last ${scores.length} scored actions (below ${CATEGORY_FLAG_BELOW})`, now),
      );
    }
    const bad = store.badScoresSince(category, target, store.lastCleared('action', category, target));
    if (bad >= ACTION_FLAG_AT) this.raise(store.flag('action', category, target, `${bad} scores of -1 or worse`, now));
  }

  private raise(flag: FlagRow | undefined): void {
    if (!flag) return;
    this.options.events.append(flag.flaggedAt, 'regret.flagged', describeFlag(flag), 'warning', {
      flagId: flag.id,
      kind: flag.kind,
      category: flag.category,
      target: flag.target,
      reason: flag.reason,
    });
    this.options.log.warn({ flag }, 'regret flag raised');
    const byAgent = flag.category.startsWith('agent:');
    this.options.notify({
      severity: 'warning',
      title: byAgent
        ? `Regret flag #${flag.id}: the agents' ${describeFlag(flag)} keeps making things worse (${flag.reason}); every report of it is now answered "flagged" so the agent can stop`
        : `Regret flag #${flag.id}: ${describeFlag(flag)} keeps making things worse (${flag.reason}); Nightshift stops doing it and escalates instead`,
      body: `/flags clear ${flag.id} when it is safe again`,
    });
  }
}

/** "every restart" (a category flag) or "restart of worker" (an action flag). */
export function describeFlag(flag: Pick<FlagRow, 'kind' | 'category' | 'target'>): string {
  return flag.kind === 'category' ? `every ${flag.category}` : `${flag.category} of ${flag.target}`;
}

/** "+0.50", "-1.25", "0.00". */
export function signed(n: number): string {
  return `${n > 0 ? '+' : ''}${n.toFixed(2)}`;
}

/** Better when the newest 5 scores (newest first) average 0.2 above the 5 before them, worse when 0.2 below. */
function trend(recent: number[]): CategoryScore['trend'] {
  if (recent.length < 4) return 'steady';
  const half = Math.min(5, Math.floor(recent.length / 2));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const diff = avg(recent.slice(0, half)) - avg(recent.slice(half, half * 2));
  return diff > 0.2 ? 'better' : diff < -0.2 ? 'worse' : 'steady';
}
