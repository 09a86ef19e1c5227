import { isPlatformVariable } from '../chat/platforms/index.js';

/**
 * The environment for a command or supervised process Nightshift starts: the
 * bot's own environment without its channel settings and tokens (a supervised
 * agent has no business holding them; every chat platform's whole variable
 * family goes, see ChatPlatform.variablePrefix) nor its HTTP and ingest
 * tokens (an agent that reports to POST /events is given
 * NIGHTSHIFT_AGENT_TOKEN by its check's `env:`, on purpose), with the
 * check's variables over it. The config module is the one place that reads
 * process.env. NODE_TEST_CONTEXT goes too: set when Nightshift itself runs
 * under `node --test`, it would make a target's own `node --test` report to
 * a parent runner that is not there and run nothing.
 */
const WITHHELD = new Set(['NIGHTSHIFT_HTTP_TOKEN', 'NIGHTSHIFT_AGENT_TOKEN', 'NIGHTSHIFT_ALERTMANAGER_TOKEN', 'NODE_TEST_CONTEXT']);

export function childEnvironment(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !isPlatformVariable(name) && !WITHHELD.has(name)));
  return { ...inherited, ...extra };
}
