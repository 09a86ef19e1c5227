import type { AlertAction } from '../chat/channel.js';

/**
 * The buttons of an alert that needs the operator: each runs a chat command
 * as the person who presses it, so the command's role and audit apply
 * (Heal now and Diagnose need the operator role, like /heal and /diagnose).
 */
export function alertActions(incidentId: number, check: string, heals: boolean): AlertAction[] {
  return [
    { label: 'Ack', command: `/ack ${incidentId}` },
    { label: 'Silence 1h', command: `/silence #${incidentId} 1h` },
    ...(heals ? [{ label: 'Heal now', command: `/heal ${check}` }] : []),
    { label: 'Diagnose', command: `/diagnose ${check}` },
  ];
}
