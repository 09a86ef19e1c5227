import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { tempDir } from '../../helpers/temp.js';

/** The stand-in systemctl executable (it needs FAKE_SYSTEMD_DIR; use `fakeSystemd(t).bin`, which sets it). */
export const FAKE_SYSTEMCTL = fileURLToPath(new URL('./systemctl', import.meta.url));

/** One loaded unit as the stand-in keeps it; times are ms since epoch, null or absent when unset. */
export interface FakeUnitState {
  activeState: 'active' | 'reloading' | 'inactive' | 'failed' | 'activating' | 'deactivating';
  /** running, exited, failed, dead, auto-restart (services); waiting, running, elapsed, dead (timers). */
  subState: string;
  /** success, exit-code, signal, core-dump, timeout, start-limit-hit... */
  result?: string;
  nRestarts?: number;
  mainPid?: number;
  /** 0 none, 1 exited, 2 killed, 3 dumped. */
  execMainCode?: number;
  execMainStatus?: number;
  activeEnterTimestamp?: number | null;
  /** ActiveEnterTimestampMonotonic in µs of CLOCK_MONOTONIC; 0 or absent when unset. `restart` sets it. */
  activeEnterMonotonic?: number;
  /** Timers: NextElapseUSecRealtime and LastTriggerUSec; `unit` is the unit the timer starts. */
  nextElapse?: number | null;
  lastTrigger?: number | null;
  unit?: string;
  /** `show -p FragmentPath`: where the unit file is (/etc/systemd/system/x.service is the operator's, /lib/systemd/... a vendor's). */
  fragmentPath?: string;
  /** What `list-unit-files` says of its file: enabled (the default), disabled, static... */
  unitFileState?: string;
  /** Makes `restart` fail like a start job whose process exits with this status. */
  restartFails?: { exitStatus?: number };
  /**
   * Makes the service end `afterMs` after each start (a port taken, a bad config): failed with `exitStatus`, or with
   * `autoRestart` (Restart=always) started again by systemd under a new MainPID, NRestarts+1.
   */
  crashesAfterStart?: { afterMs: number; exitStatus?: number; autoRestart?: boolean };
  /** Written by the stand-in: when the next crash of a `crashesAfterStart` unit is due (ms since epoch). */
  crashAt?: number | null;
  /** Written by the stand-in: how many times `restart` was called for this unit. */
  restartCalls?: number;
  /** Written by the stand-in: `enable` was called for this unit. */
  enabled?: boolean;
}

/** A stand-in systemd for one test: a state folder and a `systemctl` bound to it. */
export interface FakeSystemd {
  /** Path of a `systemctl` executable that reads and changes this test's state (give it as systemctlBin). */
  bin: string;
  dir: string;
  /** Loads (or replaces) a unit; `user` puts it in the --user manager. */
  setUnit(unit: string, state: FakeUnitState, options?: { user?: boolean }): void;
  /** Changes some fields of a loaded unit (a crash, an automatic restart). */
  updateUnit(unit: string, change: Partial<FakeUnitState>, options?: { user?: boolean }): void;
  unit(unit: string, options?: { user?: boolean }): FakeUnitState | undefined;
  /** The argv of every systemctl call so far, oldest first. */
  calls(): string[][];
}

/** Creates the state folder and a `systemctl` wrapper that points the stand-in at it. */
export function fakeSystemd(t: TestContext): FakeSystemd {
  const dir = tempDir(t, 'fake-systemd-');
  for (const scope of ['system', 'user']) mkdirSync(join(dir, scope));
  mkdirSync(join(dir, 'bin'));
  const bin = join(dir, 'bin', 'systemctl');
  writeFileSync(bin, `#!/bin/sh\nFAKE_SYSTEMD_DIR='${dir}' exec '${FAKE_SYSTEMCTL}' "$@"\n`);
  chmodSync(bin, 0o755);
  const file = (unit: string, user?: boolean) => join(dir, user ? 'user' : 'system', `${unit}.json`);
  const read = (unit: string, user?: boolean): FakeUnitState | undefined =>
    existsSync(file(unit, user)) ? (JSON.parse(readFileSync(file(unit, user), 'utf8')) as FakeUnitState) : undefined;
  return {
    bin,
    dir,
    setUnit: (unit, state, options = {}) => writeFileSync(file(unit, options.user), JSON.stringify(state, null, 2)),
    updateUnit(unit, change, options = {}) {
      const current = read(unit, options.user);
      if (!current) throw new Error(`fake systemd: ${unit} is not loaded`);
      writeFileSync(file(unit, options.user), JSON.stringify({ ...current, ...change }, null, 2));
    },
    unit: (unit, options = {}) => read(unit, options.user),
    calls: () => readCalls(join(dir, 'calls.jsonl')),
  };
}

/** The argv of every call a stand-in logged to `log` (one JSON array a line), oldest first; none when it was never called. */
export function readCalls(log: string): string[][] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as string[]);
}
