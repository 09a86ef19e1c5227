import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const WORKER = fileURLToPath(new URL('./sqlite-worker.mjs', import.meta.url));

/** A real worker process holding its own WAL-mode connection to a task database (see sqlite-worker.mjs). */
export interface SqliteWorker {
  /** Runs one statement in the worker; resolves with the rows it changed. */
  exec(sql: string, ...params: unknown[]): Promise<number>;
  /** Makes the worker take the write lock for `ms`; resolves once it holds it, `released` once it let go. */
  hold(ms: number): Promise<{ released: Promise<void> }>;
  journalMode: string;
}

export async function startSqliteWorker(t: TestContext, dbPath: string): Promise<SqliteWorker> {
  const child = spawn(process.execPath, [WORKER, dbPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    const exited = once(child, 'exit');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  });
  const replies: Array<(line: Record<string, unknown>) => void> = [];
  createInterface({ input: child.stdout }).on('line', (line) => replies.shift()?.(JSON.parse(line) as Record<string, unknown>));
  const next = () => new Promise<Record<string, unknown>>((resolve) => replies.push(resolve));
  const send = (command: unknown) => child.stdin.write(`${JSON.stringify(command)}\n`);
  const hello = await next();
  const checked = (reply: Record<string, unknown>) => {
    if (typeof reply.error === 'string') throw new Error(`worker: ${reply.error}`);
    return reply;
  };
  return {
    journalMode: String(hello.journalMode),
    async exec(sql, ...params) {
      const reply = next();
      send({ op: 'exec', sql, params });
      return Number(checked(await reply).changes);
    },
    async hold(ms) {
      const holding = next();
      const released = next();
      send({ op: 'hold', ms });
      checked(await holding);
      return { released: released.then(() => undefined) };
    },
  };
}
