import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { ALERT_UNIT, MAIN_UNIT, renderUnits, SHIPPED_EXAMPLE, type UnitParameters } from '../../src/service/units.js';
import { tempDir } from '../helpers/temp.js';
import { haveAnalyze, NO_ANALYZE, verify } from './verify.js';

const TIMEOUT = { timeout: 20_000 };
const DEPLOY = join(packageRoot, 'deploy');
const ALERT_SCRIPT = join(DEPLOY, 'nightshift-alert.sh');

function writeUnits(t: TestContext, parameters: UnitParameters): string {
  const dir = tempDir(t, 'ns-units-');
  for (const unit of renderUnits(parameters)) writeFileSync(join(dir, unit.name), unit.text);
  // The instance OnFailure= starts, so that verify loads the template with %i filled in too.
  copyFileSync(join(dir, ALERT_UNIT), join(dir, 'nightshift-alert@nightshift.service'));
  return dir;
}

const thisInstall = (scope: 'system' | 'user', workingDirectory: string): UnitParameters => ({
  scope,
  user: scope === 'system' ? 'alice' : undefined,
  workingDirectory,
  node: process.execPath,
  bin: join(packageRoot, 'bin', 'nightshift.js'),
  alertScript: ALERT_SCRIPT,
  journalGroup: true,
  header: ['test'],
});

test('the shipped units in deploy/ are exactly what the renderer makes for the /opt/nightshift layout', () => {
  for (const unit of renderUnits(SHIPPED_EXAMPLE)) {
    assert.equal(readFileSync(join(DEPLOY, unit.name), 'utf8'), unit.text, `deploy/${unit.name} differs from renderUnits(SHIPPED_EXAMPLE)`);
  }
  const main = readFileSync(join(DEPLOY, MAIN_UNIT), 'utf8');
  for (const line of [
    'Restart=always',
    'RestartPreventExitStatus=2',
    'StartLimitIntervalSec=600',
    'StartLimitBurst=5',
    'OnFailure=nightshift-alert@%N.service',
    'ExecReload=/bin/kill -HUP $MAINPID',
    'TimeoutStopSec=10',
    'KillMode=mixed',
  ])
    assert.ok(main.split('\n').includes(line), `${MAIN_UNIT} lacks ${line}`);
  // Debian 12 has systemd 252: nothing newer (RestartSteps= and RestartMaxDelaySec= are 254, RestartMode= 254).
  assert.doesNotMatch(main, /^(RestartSteps|RestartMaxDelaySec|RestartMode)=/m);
  assert.match(readFileSync(join(DEPLOY, ALERT_UNIT), 'utf8'), /^ExecStart=\/bin\/sh \/opt\/nightshift\/deploy\/nightshift-alert\.sh %i$/m);
});

test('systemd-analyze verify finds nothing to say about the shipped units', TIMEOUT, (t) => {
  if (!haveAnalyze) return t.skip(NO_ANALYZE);
  const dir = tempDir(t, 'ns-shipped-');
  for (const name of [MAIN_UNIT, ALERT_UNIT]) {
    let text = readFileSync(join(DEPLOY, name), 'utf8');
    // verify insists that ExecStart binaries exist; the shipped file names Debian's /usr/bin/node.
    if (!existsSync('/usr/bin/node')) text = text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
    writeFileSync(join(dir, name), text);
  }
  copyFileSync(join(dir, ALERT_UNIT), join(dir, 'nightshift-alert@nightshift.service'));
  const result = verify(t, dir, [MAIN_UNIT, ALERT_UNIT, 'nightshift-alert@nightshift.service']);
  assert.deepEqual(result.findings, []);
  assert.equal(result.status, 0);
});

test('systemd-analyze verify accepts the units rendered for this install, system and user', TIMEOUT, (t) => {
  if (!haveAnalyze) return t.skip(NO_ANALYZE);
  for (const scope of ['system', 'user'] as const) {
    // A folder with a blank and a % sign: both must survive the unit syntax.
    const cwd = join(tempDir(t, 'ns-cwd-'), 'my 100% stack');
    mkdirSync(cwd);
    const dir = writeUnits(t, thisInstall(scope, cwd));
    const main = readFileSync(join(dir, MAIN_UNIT), 'utf8');
    assert.match(main, /^WorkingDirectory=.*\/my 100%% stack$/m);
    const result = verify(t, dir, [MAIN_UNIT, 'nightshift-alert@nightshift.service'], scope);
    assert.deepEqual(result.findings, [], `${scope}: ${result.findings.join('\n')}`);
    assert.equal(result.status, 0, scope);
  }
});

test('the check above can fail: a broken unit is reported by name', TIMEOUT, (t) => {
  if (!haveAnalyze) return t.skip(NO_ANALYZE);
  const dir = writeUnits(t, { ...thisInstall('system', '/tmp'), node: '/nonexistent/node' });
  writeFileSync(join(dir, MAIN_UNIT), readFileSync(join(dir, MAIN_UNIT), 'utf8').replace('Restart=always', 'Restart=always\nRestartSteps=5'));
  const result = verify(t, dir, [MAIN_UNIT]);
  assert.ok(
    result.findings.some((line) => /Unknown key 'RestartSteps'/.test(line)),
    result.findings.join('\n'),
  );
  assert.ok(
    result.findings.some((line) => /\/nonexistent\/node/.test(line)),
    result.findings.join('\n'),
  );
});

test('the rendered alert unit runs the shipped script, which is valid POSIX sh', () => {
  const alert = renderUnits(thisInstall('system', '/srv/ns')).find((u) => u.name === ALERT_UNIT)!.text;
  const exec = /^ExecStart=\/bin\/sh (\S+) %i$/m.exec(alert);
  assert.ok(exec, alert);
  assert.equal(exec[1], ALERT_SCRIPT);
  assert.ok(existsSync(ALERT_SCRIPT));
  const syntax = spawnSync('sh', ['-n', ALERT_SCRIPT], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  assert.match(alert, /^User=alice$/m);
  assert.match(alert, /^SupplementaryGroups=systemd-journal$/m);
  assert.doesNotMatch(alert, /^OnFailure=/m);
});
