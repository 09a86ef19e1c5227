import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, MAX_CONFIG_BYTES, parseConfig } from '../../src/config/load.js';
import { TIMER_LIMIT_MS } from '../../src/util/duration.js';
import { regexError } from '../../src/util/regex.js';
import { checkKindNames, checkKinds } from '../../src/checks/index.js';
import { healActions } from '../../src/heal/index.js';
import { globMatcher } from '../../src/heal/clean-files.js';
import { botEnv, runCli, startBot } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { configProblems } from '../helpers/config-problems.js';

// The end-to-end tests run the built CLI (dist/): `npm run build` first.

const TIMER_LIMIT = /expected at most 24d 20h \(Node's timer limit, 2147483647 ms\)/;

test('an invalid errorPattern is refused by check-config and start, naming the pattern and the engine message; nothing is created', (t) => {
  const cwd = tempDir(t);
  writeFileSync(
    join(cwd, 'nightshift.yml'),
    `checks:\n  - { name: a, kind: memory }\n  - { name: b, kind: memory }\n  - name: app-log\n    kind: log\n    path: ${JSON.stringify(join(cwd, 'app.log'))}\n    errorPattern: "(unclosed"\n`,
  );
  const env = botEnv(cwd);
  for (const command of ['check-config', 'start']) {
    const result = runCli([command], cwd, env);
    assert.equal(result.code, 2, `${command}: ${result.stdout}${result.stderr}`);
    assert.ok(
      result.stderr.includes(
        'checks[2].errorPattern: expected a valid regular expression, found "(unclosed": Invalid regular expression: /(unclosed/: Unterminated group',
      ),
      result.stderr,
    );
    assert.doesNotMatch(result.stderr, /"code":|ZodError/, 'no raw zod output');
  }
  assert.equal(existsSync(join(cwd, 'data')), false, 'no data dir, database or lock was created');
});

test('a Perl-style inline (?i) is refused with a hint to use ignoreCase', () => {
  const problems = configProblems('checks:\n  - { name: l, kind: log, path: /x.log, errorPattern: "(?i)error" }\n');
  assert.equal(problems.length, 1);
  assert.match(
    problems[0]!,
    /^checks\[0\]\.errorPattern: expected a valid regular expression, found "\(\?i\)error": Invalid regular expression: .*; set ignoreCase: true instead\)$/,
  );
});

test('zero durations are refused: patrol.interval 0, timeout 0s, and any other field without a meaning for 0', () => {
  const problems = configProblems(`
patrol: { interval: 0, timeout: 0s }
diagnose: { lookback: 0s }
retention: { events: 0 }
checks:
  - { name: m, kind: memory, interval: 0.01ms, maxHeals: { window: 0s } }
  - name: f
    kind: file
    path: /x
    heal: [{ action: clean-files, dir: /x, olderThan: 0s }]
`);
  assert.deepEqual(problems, [
    'patrol.interval: expected at least 100ms (the shortest interval), found number 0',
    'patrol.timeout: expected a duration longer than 0, found "0s"',
    'diagnose.lookback: expected a duration longer than 0, found "0s"',
    'retention.events: expected a duration longer than 0, found number 0',
    'checks[0].interval: expected at least 100ms (the shortest interval), found "0.01ms"',
    'checks[0].maxHeals.window: expected a duration longer than 0, found "0s"',
    'checks[1].heal[0].olderThan: expected a duration longer than 0, found "0s"',
  ]);
});

test('intervals have a floor of 100ms; 100ms itself is accepted', () => {
  assert.deepEqual(configProblems('patrol: { interval: 99ms }\n'), ['patrol.interval: expected at least 100ms (the shortest interval), found "99ms"']);
  const config = parseConfig('patrol: { interval: 100ms }\nchecks:\n  - { name: m, kind: memory, interval: 0.1 }\n', 'n.yml', {}, '/tmp');
  assert.equal(config.patrol.intervalMs, 100);
  assert.equal(config.checks[0]!.intervalMs, 100);
});

