import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { startInProcess } from '../helpers/bot.js';
import { TELEGRAM_TOKEN, platformEnv } from '../helpers/platforms.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { SCREEN_CHARS } from '../../src/diagnose/render.js';

/**
 * Diagnoses of real failures (real commands, files and supervised
 * processes, through the running bot and its console), checked for what
 * the operator reads: the order things broke in, one sentence for many
 * checks failing together, the line that names the cause, and one screen.
 */
async function bot(t: TestContext, checks: string, options: { diagnose?: string; chat?: string; env?: Record<string, string> } = {}) {
  const dir = tempDir(t);
  const yaml = `patrol: { interval: 1s }\nchat: ${options.chat ?? '{ groupWait: 0s }'}\ndiagnose: ${options.diagnose ?? '{ weekly: "off" }'}\nchecks:\n${checks}`;
  const b = await startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data'), ...options.env } });
  await b.run('/consent analysis on', /analysis: granted/);
  return { ...b, dir };
}

const sh = (script: string) => JSON.stringify(script);

test('two failures that began in one order and finished in the other are ranked by when they began', async (t) => {
  const dir = tempDir(t);
  const count = join(dir, 'api-runs');
  // db's run begins at once and fails after 1.5 s; api's second run (200 ms in) fails at once, long before db's finishes.
  const b = await bot(
    t,
    `  - { name: db, kind: command, run: ${sh('sleep 1.5; exit 1')}, interval: 1h, timeout: 5s }
  - { name: api, kind: command, run: ${sh(`n=$(cat ${count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${count}; [ $n -eq 2 ] && exit 1; exit 0`)}, interval: 200ms }
`,
  );
  await waitFor(() => ['db', 'api'].every((name) => b.events.ofType('check.failed').some((e) => e.subject === name)), { what: 'both to fail' });
  const failed = b.events.ofType('check.failed');
  const [db, api] = ['db', 'api'].map((name) => failed.find((e) => e.subject === name)!);
  // The log recorded api's failure first (it finished first) but dated each by when its run began.
  assert.ok(failed.indexOf(api!) < failed.indexOf(db!), 'api finished first');
  assert.ok(db!.at < api!.at, 'db began first');
  const text = await b.run('/diagnose', /posted on every channel/, 30_000);
  assert.match(text, /Two independent problems, ranked by how many of the 2 failure events each explains: db \(1\), api \(1\)\./);
  assert.match(text, /Top chain: db failed at /);
});

test("a symptom's recurrences trigger no diagnosis of their own: only the root's do", async (t) => {
  const dir = tempDir(t);
  const file = (name: string) => join(dir, `${name}.ok`);
  for (const name of ['db', 'api']) writeFileSync(file(name), 'ok');
  // db's check is slower than api's, so in each patrol api's failure is recorded first, as a root,
  // and re-filed as db's symptom when db's failure comes in.
  const b = await bot(
    t,
    `  - { name: db, kind: command, run: ${sh(`sleep 0.3; test -e ${file('db')}`)} }
  - { name: api, kind: file, path: ${JSON.stringify(file('api'))}, dependsOn: [db] }
`,
    { diagnose: '{ weekly: "off", recurrence: { count: 2, window: 1h } }' },
  );
  const runsOf = (name: string) => (b.db.prepare('SELECT runs FROM check_state WHERE name = ?').get(name) as { runs: number } | undefined)?.runs ?? 0;
  for (let crash = 0; crash < 3; crash++) {
    // Right after a db run, so the next patrol sees both down and api (the faster check) reports first.
    const runs = runsOf('db');
    await waitFor(() => runsOf('db') > runs, { what: 'a db run' });
    const opened = b.events.ofType('incident.opened').length;
    for (const name of ['db', 'api']) unlinkSync(file(name));
    await waitFor(() => b.events.ofType('incident.opened').length >= opened + 2, { what: 'both incidents' });
    const closed = b.events.ofType('incident.closed').length;
    for (const name of ['db', 'api']) writeFileSync(file(name), 'ok');
    await waitFor(() => b.events.ofType('incident.closed').length >= closed + 2, { what: 'both to recover' });
  }
  assert.ok(
    b.events.ofType('incident.reclassified').some((e) => e.subject === 'api'),
    'api was opened as a root and re-filed as a symptom',
  );
  await waitFor(() => b.events.ofType('diagnosis.made').length >= 1, { what: "db's recurrence diagnosis" });
  const signatures = b.events.ofType('diagnosis.made').map((e) => String(e.context.signature));
  assert.ok(
    signatures.every((s) => s.startsWith('db:')),
    `only db's recurrence is diagnosed: ${signatures.join(', ')}`,
  );
});

test('eight checks failing together with one error are one cluster sentence naming it', async (t) => {
  const names = ['scheduler', 'mailer', 'indexer', 'crawler', 'notifier', 'billing', 'exporter', 'thumbnailer'];
  const b = await bot(t, names.map((name) => `  - { name: ${name}, kind: command, run: "svcctl status ${name}", interval: 1h }\n`).join(''));
  await waitFor(() => names.every((name) => b.events.ofType('check.failed').some((e) => e.subject === name)), { what: 'all eight to fail' });
  const text = await b.run('/diagnose', /posted on every channel/, 30_000);
  assert.match(text, /8 checks failed together with "exit 127: [^"]*svcctl: not found" \(/);
  assert.equal(text.match(/together/g)?.length, 1, 'one sentence, not one per pair');
});

test('a database that exits on a FATAL line is diagnosed with that line, not only its exit code', async (t) => {
  const fatal = 'FATAL:  could not bind IPv4 address "127.0.0.1": Address already in use';
  const script = `console.log('starting'); console.error('LOG:  starting PostgreSQL 16'); console.error(${JSON.stringify(fatal)}); console.error('LOG:  database system is shut down'); process.exit(1)`;
  const b = await bot(t, `  - { name: db, kind: process, command: ["node", "-e", ${JSON.stringify(script)}] }\n`);
  await waitFor(() => b.events.ofType('check.failed').some((e) => e.subject === 'db'), { what: 'db to fail' });
  const text = await b.run('/diagnose', /posted on every channel/, 30_000);
  assert.match(
    text,
    /db failed at [\d-]* ?\d\d:\d\d:\d\d UTC \(exited with code 1 after [^)]*FATAL: could not bind IPv4 address "127\.0\.0\.1": Address already in use\)/,
  );
  assert.doesNotMatch(text, /LOG: database system is shut down/, 'the fatal line, not the last one');
  // Before explaining, the diagnosis looked (read only) at db's log; the whole text says what it saw there.
  assert.match(text, /Looked at: log tail of db \([^)]*db\.log/);
  const whole = await b.run('/diagnosis', /Diagnosis #1 \(/);
  assert.match(whole, /Looked at \(read only\):\n- log tail of db \([^)]*\): FATAL: could not bind IPv4 address/);
});

test('a diagnosis of 20 chains fits one Telegram message, the rest behind /diagnosis', async (t) => {
  const dir = tempDir(t);
  const chat = -1003;
  const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN, chats: [chat] });
  t.after(() => telegram.close());
  const names = Array.from({ length: 20 }, (_, i) => `service-${String(i + 1).padStart(2, '0')}`);
  // Twenty independent failures, each with its own long message.
  const checks = names
    .map((name, i) => `  - { name: ${name}, kind: file, path: ${JSON.stringify(join(dir, `${name}-${'x'.repeat(60 + i)}.ready`))}, interval: 1h }\n`)
    .join('');
  const b = await bot(t, checks, {
    chat: '{ groupWait: 0s, telegram: { operators: [4242] } }',
    env: platformEnv({ dataDir: join(dir, 'data'), telegram: { apiRoot: telegram.apiRoot, chatId: chat } }),
  });
  await waitFor(() => names.every((name) => b.events.ofType('check.failed').some((e) => e.subject === name)), { what: 'all twenty to fail' });
  await b.run('/diagnose', /posted on every channel/, 30_000);
  const messages = await waitFor(
    () => {
      const found = telegram.sent().filter((m) => m.text?.includes('Diagnosis #1'));
      return found.length > 0 ? found : undefined;
    },
    { what: 'the diagnosis on Telegram' },
  );
  assert.equal(messages.length, 1, 'one message, not split');
  const text = messages[0]!.text!;
  assert.ok(text.length <= 4096, `within Telegram's limit (${text.length})`);
  assert.match(text, /Twenty independent problems|20 independent problems/);
  assert.match(text, /All of it \(19 more chains, every piece of evidence\): \/diagnosis 1/, 'the pointer to the whole text survives');
  // The whole text has the chains the screen left out.
  const whole = await b.run('/diagnosis 1', /Diagnosis #1 \(/);
  assert.ok(whole.length > SCREEN_CHARS, 'the whole diagnosis is longer than its screen');
  assert.match(whole, /service-10 failed at/);
});
