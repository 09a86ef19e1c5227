import type { SeededRandom } from './chaos-random.js';

/** One report posted to the bot, with the unique id that finds it in the database. */
export interface Posted {
  id: string;
  kind: 'alert' | 'agent';
  /** The bot answered 2xx: by Nightshift's data rules it was committed before that answer. */
  accepted: boolean;
}

export interface StormOptions {
  alertmanagerToken: string;
  agentToken: string;
  /** Labels an `alert` check of the config takes (its failures open incidents); the other alerts are unmatched (a chat notice each). */
  matchedAlertName: string;
  /** Pause between two posts. */
  everyMs: number;
  random: SeededRandom;
}

/** The alert name of an unmatched delivery: unique, so its chat notice has a title of its own. */
export const unmatchedAlertName = (n: number) => `ChaosUnmatched${n}`;

/**
 * An alert storm and agent reports, posted one after another to whichever
 * bot is up (POST /alertmanager, POST /events), each with a unique id: a
 * fresh Alertmanager group key per delivery, a `chaosId` in an agent
 * report's context. What the bot answered 2xx must be stored exactly once;
 * a post cut off by a kill was never acknowledged and counts for nothing.
 */
export class IngestStorm {
  readonly posted: Posted[] = [];
  private address: string | undefined;
  private serial = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: StormOptions) {}

  /** Where the bot listens now (undefined while it is down). */
  aimAt(address: string | undefined): void {
    this.address = address;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  get accepted(): Posted[] {
    return this.posted.filter((p) => p.accepted);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const address = this.address;
      if (address) await this.postOne(address);
      await new Promise((resolve) => setTimeout(resolve, this.options.everyMs));
    }
  }

  private async postOne(address: string): Promise<void> {
    const { random } = this.options;
    const n = ++this.serial;
    const isAlert = random.chance(0.6);
    const id = isAlert ? `chaos-group-${n}` : `chaos-event-${n}`;
    const [path, token, body] = isAlert
      ? ['/alertmanager', this.options.alertmanagerToken, this.alertDelivery(n, id)]
      : ['/events', this.options.agentToken, this.agentReport(id)];
    const record: Posted = { id, kind: isAlert ? 'alert' : 'agent', accepted: false };
    this.posted.push(record);
    try {
      const answer = await fetch(`http://${address}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
      await answer.arrayBuffer();
      record.accepted = answer.ok;
    } catch {
      // Refused or cut off by a kill: never acknowledged.
    }
  }

  /** One Alertmanager group: mostly alerts no check takes (a notice each), some for the `alert` check, firing or resolved. */
  private alertDelivery(n: number, groupKey: string) {
    const { random, matchedAlertName } = this.options;
    const matched = random.chance(0.3);
    const status = matched && random.chance(0.5) ? 'resolved' : 'firing';
    const alertname = matched ? matchedAlertName : unmatchedAlertName(n);
    return {
      version: '4',
      groupKey,
      status,
      receiver: 'nightshift',
      alerts: [
        {
          status,
          labels: { alertname, instance: `host-${n % 7}` },
          annotations: { summary: `chaos alert ${n}` },
          startsAt: new Date().toISOString(),
          fingerprint: matched ? `chaos-matched-${n % 7}` : `chaos-fp-${n}`,
        },
      ],
    };
  }

  private agentReport(chaosId: string) {
    const isAction = this.options.random.chance(0.5);
    return {
      type: isAction ? 'action' : 'error',
      category: isAction ? 'requeue-task' : 'llm-timeout',
      target: 'planner-queue',
      message: `chaos report ${chaosId}`,
      agent: 'chaos',
      context: { chaosId },
    };
  }
}