test("a timer past Node's limit (30d) is refused with the limit named, wherever a timer is configured", () => {
  const problems = configProblems(`
patrol: { interval: 30d, timeout: 30d, healTimeout: 30d }
chat: { groupWait: 30d }
diagnose: { llmTimeout: 30d }
checks:
  - name: p
    kind: process
    command: [node]
    interval: 30d
    timeout: 30d
    stopGrace: 30d
    heal: [{ action: command, run: "true", timeout: 30d }]
`);
  const paths = problems.map((p) => p.slice(0, p.indexOf(':')));
  assert.deepEqual(paths, [
    'patrol.interval',
    'patrol.timeout',
    'patrol.healTimeout',
    'chat.groupWait',
    'diagnose.llmTimeout',
    'checks[0].interval',
    'checks[0].timeout',
    'checks[0].stopGrace',
    'checks[0].heal[0].timeout',
  ]);
  for (const problem of problems) assert.match(problem, TIMER_LIMIT);
  assert.match(problems[0]!, /found "30d"$/);
  // The limit itself is a valid timer.
  assert.equal(parseConfig(`patrol: { timeout: ${TIMER_LIMIT_MS}ms }\n`, 'n.yml', {}, '/tmp').patrol.timeoutMs, TIMER_LIMIT_MS);
});

test('ages and windows are not timers: olderThan 90d and other long ages stay valid, but are bounded', () => {
  const config = parseConfig(
    `
patrol: { flapping: { window: 30d } }
chat: { questionTtl: 60d, repeatInterval: 30d }
diagnose: { lookback: 90d, proposalTtl: 30d, recurrence: { window: 30d } }
retention: { events: 365d }
checks:
  - name: backup
    kind: heartbeat
    period: 30d
    maxRuntime: 40d
    cooldown: 30d
    maxHeals: { window: 30d }
  - name: archive
    kind: file
    path: /srv/archive/last
    maxAge: 400d
    heal: [{ action: clean-files, dir: /srv/archive, olderThan: 90d }, { action: remove-lock, path: /srv/a.lock, maxAge: 60d }]
  - { name: lock, kind: lockfile, path: /srv/a.lock, maxAge: 60d }
  - { name: log, kind: log, path: /srv/a.log, window: 30d }
  - { name: loop, kind: pm2, app: a, restartLoop: { window: 30d } }
  - { name: api, kind: http, url: "http://127.0.0.1/", maxLatency: 30d }
`,
    'n.yml',
    {},
    '/tmp',
  );
  assert.equal(config.checks[1]!.heal[0]!.params.olderThan, '90d');
  assert.equal(healActions['clean-files'].params.parse(config.checks[1]!.heal[0]!.params).olderThan, 90 * 86_400_000);
  assert.equal(config.retention.eventsMs, 365 * 86_400_000);
  assert.deepEqual(configProblems('checks:\n  - { name: f, kind: file, path: /x, maxAge: 40000d }\n'), [
    'checks[0].maxAge: expected at most 36500d (100 years), found "40000d"',
  ]);
  // So large it overflows to Infinity: still a clear bound, never a timer that fires at once.
  const huge = configProblems(`retention: { events: 1${'0'.repeat(400)}d }\n`);
  assert.equal(huge.length, 1);
  assert.match(huge[0]!, /^retention\.events: expected at most 36500d \(100 years\), found "1000/);
});

test('0 stays valid where it has a documented meaning: chat.groupWait, cooldown, heartbeat grace', () => {
  const config = parseConfig('chat: { groupWait: 0s }\nchecks:\n  - { name: h, kind: heartbeat, period: 1h, grace: 0s, cooldown: 0s }\n', 'n.yml', {}, '/tmp');
  assert.equal(config.chat.groupWait, 0);
  assert.equal(config.checks[0]!.cooldownMs, 0);
  assert.equal(checkKinds.heartbeat.params.parse(config.checks[0]!.params).grace, 0);
});

test('retention.events defaults to 90 days', () => {
  assert.deepEqual(parseConfig('checks: []\n', 'n.yml', {}, '/tmp').retention, { eventsMs: 90 * 86_400_000 });
});

test('a config file over 1 MiB exits 2 before it is read, naming the limit, and creates nothing', (t) => {
  const cwd = tempDir(t);
  const file = join(cwd, 'nightshift.yml');
  writeFileSync(file, `checks: []\n#${'x'.repeat(MAX_CONFIG_BYTES - 12)}\n`);
  const env = botEnv(cwd);
  for (const command of ['check-config', 'start']) {
    const result = runCli([command], cwd, env);
    assert.equal(result.code, 2, `${command}: ${result.stdout}${result.stderr}`);
    assert.equal(result.stderr, `${file}: invalid configuration (1 problem)\n  - the file is 1048577 bytes; the limit is 1048576 bytes (1 MiB)\n`);
  }
  assert.equal(existsSync(join(cwd, 'data')), false, 'no data dir, database or lock was created');

  // At the limit exactly, the file is read and parsed.
  writeFileSync(file, `checks: []\n#${'x'.repeat(MAX_CONFIG_BYTES - 13)}\n`);
  assert.equal(loadConfig({ env: {}, cwd }).checks.length, 0);
});

test('a small file whose aliases expand without bound is a configuration error, not a crash', () => {
  let yaml = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 30; i++)
    yaml += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  assert.deepEqual(configProblems(yaml), ['YAML: Excessive alias count indicates a resource exhaustion attack']);
});

