import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { keepOutput } from '../fakes/artefacts.js';

export const BIN = join(packageRoot, 'bin', 'nightshift.js');

/** Environment for a child bot: no inherited tokens or config, ephemeral HTTP port, its own data dir. */
export function botEnv(cwd: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TZ: 'UTC',
    NIGHTSHIFT_HTTP: '127.0.0.1:0',
    NIGHTSHIFT_DATA_DIR: join(cwd, 'data'),
  };
  return { ...env, ...extra };
}

/** A running `nightshift` child with its output collected as it arrives. */
export class BotProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' }) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env, stdio: [options.stdin ?? 'pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.child.on('close', () => keepOutput(`nightshift-${args[0] ?? ''}`, this.stdout + this.stderr));
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  }

  /** Resolves with the first match of `pattern` in stdout (or stderr), waiting as output arrives. */
  async waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.match(pattern) ?? this.stderr.match(pattern);
      if (match) return match;
      // A child killed by a signal has exitCode null and signalCode set: it is gone all the same.
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > deadline) {
        const how = this.child.signalCode ?? this.child.exitCode;
        throw new Error(`no output matching ${pattern} (exit ${how})\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      }
      // One round of listeners per wait, removed afterwards (a long wait must not pile them up).
      const round = new AbortController();
      const settle = (p: Promise<unknown>) => p.catch(() => undefined);
      await Promise.race([
        settle(once(this.child.stdout!, 'data', { signal: round.signal })),
        settle(once(this.child.stderr!, 'data', { signal: round.signal })),
        settle(once(this.child, 'exit', { signal: round.signal })),
        new Promise((r) => setTimeout(r, 200)),
      ]);
      round.abort();
    }
  }

  /** Waits for the "nightshift started" log line and returns the bound HTTP address. */
  async started(): Promise<string> {
    const match = await this.waitForOutput(/"http":"([^"]+)"[^\n]*"msg":"nightshift started"/);
    return match[1]!;
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Starts a bot and makes sure it is gone when the test ends. */
export function startBot(t: TestContext, cwd: string, env: NodeJS.ProcessEnv, args = ['start'], stdin: 'pipe' | 'ignore' = 'pipe'): BotProcess {
  const bot = new BotProcess(args, { cwd, env, stdin });
  t.after(async () => {
    if (bot.child.exitCode === null && bot.child.signalCode === null) {
      bot.kill('SIGKILL');
      await bot.exit();
    }
  });
  return bot;
}

/** Runs the CLI to completion. */
export function runCli(args: string[], cwd: string, env: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: 'utf8', timeout: 30_000 });
  keepOutput(`nightshift-${args[0] ?? ''}`, `${result.stdout ?? ''}${result.stderr ?? ''}`);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
