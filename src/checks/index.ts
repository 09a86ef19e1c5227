import type { AnyCheckKind, CheckEnvironment, CheckKind, Probe } from './types.js';
import { diskCheck } from './disk.js';
import { memoryCheck } from './memory.js';
import { selfCheck } from './self.js';
import { heartbeatCheck } from './heartbeat.js';
import { processCheck } from './process.js';
import { pm2Check } from './pm2.js';
import { systemdCheck } from './systemd.js';
import { httpCheck } from './http.js';
import { tcpCheck } from './tcp.js';
import { fileCheck } from './file.js';
import { logCheck } from './log.js';
import { lockfileCheck } from './lockfile.js';
import { commandCheck } from './command.js';
import { ollamaCheck } from './ollama.js';
import { alertCheck } from './alert.js';
import { queueCheck } from './queue.js';
import { budgetCheck } from './budget.js';
import { rateCheck } from './rate.js';
import { scriptsCheck } from './scripts.js';
import { driftCheck } from './drift.js';
import { eventStormCheck } from './event-storm.js';
import { dockerCheck } from './docker.js';
import { tlsCheck } from './tls.js';

/**
 * Every check kind, by name. Adding a kind means one module and one line
 * here; the patrol engine never branches on kind.
 */
export const checkKinds = {
  disk: diskCheck,
  memory: memoryCheck,
  self: selfCheck,
  heartbeat: heartbeatCheck,
  process: processCheck,
  pm2: pm2Check,
  systemd: systemdCheck,
  http: httpCheck,
  tcp: tcpCheck,
  file: fileCheck,
  log: logCheck,
  lockfile: lockfileCheck,
  command: commandCheck,
  ollama: ollamaCheck,
  alert: alertCheck,
  queue: queueCheck,
  budget: budgetCheck,
  rate: rateCheck,
  scripts: scriptsCheck,
  drift: driftCheck,
  'event-storm': eventStormCheck,
  docker: dockerCheck,
  tls: tlsCheck,
} satisfies Record<string, AnyCheckKind>;

export type CheckKindName = keyof typeof checkKinds;

export const checkKindNames = Object.keys(checkKinds) as CheckKindName[];

/** Binds a kind to its (already validated) parameters, parsing them once more so the probe gets its own typed values. */
export function createProbe(kindName: CheckKindName, params: unknown, env: CheckEnvironment): Probe {
  const kind = checkKinds[kindName] as CheckKind<unknown>;
  return kind.create(kind.params.parse(params), env);
}

/** Whether failures of a kind are symptoms by its own declaration; unknown kinds (renamed, removed) can be causes. */
export function isSymptomKind(kindName: string): boolean {
  const kinds: Readonly<Record<string, AnyCheckKind | undefined>> = checkKinds;
  return (Object.hasOwn(kinds, kindName) ? kinds[kindName]?.causalRole : undefined) === 'symptom';
}