test('chat.publicUrl takes only http and https URLs', () => {
  for (const url of ['javascript:alert(1)', 'javascript://x/%0aalert(1)', 'file:///etc/passwd', 'data:text/html,hi', 'ftp://nightshift.lan/']) {
    const problems = configProblems(`chat: { publicUrl: ${JSON.stringify(url)} }\n`);
    assert.deepEqual(problems, [`chat.publicUrl: expected an http:// or https:// URL such as http://nightshift.lan:8787, found ${JSON.stringify(url)}`]);
  }
  for (const url of ['http://nightshift.lan:8787', 'https://nightshift.example/']) {
    assert.ok(parseConfig(`chat: { publicUrl: ${JSON.stringify(url)} }\n`, 'n.yml', {}, '/tmp').chat.publicUrl);
  }
});

test('${VAR} in a string run: of a command check or command heal step is a warning; argv lists are not; check-config prints it', (t) => {
  const yaml = `
checks:
  - name: queue
    kind: command
    run: redis-cli -h \${REDIS_HOST} llen \${QUEUE:-tasks}
    heal:
      - { action: command, run: "systemctl restart \${UNIT}" }
      - { action: command, run: [systemctl, restart, "\${UNIT}"] }
      - { action: create-dir, path: "\${SPOOL}" }
  - { name: argv, kind: command, run: [redis-cli, -h, "\${REDIS_HOST}", ping] }
  - { name: plain, kind: command, run: "test -f /srv/ok" }
`;
  const env = { REDIS_HOST: 'db; rm -rf ~', UNIT: 'api.service', SPOOL: '/srv/spool' };
  const config = parseConfig(yaml, 'n.yml', env, '/tmp');
  assert.equal(config.warnings.length, 2, config.warnings.join('\n'));
  assert.match(
    config.warnings[0]!,
    /^checks\[0\]\.run: \$\{REDIS_HOST\}, \$\{QUEUE:-tasks\} are put into a shell command line as is, unquoted .*prefer an argv list/,
  );
  assert.match(config.warnings[1]!, /^checks\[0\]\.heal\[0\]\.run: \$\{UNIT\} is put into a shell command line as is/);
  // The substitution itself is unchanged: literal.
  assert.equal(config.checks[0]!.params.run, 'redis-cli -h db; rm -rf ~ llen tasks');
  assert.deepEqual(parseConfig('checks: []\n', 'n.yml', {}, '/tmp').warnings, []);

  const cwd = tempDir(t);
  writeFileSync(join(cwd, 'nightshift.yml'), yaml);
  const result = runCli(['check-config'], cwd, botEnv(cwd, env));
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /nightshift\.yml: OK/);
  assert.match(result.stderr, /^warning: checks\[0\]\.run: \$\{REDIS_HOST\}, \$\{QUEUE:-tasks\} are put into a shell command line/m);
  assert.match(result.stderr, /^warning: checks\[0\]\.heal\[0\]\.run: \$\{UNIT\} is put/m);
  assert.equal(result.stderr.match(/^warning:/gm)?.length, 2);
});

test('every entry is validated with the same schema and input its probe or heal step parses at start', () => {
  const config = parseConfig(
    `
checks:
  - { name: l, kind: log, path: /x.log, errorPattern: "a+b", ignoreCase: true, window: 30d }
  - { name: h, kind: heartbeat, period: 1d, grace: 0s }
  - name: f
    kind: file
    path: /x
    heal: [restart, { action: clean-files, dir: /x, pattern: "[(*.log", olderThan: 90d }, { action: command, run: ["true"], timeout: 1m }]
`,
    'n.yml',
    {},
    '/tmp',
  );
  for (const check of config.checks) {
    assert.ok(checkKinds[check.kind].params.safeParse(check.params).success, check.name);
    for (const step of check.heal) assert.ok(healActions[step.action].params.safeParse(step.params).success, `${check.name}: ${step.action}`);
  }
  // Each kind's schema is strict: an unknown key is named, whatever the kind.
  for (const kind of checkKindNames) {
    const problems = configProblems(`checks:\n  - { name: c, kind: ${kind}, notAKey: 1 }\n`);
    assert.ok(problems.includes('checks[0].notAKey: unknown key (not allowed here), found number 1'), `${kind}: ${problems.join('; ')}`);
  }
});

