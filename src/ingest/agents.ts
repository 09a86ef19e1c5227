import type { Clock } from '../clock.js';
import type { AgentEvent } from '../http/ingest.js';
import type { AgentSink, IngestReply } from '../http/server.js';
import type { Logger } from '../log/logger.js';
import type { RegretIndex } from '../regret/regret.js';
import type { ActionStore } from '../store/actions.js';
import type { Db } from '../store/database.js';
import type { EventLog } from '../store/events.js';

/** Agents' actions are kept apart from Nightshift's own: a flag on an agent's category never stops one of Nightshift's heals. */
export const AGENT_CATEGORY_PREFIX = 'agent:';

export interface AgentReportsOptions {
  db: Db;
  events: EventLog;
  actions: ActionStore;
  regret: RegretIndex;
  clock: Clock;
  log: Logger;
  /** The configured checks' names: an action whose target is one is scored from that check's next patrols. */
  checks: ReadonlySet<string>;
}

/**
 * What agents report about themselves (POST /events). An action joins the
 * regret index like one of Nightshift's heals: scored from the check it
 * names (the failure stayed away, or came back within the cooldown), or by
 * the agent itself later (POST /events/<id>/score); the reply tells the
 * agent when its category or action is flagged, so it can stop doing it. An
 * error joins the event log, where the causal analysis names it when a
 * failure of what it concerns follows.
 */
export class AgentReports implements AgentSink {
  private checks: ReadonlySet<string>;

  constructor(private readonly options: AgentReportsOptions) {
    this.checks = options.checks;
  }

  /** A reload: actions are scored by the checks configured now. */
  replaceChecks(names: ReadonlySet<string>): void {
    this.checks = names;
  }

  report(event: AgentEvent): IngestReply {
    return event.type === 'action' ? this.action(event) : this.error(event);
  }

  score(actionId: number, verdict: { score: number; note?: string | undefined }): IngestReply {
    const { actions, regret } = this.options;
    const action = actions.get(actionId);
    // Only agents' own actions: their token must not rewrite the scores of Nightshift's heals.
    if (!action || !action.category.startsWith(AGENT_CATEGORY_PREFIX)) return { status: 404, body: { error: `no agent action #${actionId}` } };
    const agent = typeof action.details.agent === 'string' ? action.details.agent : 'agent';
    regret.override(actionId, verdict.score, verdict.note, { channel: 'http', userId: agent });
    return { status: 200, body: { id: actionId, score: verdict.score, flagged: regret.flagFor(action.category, action.target) } };
  }

  private action(event: AgentEvent): IngestReply {
    const { db, events, actions, regret, clock, log } = this.options;
    const { checks } = this;
    const at = clock.now();
    const category = `${AGENT_CATEGORY_PREFIX}${event.category}`;
    const scoredBy = checks.has(event.target) ? 'check' : 'agent';
    const actionId = db.transaction(() => {
      const id = actions.record({
        at,
        category,
        target: event.target,
        trigger: `agent ${event.agent}`,
        incidentId: null,
        result: 'ok',
        message: event.message,
        details: { agent: event.agent, severity: event.severity ?? 'info', context: event.context },
      });
      events.append(at, 'agent.action', event.target, event.severity ?? 'info', {
        actionId: id,
        agent: event.agent,
        category: event.category,
        message: event.message,
        context: event.context,
        scoredBy,
      });
      return id;
    })();
    // Watched like a heal: the check it names scores it from its next patrols.
    if (scoredBy === 'check') regret.onAction({ id: actionId, at, category, target: event.target });
    log.info({ agent: event.agent, category, target: event.target, actionId }, 'agent reported an action');
    return {
      status: 201,
      body: { id: actionId, type: 'action', scoredBy, score: `/events/${actionId}/score`, flagged: regret.flagFor(category, event.target) },
    };
  }

  private error(event: AgentEvent): IngestReply {
    const { events, clock, log } = this.options;
    const severity = event.severity ?? 'warning';
    const id = events.append(clock.now(), 'agent.error', event.target, severity, {
      agent: event.agent,
      category: event.category,
      message: event.message,
      context: event.context,
    });
    log.warn({ agent: event.agent, category: event.category, target: event.target, severity, eventId: id }, `agent error: ${event.message}`);
    return { status: 201, body: { id, type: 'error' } };
  }
}
