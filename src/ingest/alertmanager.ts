import type { OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { AlertmanagerPayload } from '../http/ingest.js';
import type { IngestReply } from '../http/server.js';
import type { Logger } from '../log/logger.js';
import type { AlertStore } from '../store/alerts.js';
import type { EventLog } from '../store/events.js';

export interface AlertReceiverOptions {
  alerts: AlertStore;
  events: EventLog;
  clock: Clock;
  log: Logger;
  /** Said once per delivery whose firing alerts no `alert` check takes: nothing Alertmanager sends goes unseen. */
  notify: (message: OutgoingMessage) => void;
}

/** How many unmatched alert names a notice lists. */
const LISTED = 5;

/**
 * Alertmanager's webhook (POST /alertmanager): each delivery is one group.
 * Its alerts are stored (firing until Alertmanager says resolved, across
 * restarts) and the `alert` checks they concern run at once; their failures
 * open and close incidents like any check's. Firing alerts that no check
 * takes are said on chat rather than dropped.
 */
export class AlertReceiver {
  constructor(private readonly options: AlertReceiverOptions) {}

  receive(payload: AlertmanagerPayload): IngestReply {
    const { alerts, events, clock, log } = this.options;
    const at = clock.now();
    alerts.receive(payload.groupKey, payload.alerts, at);
    const firing = payload.alerts.filter((a) => a.status === 'firing');
    const unmatched = [...new Set(firing.filter((a) => !alerts.isWanted(a.labels)).map((a) => a.labels.alertname ?? '(no alertname)'))];
    events.append(at, 'alert.received', 'alertmanager', unmatched.length > 0 ? 'warning' : 'info', {
      groupKey: payload.groupKey,
      status: payload.status,
      receiver: payload.receiver,
      firing: firing.length,
      resolved: payload.alerts.length - firing.length,
      truncated: payload.truncatedAlerts,
      unmatched,
    });
    log.info({ groupKey: payload.groupKey, status: payload.status, alerts: payload.alerts.length, unmatched: unmatched.length }, 'alertmanager delivery');
    if (unmatched.length > 0) {
      const names = unmatched.length > LISTED ? `${unmatched.slice(0, LISTED).join(', ')} and ${unmatched.length - LISTED} more` : unmatched.join(', ');
      this.options.notify({
        severity: 'warning',
        title: `Alertmanager sent firing alerts no check takes: ${names}`,
        body: `add an alert check (kind: alert, match: {alertname: ${unmatched[0]}}) or one with unmatched: true; group ${payload.groupKey}`,
      });
    }
    return { status: 200, body: { received: payload.alerts.length, unmatched } };
  }
}
