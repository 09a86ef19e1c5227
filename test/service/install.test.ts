import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { packageRoot } from '../../src/paths.js';
import { runInstallService } from '../../src/service/install.js';
import { fakeSystemd } from '../fakes/systemctl/state.js';
import { BIN } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { haveAnalyze, verifyInstalled } from './verify.js';

const TIMEOUT = { timeout: 20_000 };
const VALID = 'checks:\n  - name: root\n    kind: disk\n    path: ${DISK_PATH}\n';
const NTFY_ENV = 'NTFY_URL=http://127.0.0.1:1\nNTFY_TOPIC=alerts\n';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(): Writable & { text: string } {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      sink.text += chunk.toString('utf8');
      done();
    },
  }) as Writable & { text: string };
  sink.text = '';
  return sink;
}

/** Runs the real command in-process with its own terminal, folder and environment (the fake systemctl first on PATH). */
async function install(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Result> {
  const stdout = collector();
  const stderr = collector();
  const code = await runInstallService(args, { stdin: new PassThrough(), stdout, stderr, cwd, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** A Nightshift folder with a configuration that needs .env (DISK_PATH), and the environment of a shell there. */
function setUp(t: TestContext, options: { config?: string | null; dotEnv?: string } = {}) {
  const cwd = tempDir(t, 'ns-install-');
  if (options.config !== null) writeFileSync(join(cwd, 'nightshift.yml'), options.config ?? VALID);
  writeFileSync(join(cwd, '.env'), options.dotEnv ?? `DISK_PATH=/\n${NTFY_ENV}`);
  const systemd = fakeSystemd(t);
  const home = tempDir(t, 'ns-home-');
  const env: NodeJS.ProcessEnv = { PATH: `${dirname(systemd.bin)}:/usr/bin:/bin`, HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') };
  return { cwd, systemd, home, env, userDir: join(home, 'xdg', 'systemd', 'user') };
}

const filesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

test('--dry-run prints both units with this install paths and the commands, and writes and runs nothing', TIMEOUT, async (t) => {
  const { cwd, systemd, env } = setUp(t);
  const unitDir = join(cwd, 'etc-systemd');
  const result = await install(['--dry-run'], cwd, { ...env, NIGHTSHIFT_SYSTEMD_DIR: unitDir, SUDO_USER: 'alice' });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stdout.includes(`--- ${unitDir}/nightshift.service (would be written)\n`), result.stdout);
  assert.ok(result.stdout.includes(`--- ${unitDir}/nightshift-alert@.service (would be written)\n`));
  assert.ok(result.stdout.includes(`\nExecStart=${process.execPath} --max-semi-space-size=4 ${join(packageRoot, 'bin', 'nightshift.js')} start\n`));
  assert.ok(result.stdout.includes(`\nWorkingDirectory=${cwd}\n`));
  assert.ok(result.stdout.includes(`\nExecStart=/bin/sh ${join(packageRoot, 'deploy', 'nightshift-alert.sh')} %i\n`));
  assert.match(result.stdout, /\nUser=alice\n(.*\n)*WorkingDirectory=/);
  assert.match(result.stdout, /\nOnFailure=nightshift-alert@%N\.service\n/);
  assert.match(result.stdout, /\nWantedBy=multi-user\.target\n/);
  assert.match(
    result.stdout,
    /would run: systemctl daemon-reload\nwould run: systemctl enable --now nightshift\.service\ndry run: nothing was written or run\.\n$/,
  );
  assert.ok(!existsSync(unitDir));
  assert.deepEqual(systemd.calls(), []);
});

test('--user writes both units to $XDG_CONFIG_HOME/systemd/user, reloads and enables them, step by step', TIMEOUT, async (t) => {
  const { cwd, systemd, env, userDir } = setUp(t);
  const result = await install(['--user'], cwd, env);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(filesIn(userDir), ['nightshift-alert@.service', 'nightshift.service']);
  const unit = readFileSync(join(userDir, 'nightshift.service'), 'utf8');
  assert.doesNotMatch(unit, /^User=/m);
  assert.match(unit, /^WantedBy=default\.target$/m);
  assert.doesNotMatch(unit, /^(After|Wants)=network-online\.target$/m);
  assert.match(readFileSync(join(userDir, 'nightshift-alert@.service'), 'utf8'), / --user %i$/m);
  assert.deepEqual(systemd.calls(), [
    ['--user', 'daemon-reload'],
    ['--user', 'enable', '--now', 'nightshift.service'],
  ]);
  assert.equal(systemd.unit('nightshift.service', { user: true })?.enabled, true);
  assert.equal(systemd.unit('nightshift.service', { user: true })?.activeState, 'active');
  const steps = result.stdout.split('\n');
  assert.deepEqual(steps.slice(0, 4), [
    `writing ${userDir}/nightshift.service`,
    `writing ${userDir}/nightshift-alert@.service`,
    'systemctl --user daemon-reload',
    'systemctl --user enable --now nightshift.service',
  ]);
  assert.match(result.stdout, /journalctl --user -u nightshift -f/);
  assert.match(result.stdout, /systemctl --user reload nightshift/);
  if (!existsSync('/var/lib/systemd/linger')) assert.match(result.stdout, /sudo loginctl enable-linger \S+/);
  assert.equal(result.stderr, '');
  if (haveAnalyze) assert.deepEqual(verifyInstalled(t, userDir, 'user').findings, []);
  else t.diagnostic('systemd-analyze not found: the written units were not verified (run scripts/install-test-deps.sh)');

  // Again: the same files are left alone, and enabling again is harmless.
  const again = await install(['--user'], cwd, env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^unchanged ${userDir}/nightshift\\.service\\nunchanged ${userDir}/nightshift-alert@\\.service\\n`));
});

test('a system unit (as root) runs as the sudo user and uses the system manager', TIMEOUT, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root: the system unit is written only by root');
  const { cwd, systemd, env } = setUp(t);
  const unitDir = join(cwd, 'etc-systemd');
  const result = await install([], cwd, { ...env, NIGHTSHIFT_SYSTEMD_DIR: unitDir, SUDO_USER: 'alice' });
  assert.equal(result.code, 0, result.stderr);
  assert.match(readFileSync(join(unitDir, 'nightshift.service'), 'utf8'), /^User=alice$/m);
  assert.match(readFileSync(join(unitDir, 'nightshift-alert@.service'), 'utf8'), /^User=alice$/m);
  assert.deepEqual(systemd.calls(), [['daemon-reload'], ['enable', '--now', 'nightshift.service']]);
  assert.match(result.stdout, /\nsystemctl daemon-reload\nsystemctl enable --now nightshift\.service\n/);
  if (haveAnalyze) assert.deepEqual(verifyInstalled(t, unitDir, 'system').findings, []);
  else t.diagnostic('systemd-analyze not found: the written units were not verified (run scripts/install-test-deps.sh)');
});

test('an invalid or missing configuration refuses with exit 2 and writes nothing', TIMEOUT, async (t) => {
  const { cwd, systemd, env, userDir } = setUp(t, { config: 'checks:\n  - name: root\n    kind: nope\n' });
  const invalid = await install(['--user'], cwd, env);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /checks\[0\]\.kind/);
  assert.match(invalid.stderr, /nothing was written/);

  // ${DISK_PATH} comes from .env: without it the file is invalid, as `nightshift start` would find it.
  const noDotEnv = setUp(t, { dotEnv: NTFY_ENV });
  const unset = await install(['--user'], noDotEnv.cwd, noDotEnv.env);
  assert.equal(unset.code, 2);
  assert.match(unset.stderr, /DISK_PATH/);

  const missing = setUp(t, { config: null });
  const none = await install(['--user', '--dry-run'], missing.cwd, missing.env);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no configuration at .*nightshift\.yml; nothing was written/);
  assert.match(none.stderr, /Run `nightshift init` in /);

  for (const run of [invalid, unset, none]) assert.equal(run.stdout, '');
  assert.deepEqual(filesIn(userDir), []);
  assert.deepEqual(filesIn(noDotEnv.userDir), []);
  assert.deepEqual([...systemd.calls(), ...noDotEnv.systemd.calls(), ...missing.systemd.calls()], []);
});

test('an existing unit with other content is refused with a diff, and replaced only with --force', TIMEOUT, async (t) => {
  const { cwd, systemd, env, userDir } = setUp(t);
  mkdirSync(userDir, { recursive: true });
  const edited = '[Service]\nExecStart=/usr/bin/node /somewhere/else/bin/nightshift.js start\nRestart=always\n';
  writeFileSync(join(userDir, 'nightshift.service'), edited);

  const refused = await install(['--user'], cwd, env);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /nightshift\.service exists with other content \(- there now, \+ install-service's\):\n/);
  assert.match(refused.stdout, /\n {2}-ExecStart=\/usr\/bin\/node \/somewhere\/else\/bin\/nightshift\.js start\n/);
  assert.ok(refused.stdout.includes(`\n  +ExecStart=${process.execPath} --max-semi-space-size=4`));
  // Lines both have are not listed.
  assert.doesNotMatch(refused.stdout, /[-+]Restart=always/);
  assert.match(refused.stderr, /refusing to overwrite .*nightshift\.service: nothing was written\. --force replaces it\./);
  assert.equal(readFileSync(join(userDir, 'nightshift.service'), 'utf8'), edited);
  assert.deepEqual(filesIn(userDir), ['nightshift.service']);
  assert.deepEqual(systemd.calls(), []);

  const forced = await install(['--user', '--force'], cwd, env);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(readFileSync(join(userDir, 'nightshift.service'), 'utf8'), /^OnFailure=nightshift-alert@%N\.service$/m);
  assert.match(forced.stdout, /The unit changed: if Nightshift was already running, `systemctl --user restart nightshift`/);
  assert.equal(systemd.calls().length, 2);
});

test('unknown arguments print the usage, exit 2 and write nothing', TIMEOUT, async (t) => {
  const { cwd, systemd, env, userDir } = setUp(t);
  for (const args of [['--usr'], ['--user', 'now'], ['-f']]) {
    const result = await install(args, cwd, env);
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, new RegExp(`^nightshift install-service: unknown argument: ${args.at(-1)}\\n\\nUsage: nightshift install-service`));
    assert.equal(result.stdout, '');
  }
  const help = await install(['--help'], cwd, env);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--force {4}replace unit files/);
  assert.deepEqual(filesIn(userDir), []);
  assert.deepEqual(systemd.calls(), []);
});

test('without .env ntfy settings it installs and warns that the alert cannot page', TIMEOUT, async (t) => {
  const { cwd, env, userDir } = setUp(t, { dotEnv: 'DISK_PATH=/\n' });
  // Set in the shell only: the alert unit will not see them.
  const result = await install(['--user'], cwd, { ...env, NTFY_URL: 'http://127.0.0.1:1', NTFY_TOPIC: 'alerts' });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /warning: NTFY_URL and NTFY_TOPIC are not both set in .*\.env: the alert unit reads only that file/);
  assert.equal(filesIn(userDir).length, 2);
});

test('the real CLI, not root, refuses a system unit with a clear line and suggests sudo or --user', TIMEOUT, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run the CLI as another user (nobody) through setpriv');
  if (spawnSync('setpriv', ['--version']).error) return t.skip('setpriv not found: run scripts/install-test-deps.sh');
  if (!existsSync(join(packageRoot, 'dist', 'src', 'service', 'install.js'))) return t.skip('dist not built: npx tsc -p tsconfig.build.json');
  const { cwd, systemd, env } = setUp(t);
  chmodSync(cwd, 0o755);
  const unitDir = join(cwd, 'etc-systemd');
  const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'install-service'], {
    cwd,
    env: { ...env, NIGHTSHIFT_SYSTEMD_DIR: unitDir },
    encoding: 'utf8',
    timeout: 15_000,
  });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /^nightshift install-service: writing .* and enabling a system unit needs root; nothing was written\.\n/);
  assert.match(run.stderr, /\n {2}sudo .*nightshift\.js install-service\n/);
  assert.match(run.stderr, /\n {2}nightshift install-service --user\n/);
  assert.ok(!existsSync(unitDir));
  assert.deepEqual(systemd.calls(), []);
});
