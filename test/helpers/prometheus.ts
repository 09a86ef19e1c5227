import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import { runCommand, type ExecResult } from '../../src/exec.js';
import { findOnPath } from '../../src/util/which.js';
import { closedPort } from './net.js';
import { waitFor } from './temp.js';

/** Where the real Prometheus tools are, as Debian installs them. */
export interface PrometheusTools {
  prometheus: string;
  promtool: string;
  alertmanager: string;
  amtool: string;
}

/** Each tool: the names it goes by on PATH (Debian renames alertmanager) and the Debian package that ships it. */
const TOOLS: Record<keyof PrometheusTools, { names: string[]; pkg: string }> = {
  prometheus: { names: ['prometheus'], pkg: 'prometheus' },
  promtool: { names: ['promtool'], pkg: 'prometheus' },
  alertmanager: { names: ['prometheus-alertmanager', 'alertmanager'], pkg: 'prometheus-alertmanager' },
  amtool: { names: ['amtool'], pkg: 'prometheus-alertmanager' },
};

/**
 * The installed tools, or null once the test is skipped with one line naming
 * the missing packages and the script that installs them.
 */
export function prometheusTools(
  t: TestContext,
  wanted: readonly (keyof PrometheusTools)[] = Object.keys(TOOLS) as (keyof PrometheusTools)[],
): PrometheusTools | null {
  const found: Partial<PrometheusTools> = {};
  const missing = new Set<string>();
  for (const tool of wanted) {
    const path = TOOLS[tool].names.map((name) => findOnPath(name, process.env.PATH)).find((p) => p !== undefined);
    if (path) found[tool] = path;
    else missing.add(TOOLS[tool].pkg);
  }
  if (missing.size > 0) {
    t.skip(`needs the Debian package ${[...missing].join(' and ')} (not on PATH): run bash scripts/install-test-deps.sh`);
    return null;
  }
  return found as PrometheusTools;
}

/** A Prometheus or Alertmanager of the test's own, on a free loopback port. */
export interface RunningServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Its folder: the configuration, files it reads, its storage. */
  dir: string;
  /** The tail of what it logged (for a failure's message). */
  logs(): string;
}

const KEEP_LOG_CHARS = 8_000;

/**
 * Starts a server binary on a port nothing listens on, in a fresh folder holding
 * `files` (the configuration and whatever it names), and waits for /-/ready.
 * Stopped (SIGTERM, then SIGKILL) and its folder removed when the test ends.
 * A port taken between the pick and the bind gets another try.
 */
async function startServer(
  t: TestContext,
  what: string,
  argsFor: (dir: string, listen: string) => string[],
  binary: string,
  files: Record<string, string>,
): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), `ns-${what}-`));
  let child: ChildProcess | undefined;
  // One hook, in this order: the folder goes only once nothing writes into it.
  t.after(async () => {
    try {
      if (child) await stop(child);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o600 });
  let lastFailure = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await closedPort();
    let log = '';
    let exited: string | undefined;
    const proc = spawn(binary, argsFor(dir, `127.0.0.1:${port}`), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const keep = (chunk: Buffer) => (log = (log + chunk.toString('utf8')).slice(-KEEP_LOG_CHARS));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.once('exit', (code, signal) => (exited = signal ? `killed by ${signal}` : `exited with code ${code}`));
    proc.once('error', (err) => (exited = `could not start: ${err.message}`));
    const url = `http://127.0.0.1:${port}`;
    const ready = await waitFor(
      async () => {
        if (exited) return 'exited';
        const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        return response.ok ? 'ready' : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: `${what} to answer ${url}/-/ready` },
    ).catch((err: Error) => `timeout: ${err.message}`);
    if (ready === 'ready') return { url, dir, logs: () => log };
    await stop(proc);
    lastFailure = `${what} ${exited ?? ready}; its log ends:\n${log.slice(-2_000)}`;
    if (!/address already in use/i.test(log)) break;
  }
  throw new Error(lastFailure);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A real Prometheus with `config` (an object, written as prometheus.yml) and the other files it reads (rules, tokens). */
export function startPrometheus(t: TestContext, tools: PrometheusTools, config: object, files: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(
    t,
    'prometheus',
    (dir, listen) => ['--config.file=prometheus.yml', `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${listen}`],
    tools.prometheus,
    { ...files, 'prometheus.yml': stringify(config) },
  );
}

/** A real Alertmanager with `config` (an object, written as alertmanager.yml), clustering off (no gossip port). */
export function startAlertmanager(t: TestContext, tools: PrometheusTools, config: object, files: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(
    t,
    'alertmanager',
    (dir, listen) => ['--config.file=alertmanager.yml', `--storage.path=${join(dir, 'data')}`, `--web.listen-address=${listen}`, '--cluster.listen-address='],
    tools.alertmanager,
    { ...files, 'alertmanager.yml': stringify(config) },
  );
}

/** One sample of an instant query's answer. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** An instant query through Prometheus's HTTP API; rejects when Prometheus reports an error. */
export async function promQuery(server: RunningServer, query: string): Promise<Sample[]> {
  const response = await fetch(`${server.url}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success' || body.data?.resultType !== 'vector') throw new Error(`query ${query}: ${body.error ?? body.status}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** GET a JSON document of a server's API (e.g. /api/v1/targets). */
export async function apiGet<T>(server: RunningServer, path: string): Promise<T> {
  const response = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** waitFor, with the tail of the server's log in the error when time runs out (the log of that moment, not of the start). */
export async function waitForServer<T>(
  server: RunningServer,
  condition: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what: string },
): Promise<NonNullable<T>> {
  try {
    return await waitFor(condition, options);
  } catch (err) {
    throw new Error(`${(err as Error).message}; its log ends:\n${server.logs().slice(-1_500)}`, { cause: err });
  }
}

/** Runs promtool or amtool (bounded to 20 s). */
export function runTool(binary: string, args: string[], cwd: string): Promise<ExecResult> {
  return runCommand([binary, ...args], { cwd, env: process.env, signal: AbortSignal.timeout(20_000) });
}
