import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { describeExit, runCommand, type ExecResult } from '../../src/exec.js';
import { parseJlist } from '../../src/checks/pm2-list.js';

/** The pm2 CLI from devDependencies. */
export const PM2_BIN = fileURLToPath(new URL('../../node_modules/.bin/pm2', import.meta.url));

/** A real pm2 daemon of its own, in a temporary PM2_HOME. */
export interface Pm2Sandbox {
  /** The PM2_HOME to give the probe (`pm2Home`). */
  home: string;
  /** A folder for the apps' scripts. */
  appDir: string;
  /** Runs the pm2 CLI against this daemon; rejects when it exits non-zero. */
  pm2(...args: string[]): Promise<ExecResult>;
  /** Writes a script into appDir and `pm2 start`s it under `name` with extra pm2 flags. */
  startApp(name: string, source: string, flags?: string[]): Promise<void>;
  /** The pm2 jlist entry of an app (undefined when pm2 does not know it). */
  app(name: string): Promise<{ pid: number; status: string; restarts: number } | undefined>;
}

/**
 * Starts nothing by itself: the first pm2 command (the helper's or a probe's)
 * spawns the daemon in a fresh PM2_HOME. `pm2 kill` runs when the test ends,
 * stopping the daemon and every app it started. The home sits under /tmp with a short name because
 * pm2's unix sockets live in it (108-byte path limit).
 */
export function pm2Sandbox(t: TestContext): Pm2Sandbox {
  const home = mkdtempSync(join(tmpdir(), 'ns-pm2-'));
  const appDir = join(home, 'apps');
  const env = { ...process.env, PM2_HOME: home };
  const pm2 = async (...args: string[]) => {
    const result = await runCommand([PM2_BIN, ...args], { env, keepBytes: 4 * 1024 * 1024 });
    if (result.exitCode !== 0) throw new Error(`pm2 ${args.join(' ')}: ${describeExit(result)}\n${result.stderr}`);
    return result;
  };
  // One hook, in this order: removing the home first would make `pm2 kill` spawn a new daemon there.
  t.after(async () => {
    try {
      // The daemon writes pm2.pid when it starts, whoever spawned it (this helper or a probe's pm2 jlist).
      if (!existsSync(join(home, 'pm2.pid'))) return;
      const result = await runCommand([PM2_BIN, 'kill'], { env, signal: AbortSignal.timeout(15_000) });
      if (result.exitCode !== 0) throw new Error(`pm2 kill: ${describeExit(result)}\n${result.stderr}`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
  return {
    home,
    appDir,
    pm2,
    async startApp(name, source, flags = []) {
      mkdirSync(appDir, { recursive: true });
      const script = join(appDir, `${name}.cjs`);
      writeFileSync(script, source);
      await pm2('start', script, '--name', name, ...flags);
    },
    async app(name) {
      const entry = parseJlist((await pm2('jlist')).stdout)?.find((proc) => proc.name === name);
      return entry && { pid: entry.pid, status: entry.pm2_env.status, restarts: entry.pm2_env.restart_time };
    },
  };
}
