import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import { join } from 'node:path';
import type { CheckConfig } from '../checks/types.js';
import type { Redactor } from '../log/redact.js';
import type { EventRow } from '../store/events.js';

/** The task file a human (or an agent) picks up when Nightshift stops healing. */
export interface EscalationTask {
  title: string;
  description: string;
  fix_hint: string;
  severity: 'critical' | 'warning';
  created_at: string;
  check: { name: string; kind: string; severity: string; heal: string[] };
  incident_id: number;
  reason: string;
  last_result: { message: string; details: Record<string, unknown> | null };
  recent_events: Array<{ at: string; type: string; severity: string; context: unknown }>;
}

/** YYYY-MM-DD of a time in a time zone: escalation files are one per check per local day. */
export function localDay(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** What to look at first, from the reason and the evidence the check left. */
export function fixHint(check: CheckConfig, reason: string, details: Record<string, unknown> | null): string {
  const hints: string[] = [];
  if (/restart loop/.test(reason))
    hints.push(
      'It crashes right after starting: read the last error lines below and its log; a restart cannot fix a bad config, a missing dependency or a code error.',
    );
  else if (/does not hold|maxHeals/.test(reason))
    hints.push(
      `The heal (${check.heal.map((s) => s.action).join(', ') || 'none'}) brings it back only briefly: look for the cause that returns (resource exhaustion, a bad input it keeps reading, a dependency that is down).`,
    );
  if (details?.stderrTail) hints.push('The process wrote to stderr just before failing (see last_result.details.stderrTail).');
  if (details?.httpStatus) hints.push(`It answered HTTP ${printable(details.httpStatus)}.`);
  if (details?.errorCode) hints.push(`The probe failed with ${printable(details.errorCode)}.`);
  hints.push(`When fixed, the incident closes by itself on the next healthy patrol of "${check.name}".`);
  return hints.join(' ');
}

/**
 * Writes the escalation task as JSON, atomically (temp file + rename), with
 * every string redacted. Returns the file's path.
 */
export function writeEscalationFile(dir: string, day: string, task: EscalationTask, redactor: Redactor): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${day}-${task.check.name}.json`);
  writeFileAtomic(file, `${JSON.stringify(redactor.redactValue(task), null, 2)}\n`);
  return file;
}

/** Events as they go into a task file. */
export function eventsForTask(events: EventRow[]): EscalationTask['recent_events'] {
  return events.map((e) => ({ at: new Date(e.at).toISOString(), type: e.type, severity: e.severity, context: e.context }));
}

/** A detail value as text: scalars as they are, anything else as JSON (never "[object Object]"). */
function printable(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}
