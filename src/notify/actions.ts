import type { AlertAction } from '../chat/channel.js';

/** Platform payload limits (Telegram callback_data is 64 bytes, with room for a prefix). */
const MAX_COMMAND_LENGTH = 48;

/**
 * The buttons of an alert that needs the operator: each runs a chat command
 * as the person who presses it, so the command's role and audit apply
 * (Silence, Heal now and Diagnose need the operator role, like /silence,
 * /heal and /diagnose). Silence 1h is `/silence <check> 1h`: the check keeps
 * running and recording, alerts, reminds and heals nobody for that hour, and
 * the silence is listed by /silences and ended by /unsilence. A button
 * whose command would not fit the platform's payload is left out.
 */
export function alertActions(incidentId: number, check: string, heals: boolean): AlertAction[] {
  const actions: AlertAction[] = [
    { label: 'Ack', command: `/ack ${incidentId}` },
    { label: 'Silence 1h', command: `/silence ${check} 1h` },
    ...(heals ? [{ label: 'Heal now', command: `/heal ${check}` }] : []),
    { label: 'Diagnose', command: `/diagnose ${check}` },
  ];
  return actions.filter((a) => a.command.length <= MAX_COMMAND_LENGTH);
}
