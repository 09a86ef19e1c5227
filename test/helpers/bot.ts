import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { TestContext } from 'node:test';
import { App } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { keepOnTestEnd } from '../fakes/artefacts.js';
import { waitFor } from './temp.js';

/**
 * A real bot in this process: real store, patrol, children and adapters,
 * driven through its console (the command path every chat adapter uses),
 * with a second connection to its database to read what it committed.
 * `env` must name NIGHTSHIFT_DATA_DIR.
 */
export async function startInProcess(t: TestContext, options: { yaml: string; env: Record<string, string>; clock?: Clock }) {
  const dataDir = options.env.NIGHTSHIFT_DATA_DIR!;
  const config = parseConfig(options.yaml, 'test.yml', { NIGHTSHIFT_HTTP: '127.0.0.1:0', TZ: 'UTC', ...options.env }, dataDir);
  const redactor = new Redactor(Object.values(config.secrets));
  const { logger, lines } = createCapturedLogger(redactor);
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let output = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  const app = new App({ config, log: logger, redactor, stdin, stdout, ...(options.clock ? { clock: options.clock } : {}) });
  const { http } = await app.start();
  t.after(() => app.stop());
  keepOnTestEnd(t, 'in-process-bot', () => [...lines(), output]);
  const db = openDatabase(join(dataDir, 'nightshift.db'));
  t.after(() => db.close());
  /** Types a line on the console and returns what was printed from then until `expect` matched. */
  const run = async (line: string, expect: RegExp, timeoutMs = 15_000): Promise<string> => {
    const mark = output.length;
    stdin.write(`${line}\n`);
    await waitFor(() => expect.test(output.slice(mark)), { timeoutMs, what: `the answer to ${line}` });
    return output.slice(mark);
  };
  return { app, http, db, events: new EventLog(db), lines, stdin, run, output: () => output };
}
