import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ChangeWatcher, type ChangeWatcherOptions } from '../../src/changes/watcher.js';
import { ManualClock, systemClock, type Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { KeyValueStore } from '../../src/store/kv.js';
import { tempDir } from '../helpers/temp.js';

/** A configuration as the bot parses it (TZ fixed, data in `cwd`). */
export function watchConfig(yaml: string, cwd: string, env: Record<string, string> = {}): Config {
  return parseConfig(yaml, 'test.yml', { TZ: 'UTC', NIGHTSHIFT_HTTP: '127.0.0.1:0', ...env }, cwd);
}

/**
 * A real database and event log in a temp folder, and a way to start a
 * ChangeWatcher on it the way the engine does. Each `run()` is one run of
 * Nightshift: a new watcher on the same database, so what changed between
 * two runs is seen as changed while down.
 */
export function changeStore(t: TestContext, options: { clock?: Clock } = {}) {
  const dataDir = tempDir(t, 'nightshift-changes-');
  const db: Db = openDatabase(join(dataDir, 'nightshift.db'));
  t.after(() => db.close());
  const redactor = new Redactor();
  const { logger, lines } = createCapturedLogger(redactor);
  const events = new EventLog(db, redactor);
  const kv = new KeyValueStore(db);
  const clock = options.clock ?? systemClock;
  const run = (config: Config, extra: Partial<ChangeWatcherOptions> = {}) => {
    const watcher = new ChangeWatcher({ config, db, events, kv, clock, log: logger, env: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin' }), ...extra });
    t.after(() => watcher.stop());
    return watcher;
  };
  return {
    db,
    events,
    kv,
    lines,
    run,
    /** Every `change` event stored, oldest first. */
    changes: () => events.ofType('change'),
    /** Every row of the events table as text: what a leak would be found in. */
    eventsText: () => JSON.stringify(db.prepare('SELECT * FROM events').all()),
    /** Log lines at warn or above. */
    warnings: () => lines().filter((l) => typeof l.level === 'number' && l.level >= 40),
  };
}

/** A clock an hour behind the real one, on a whole second: git writes reflog times in whole seconds of the real clock's era. */
export function pastClock(): ManualClock {
  return new ManualClock(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
}

/** git's environment with author and committer (and so the reflog entry) at `atMs`. */
export function gitEnvAt(atMs: number): NodeJS.ProcessEnv {
  const date = `${Math.floor(atMs / 1000)} +0000`;
  return {
    ...process.env,
    GIT_AUTHOR_NAME: 'Dev',
    GIT_AUTHOR_EMAIL: 'dev@example.com',
    GIT_COMMITTER_NAME: 'Dev',
    GIT_COMMITTER_EMAIL: 'dev@example.com',
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
  };
}

/** A commit made at `atMs`; its full sha. */
export function commitAt(dir: string, message: string, atMs: number, file = 'change.txt'): string {
  const env = gitEnvAt(atMs);
  appendFileSync(join(dir, file), `${message}\n`);
  execFileSync('git', ['add', file], { cwd: dir, env });
  execFileSync('git', ['commit', '-q', '-m', message], { cwd: dir, env });
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
}

/** A TCP server on 127.0.0.1 that accepts and never answers (an Ollama stuck in its start-up); its URL. */
export async function silentServer(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
