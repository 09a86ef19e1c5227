// What the supervision benches (recovery, peers) share: the small HTTP service they kill and how they
// see it healthy again, the environment every supervisor and the floor get, sample statistics, and the
// real bot (`nightshift start`) as a child process with its database open read-only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packageRoot } from '../../src/paths.js';
import { botEnv } from '../../test/helpers/cli.js';
import { BenchBot } from './bot-process.js';

/** The service the benches kill: answers GET /health with its pid (bench/services/http-service.mjs <port>). */
export const HTTP_SERVICE = join(packageRoot, 'bench', 'services', 'http-service.mjs');

/**
 * The environment of the bot, of the floor's bare parent and of every peer supervisor alike, so their
 * children start under the same conditions: on this machine NODE_EXTRA_CA_CERTS alone adds ~40 ms to every Node start.
 */
export const BOT_ENV = { PATH: process.env.PATH, HOME: process.env.HOME, TZ: 'UTC' };

/** The pid answering /health on a port, or undefined while nothing answers (node:http: lighter than fetch in a 1 ms poll loop). */
export function healthPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 500 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as { pid: number }).pid : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

/** Polls until a pid other than `not` answers; returns it. */
export async function waitHealthy(port: number, not?: number, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const pid = await healthPid(port);
    if (pid !== undefined && pid !== not) return pid;
    if (performance.now() > deadline) throw new Error(`the service on port ${port} did not come back within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

export interface SampleStats {
  median: number;
  p95: number;
  min: number;
  max: number;
  n: number;
}

export function stats(samples: number[]): SampleStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (v: number) => Math.round(v * 10) / 10;
  return { median: round(at(0.5)), p95: round(at(0.95)), min: round(sorted[0]!), max: round(sorted.at(-1)!), n: sorted.length };
}

/**
 * Writes `yaml` to `<dir>/nightshift.yml` and starts `nightshift start` there (data in `<dir>/data`,
 * HTTP on an ephemeral loopback port: test/helpers/cli.ts `botEnv` plus `env`); resolves once it logged "nightshift started",
 * with its database open read-only.
 */
export async function startBot(dir: string, yaml: string, env: Record<string, string> = {}): Promise<{ bot: BenchBot; db: Database.Database }> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'nightshift.yml'), yaml);
  const { bot } = await BenchBot.start({ cwd: dir, env: botEnv(dir, env) });
  const db = new Database(join(dir, 'data', 'nightshift.db'), { readonly: true, fileMustExist: true });
  return { bot, db };
}
