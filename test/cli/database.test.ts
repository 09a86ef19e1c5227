import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase, readMigrations } from '../../src/store/database.js';
import { FakeNtfyServer } from '../fakes/ntfy/server.js';
import { FakeTelegram } from '../fakes/telegram/server.js';
import { botEnv, runCli, startBot } from '../helpers/cli.js';
import { platformEnv, TELEGRAM_TOKEN } from '../helpers/platforms.js';
import { tempDir } from '../helpers/temp.js';

const CHAT = -1005550001111;

/** A working directory with an empty data dir (0700, as Nightshift makes it); gives the database's path. */
function dataDir(cwd: string): { dir: string; file: string } {
  const dir = join(cwd, 'data');
  mkdirSync(dir, { mode: 0o700 });
  return { dir, file: join(dir, 'nightshift.db') };
}

test('a corrupt database: start exits 2 (no restart loop), names the file, says what to do, and one alert reaches ntfy and Telegram', async (t) => {
  const ntfy = await FakeNtfyServer.start();
  const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN, chats: [CHAT] });
  t.after(() => ntfy.close());
  t.after(() => telegram.close());
  const cwd = tempDir(t);
  const { dir, file } = dataDir(cwd);
  const bytes = randomBytes(16384);
  writeFileSync(file, bytes);
  const env = botEnv(cwd, platformEnv({ dataDir: dir, ntfy: { url: ntfy.url, topic: 'ns-alerts' }, telegram: { apiRoot: telegram.apiRoot, chatId: CHAT } }));

  // Not runCli: the fakes live in this process and must keep answering while the bot runs.
  const bot = startBot(t, cwd, env, ['start'], 'ignore');
  const { code } = await bot.exit();
  assert.equal(code, 2, `stdout:\n${bot.stdout}\nstderr:\n${bot.stderr}`);
  assert.ok(bot.stderr.includes(file), bot.stderr);
  assert.match(bot.stderr, /file is not a database/);
  assert.match(bot.stderr, /restore it from a backup/i);
  assert.match(bot.stderr, /nightshift db check/);
  assert.match(bot.stderr, /move it aside/);
  assert.deepEqual(readFileSync(file), bytes, 'the damaged file is left as it was');

  // The alert was sent before the process exited: no waiting needed, and exactly one per channel.
  const alerts = ntfy.messages('ns-alerts');
  assert.equal(alerts.length, 1, JSON.stringify(alerts));
  assert.match(alerts[0]!.title ?? '', /^Nightshift cannot start: /);
  assert.ok(alerts[0]!.title!.includes(file));
  assert.match(alerts[0]!.message, /nightshift db check/);
  assert.equal(alerts[0]!.priority, 5, 'critical');
  const sent = telegram.sent();
  assert.equal(sent.length, 1, JSON.stringify(sent));
  assert.match(sent[0]!.text ?? '', /Nightshift cannot start: /);
  assert.ok(sent[0]!.text!.includes(file));
});

test('a database from a newer Nightshift: start exits 2 with the versions and leaves the file alone', (t) => {
  const cwd = tempDir(t);
  const { file } = dataDir(cwd);
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.exec('CREATE TABLE from_the_future (x INTEGER)');
  raw.pragma('user_version = 999');
  raw.close();
  const result = runCli(['start'], cwd, botEnv(cwd));
  assert.equal(result.code, 2, result.stderr);
  assert.ok(result.stderr.includes(file), result.stderr);
  assert.match(result.stderr, new RegExp(`written by a newer Nightshift \\(schema version 999; this one knows up to ${readMigrations().length}\\)`));
  assert.match(result.stderr, /nightshift db check/);
  const db = new Database(file, { readonly: true });
  t.after(() => db.close());
  assert.equal(db.pragma('user_version', { simple: true }), 999);

  const check = runCli(['db', 'check'], cwd, botEnv(cwd));
  assert.equal(check.code, 1, check.stdout);
  assert.match(check.stdout, /schema version: 999 \(this Nightshift knows up to \d+\)/);
  assert.match(check.stdout, /UNUSABLE: .*written by a newer Nightshift/);
});

test('nightshift db check: no database (3), a good one while the bot runs (0), a corrupt one (1)', async (t) => {
  const cwd = tempDir(t);
  const env = botEnv(cwd);
  const { file } = dataDir(cwd);
  const none = runCli(['db', 'check'], cwd, env);
  assert.equal(none.code, 3, none.stdout + none.stderr);
  assert.match(none.stdout, /no database in /);

  const bot = startBot(t, cwd, env, ['start'], 'ignore');
  await bot.started();
  const good = runCli(['db', 'check'], cwd, env);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  const known = readMigrations().length;
  assert.ok(good.stdout.includes(`database: ${file}`), good.stdout);
  assert.match(good.stdout, /mode: 0600\n/);
  assert.match(good.stdout, new RegExp(`schema version: ${known} \\(this Nightshift knows up to ${known}\\)`));
  assert.match(good.stdout, /integrity: ok\nOK\n$/);
  // Read-only: the running bot is not disturbed.
  assert.equal(bot.child.exitCode, null);
  bot.kill('SIGTERM');
  assert.equal((await bot.exit()).code, 0);

  writeFileSync(file, randomBytes(8192));
  const corrupt = runCli(['db', 'check'], cwd, env);
  assert.equal(corrupt.code, 1, corrupt.stdout + corrupt.stderr);
  assert.match(corrupt.stdout, /DAMAGED: .*file is not a database/);
  assert.ok(corrupt.stdout.includes(file));
  // audit verify on the same file: the problem named, no stack trace.
  const audit = runCli(['audit', 'verify'], cwd, env);
  assert.equal(audit.code, 1, audit.stdout + audit.stderr);
  assert.match(audit.stdout, /^cannot verify the audit trail: the database .* is damaged or not a database/);
  assert.equal(audit.stderr, '');
});

test('db check reports a database readable by others', (t) => {
  const cwd = tempDir(t);
  const env = botEnv(cwd);
  const { file } = dataDir(cwd);
  openDatabase(file).close();
  // What an older Nightshift, or a copy made with the usual umask, leaves behind.
  chmodSync(file, 0o644);
  const check = runCli(['db', 'check'], cwd, env);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /mode: 0644 \(group or others have access; start tightens it to 0600\)/);
});