test("a source accepted without flags compiles with ignoreCase's i flag too", () => {
  const sources = [
    '(unclosed',
    'a{2,1}',
    '[z-a]',
    '\\',
    '*x',
    '(?i)x',
    '\\p{L}',
    '\\u{61}',
    '[\\w-]',
    '\\k<n>',
    '(?<n>a)\\k<n>',
    '\\1(a)',
    ']',
    '{',
    'a{,5}',
    '\\c',
    '[\\d-z]',
    '(?=a)*',
    '\\b(ERROR|FATAL)\\b',
  ];
  for (const source of sources) assert.equal(regexError(source, 'i') === undefined, regexError(source) === undefined, source);
});

test('a clean-files glob can never produce an invalid regular expression', () => {
  const characters = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).concat(['\u00e9', '\ud800', '\u{1f600}']);
  for (const a of characters) {
    for (const b of ['', '*', '?', '\\', '[', '(', 'x']) {
      const glob = `${a}${b}${a}`;
      assert.doesNotThrow(() => globMatcher(glob)(glob), glob);
    }
  }
  assert.equal(globMatcher('[(*.log')('[(x.log'), true);
  assert.equal(globMatcher('a+b?.txt')('a+bc.txt'), true);
  assert.equal(globMatcher('a+b?.txt')('aab1.txt'), false);
});

/**
 * Configurations that are wrong or unusual. For each: if check-config accepts
 * it, start gets past the configuration (it logs "nightshift started"); if
 * not, both exit 2 and create nothing. None may pass check-config and stop start.
 */
const MALFORMED: Array<{ name: string; checks: (dir: string) => string; top?: string; env?: Record<string, string>; refusedFor?: RegExp }> = [
  {
    name: 'an invalid errorPattern',
    checks: (dir) => `  - { name: l, kind: log, path: ${JSON.stringify(join(dir, 'a.log'))}, errorPattern: "(unclosed" }\n`,
    refusedFor: /checks\[0\]\.errorPattern: expected a valid regular expression/,
  },
  {
    name: 'an inline (?i) flag',
    checks: (dir) => `  - { name: l, kind: log, path: ${JSON.stringify(join(dir, 'a.log'))}, errorPattern: "(?i)error" }\n`,
    refusedFor: /checks\[0\]\.errorPattern: .*set ignoreCase: true instead/,
  },
  {
    name: 'a valid but unusual errorPattern with ignoreCase',
    checks: (dir) =>
      `  - { name: l, kind: log, path: ${JSON.stringify(join(dir, 'a.log'))}, errorPattern: "^\\\\[(?:err|crit)\\\\]\\\\s*(?<what>[^\\\\]]+)$", ignoreCase: true, window: 60d }\n`,
  },
  { name: 'patrol.interval 0', top: 'patrol: { interval: 0 }\n', checks: () => '', refusedFor: /patrol\.interval: expected at least 100ms/ },
  {
    name: 'a check timeout of 30d',
    checks: (dir) => `  - { name: f, kind: file, path: ${JSON.stringify(dir)}, timeout: 30d }\n`,
    refusedFor: /checks\[0\]\.timeout: expected at most 24d 20h/,
  },
  {
    name: 'a heal timeout of 30d',
    checks: (dir) => `  - { name: f, kind: file, path: ${JSON.stringify(dir)}, heal: [{ action: command, run: ["true"], timeout: 30d }] }\n`,
    refusedFor: /checks\[0\]\.heal\[0\]\.timeout: expected at most 24d 20h/,
  },
  {
    name: 'chat.publicUrl javascript:',
    top: 'chat: { publicUrl: "javascript:alert(1)" }\n',
    checks: () => '',
    refusedFor: /chat\.publicUrl: expected an http:\/\/ or https:\/\/ URL/,
  },
  { name: 'retention.events 0', top: 'retention: { events: 0 }\n', checks: () => '', refusedFor: /retention\.events: expected a duration longer than 0/ },
  {
    name: 'long ages, a glob full of regex characters, groupWait 0',
    top: 'chat: { groupWait: 0s }\nretention: { events: 400d }\n',
    checks: (dir) =>
      `  - name: f\n    kind: file\n    path: ${JSON.stringify(dir)}\n    maxAge: 400d\n    heal: [{ action: clean-files, dir: ${JSON.stringify(dir)}, pattern: "[(^$|+{.*", olderThan: 90d, dryRun: true }]\n` +
      `  - { name: hb, kind: heartbeat, period: 30d, grace: 0s, maxRuntime: 40d }\n`,
  },
  {
    name: '${VAR} in a shell run: (a warning, not an error)',
    env: { SUFFIX: 'x y' },
    checks: () => '  - { name: c, kind: command, run: "true ${SUFFIX}", interval: 100ms }\n',
  },
];

