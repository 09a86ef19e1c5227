import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from '../helpers/temp.js';

/** Whether Debian's systemd-analyze is installed. */
export const haveAnalyze = !spawnSync('systemd-analyze', ['--version']).error;
export const NO_ANALYZE = 'systemd-analyze not found: run scripts/install-test-deps.sh';

/**
 * `systemd-analyze verify` on the files in `dir` (it adds their folder to the unit path, so the OnFailure= template
 * beside the main unit is found). Returns the output lines that name one of them: in a container it may also
 * complain about the machine, which is not the files' fault.
 */
export function verify(t: TestContext, dir: string, names: string[], scope: 'system' | 'user' = 'system'): { status: number | null; findings: string[] } {
  const runtime = tempDir(t, 'ns-runtime-');
  chmodSync(runtime, 0o700);
  const run = spawnSync('systemd-analyze', ['verify', ...(scope === 'user' ? ['--user'] : []), ...names.map((n) => join(dir, n))], {
    encoding: 'utf8',
    // A user manager needs a runtime directory, which a container's root has none of.
    env: { ...process.env, XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_COLOR: '0' },
    timeout: 15_000,
  });
  const lines = `${run.stdout}\n${run.stderr}`.split('\n').filter(Boolean);
  const ours = ['nightshift.service', 'nightshift-alert@', 'nightshift-alert.sh', 'nightshift.js', dir];
  return { status: run.status, findings: lines.filter((line) => ours.some((name) => line.includes(name))) };
}

/**
 * Verifies the two units in `unitDir` as written there, plus the instance OnFailure= starts
 * (nightshift-alert@nightshift.service, so that %i is filled in), from a copy: the folder is left as it is.
 */
export function verifyInstalled(t: TestContext, unitDir: string, scope: 'system' | 'user'): { status: number | null; findings: string[] } {
  const dir = tempDir(t, 'ns-verify-');
  for (const name of ['nightshift.service', 'nightshift-alert@.service']) copyFileSync(join(unitDir, name), join(dir, name));
  copyFileSync(join(unitDir, 'nightshift-alert@.service'), join(dir, 'nightshift-alert@nightshift.service'));
  return verify(t, dir, ['nightshift.service', 'nightshift-alert@nightshift.service'], scope);
}
