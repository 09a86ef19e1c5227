import type { TestContext } from 'node:test';
import type { Database } from 'better-sqlite3';
import { startInProcess } from '../helpers/bot.js';
import { canaryToken } from '../helpers/canary.js';
import { tempDir } from '../helpers/temp.js';
import { rawRequest } from './http-client.js';

export const AGENT_TOKEN = canaryToken('agent');
export const ALERTMANAGER_TOKEN = canaryToken('alertmanager');

/** A bot with both ingest routes on, a check an agent can name and an alert check taking every alert; `post` sends raw bytes. */
export async function botWithIngest(t: TestContext) {
  const env = { NIGHTSHIFT_DATA_DIR: tempDir(t), NIGHTSHIFT_AGENT_TOKEN: AGENT_TOKEN, NIGHTSHIFT_ALERTMANAGER_TOKEN: ALERTMANAGER_TOKEN };
  const yaml = 'checks:\n  - name: worker\n    kind: disk\n    path: /\n  - name: fleet\n    kind: alert\n    unmatched: true\n';
  const bot = await startInProcess(t, { yaml, env });
  const port = Number(bot.http.split(':').at(-1));
  const post = (path: string, body: string, token: string) =>
    rawRequest(port, {
      method: 'POST',
      path,
      headers: { host: '127.0.0.1', authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: Buffer.from(body),
    });
  return { bot, port, post };
}

/** A count(*) AS n query's answer. */
export const count = (db: Database, sql: string): number => (db.prepare(sql).get() as { n: number }).n;