test('a configuration check-config accepts always gets start past the configuration', async (t) => {
  for (const entry of MALFORMED) {
    await t.test(entry.name, async (t) => {
      const cwd = tempDir(t);
      const dir = join(cwd, 'watched');
      mkdirSync(dir);
      const checks = entry.checks(dir);
      writeFileSync(join(cwd, 'nightshift.yml'), `${entry.top ?? ''}checks:${checks ? `\n${checks}` : ' []\n'}`);
      const env = botEnv(cwd, entry.env);
      const checked = runCli(['check-config'], cwd, env);
      assert.equal(checked.code, entry.refusedFor ? 2 : 0, `check-config: ${checked.stdout}${checked.stderr}`);
      if (entry.refusedFor) {
        assert.match(checked.stderr, /invalid configuration \(1 problem\)/);
        assert.match(checked.stderr, entry.refusedFor);
        const started = runCli(['start'], cwd, env);
        assert.equal(started.code, 2, started.stdout + started.stderr);
        assert.equal(started.stderr, checked.stderr, 'start refuses the file as check-config did');
        assert.equal(existsSync(join(cwd, 'data')), false, 'nothing created');
        return;
      }
      const bot = startBot(t, cwd, env);
      await bot.started();
      bot.kill('SIGTERM');
      // main catches SIGTERM from before start, so even right after "started" the stop is clean.
      const { code, signal } = await bot.exit();
      assert.equal(code, 0, `exit ${code} ${signal}\n${bot.stdout}${bot.stderr}`);
      assert.doesNotMatch(bot.stdout + bot.stderr, /invalid configuration|failed to start/);
    });
  }
});

test('the HTTP server off loopback needs NIGHTSHIFT_HTTP_TOKEN (16+ characters); allowedHosts takes host names only', () => {
  assert.match(
    configProblems('{}', { NIGHTSHIFT_HTTP: '0.0.0.0:8787' }).join('\n'),
    /NIGHTSHIFT_HTTP_TOKEN \(environment\): expected it to be set because the HTTP server listens on 0\.0\.0\.0:8787 \(off loopback/,
  );
  assert.match(
    configProblems('{}', { NIGHTSHIFT_HTTP: '100.64.1.2:8787', NIGHTSHIFT_HTTP_TOKEN: 'short' }).join('\n'),
    /NIGHTSHIFT_HTTP_TOKEN \(environment\): expected at least 16 characters/,
  );
  const config = parseConfig(
    'http: { allowedHosts: [Nightshift.Tailnet.ts.net] }',
    'nightshift.yml',
    { NIGHTSHIFT_HTTP: '0.0.0.0:8787', NIGHTSHIFT_HTTP_TOKEN: 'a-long-enough-token-123' },
    '/tmp',
  );
  assert.equal(config.http.token, 'a-long-enough-token-123');
  assert.deepEqual(config.http.allowedHosts, ['nightshift.tailnet.ts.net']);
  assert.equal(config.secrets.httpToken, 'a-long-enough-token-123', 'the token is redacted wherever it appears');
  // Loopback needs no token.
  assert.equal(parseConfig('{}', 'nightshift.yml', { NIGHTSHIFT_HTTP: '127.0.0.1:8787' }, '/tmp').http.token, undefined);
  assert.match(
    configProblems('http: { allowedHosts: ["http://x.lan:8787"] }').join('\n'),
    /http\.allowedHosts\[0\]: expected a host name such as nightshift\.tailnet\.ts\.net/,
  );
});
