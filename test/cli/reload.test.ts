import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { packageRoot } from '../../src/paths.js';
import { BotProcess, botEnv, startBot } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const SERVICE = join(packageRoot, 'test', 'fakes', 'services', 'http-health.mjs');

/** A supervised `process` check running the health service, tagged with `marker` on its command line. */
function processCheck(name: string, marker: string, extra = ''): string {
  return `  - name: ${name}\n    kind: process\n    interval: 1s\n    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(SERVICE)}, ${JSON.stringify(marker)}]\n    heal: [restart]\n${extra}`;
}

interface Status {
  details: Array<{ name: string; status: string }>;
}

async function statusOf(http: string): Promise<Status> {
  const response = await fetch(`http://${http}/status.json`);
  return (await response.json()) as Status;
}

/** Runs a short CLI command (reload, check-config) to its end. */
async function run(cwd: string, env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = new BotProcess(args, { cwd, env, stdin: 'ignore' });
  const { code } = await child.exit();
  return { code, stdout: child.stdout, stderr: child.stderr };
}

function onePid(marker: string): number | undefined {
  const pids = processesWith(marker);
  return pids.length === 1 ? pids[0] : undefined;
}

test('nightshift reload adds, removes and restarts checks without touching the children of the others', { timeout: 60_000 }, async (t) => {
  const cwd = tempDir(t);
  const markers = { keep: `keep-${randomUUID()}`, drop: `drop-${randomUUID()}`, edit: `edit-${randomUUID()}`, add: `add-${randomUUID()}` };
  t.after(() => {
    for (const marker of Object.values(markers)) for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
  });
  const config = join(cwd, 'nightshift.yml');
  const beat = '  - name: beat\n    kind: heartbeat\n    period: 1h\n';
  writeFileSync(config, `checks:\n${processCheck('keep', markers.keep)}${processCheck('drop', markers.drop)}${processCheck('edit', markers.edit)}${beat}`);
  const env = botEnv(cwd);
  const bot = startBot(t, cwd, env, ['start']);
  const http = await bot.started();
  const before = await waitFor(
    () => {
      const pids = { keep: onePid(markers.keep), drop: onePid(markers.drop), edit: onePid(markers.edit) };
      return Object.values(pids).every((pid) => pid !== undefined) ? pids : undefined;
    },
    { what: 'the three supervised children' },
  );
  await waitFor(async () => (await statusOf(http)).details.every((c) => c.status === 'ok') || undefined, { what: 'every check ok' });
  assert.equal((await fetch(`http://${http}/ping/beat`)).status, 200, 'the heartbeat check expects its pings');

  // keep: untouched; drop: removed; edit: its severity changes; add: new.
  writeFileSync(
    config,
    `checks:\n${processCheck('keep', markers.keep)}${processCheck('edit', markers.edit, '    severity: optional\n')}${processCheck('add', markers.add)}`,
  );
  const reload = await run(cwd, env, ['reload']);
  assert.equal(reload.code, 0, reload.stdout + reload.stderr);
  assert.match(reload.stdout, /check add added; checks drop, beat removed; check edit changed/);
  assert.equal((await fetch(`http://${http}/ping/beat`)).status, 404, 'a removed heartbeat check no longer takes pings');

  assert.deepEqual(processesWith(markers.drop), [], 'the removed check stopped its child');
  assert.deepEqual(processesWith(markers.keep), [before.keep], 'the unchanged check kept its child');
  const edited = await waitFor(
    () => {
      const pid = onePid(markers.edit);
      return pid !== undefined && pid !== before.edit ? pid : undefined;
    },
    { what: 'the changed check to restart its child' },
  );
  assert.notEqual(edited, before.edit);
  await waitFor(() => onePid(markers.add), { what: 'the added check to start its child' });
  const status = await waitFor(
    async () => {
      const s = await statusOf(http);
      return s.details.every((c) => c.status === 'ok') ? s : undefined;
    },
    { what: 'the reloaded checks ok' },
  );
  assert.deepEqual(
    status.details.map((c) => c.name),
    ['keep', 'edit', 'add'],
  );

  // The reload is a change like any other (the causal analysis reads it).
  const db = new Database(join(cwd, 'data', 'nightshift.db'), { readonly: true });
  t.after(() => db.close());
  const change = db.prepare("SELECT context FROM events WHERE type = 'change' AND subject = 'config' ORDER BY id DESC LIMIT 1").get() as { context: string };
  const context = JSON.parse(change.context) as { summary: string; checks: string[] };
  assert.match(context.summary, /^reloaded nightshift\.yml: check add added; checks drop, beat removed; check edit changed$/);
  assert.deepEqual(context.checks, ['add', 'edit']);

  // A stop after the reload takes every child, the reloaded ones too.
  bot.kill('SIGTERM');
  assert.equal((await bot.exit()).code, 0);
  for (const marker of Object.values(markers)) assert.deepEqual(processesWith(marker), [], `no child left for ${marker}`);
});

test('a bad file changes nothing: reload says why (exit 2); a SIGHUP with it is refused on chat', { timeout: 60_000 }, async (t) => {
  const cwd = tempDir(t);
  const marker = `stay-${randomUUID()}`;
  t.after(() => {
    for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
  });
  const config = join(cwd, 'nightshift.yml');
  writeFileSync(config, `checks:\n${processCheck('stay', marker)}`);
  const env = botEnv(cwd);
  const bot = startBot(t, cwd, env, ['start']);
  const http = await bot.started();
  const pid = await waitFor(() => onePid(marker), { what: 'the supervised child' });

  writeFileSync(config, `checks:\n${processCheck('stay', marker)}  - name: broken\n    kind: tcp\n    port: 99999999\n  - name: other\n    kind: nosuchkind\n`);
  const refused = await run(cwd, env, ['reload']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /checks\[1\]/);
  assert.match(refused.stderr, /checks\[2\]/, 'every bad field is named');

  // Sent straight to the bot (systemctl reload does this), the bad file is refused where the operator reads.
  bot.kill('SIGHUP');
  await bot.waitForOutput(/Configuration reload refused: nothing changed/);
  assert.deepEqual(processesWith(marker), [pid], 'the child was not touched');
  assert.deepEqual(
    (await statusOf(http)).details.map((c) => c.name),
    ['stay'],
  );
  assert.equal(bot.child.exitCode, null, 'the bot is still running');

  // With nothing different, a reload says so.
  writeFileSync(config, `checks:\n${processCheck('stay', marker)}`);
  const same = await run(cwd, env, ['reload']);
  assert.equal(same.code, 0, same.stdout + same.stderr);
  assert.match(same.stdout, /nothing changed/);
  assert.deepEqual(processesWith(marker), [pid]);
});

test('reload with no bot running says so (exit 3) and signals nobody', { timeout: 30_000 }, async (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, 'nightshift.yml'), 'checks:\n  - name: disk\n    kind: disk\n    path: /\n');
  const result = await run(cwd, botEnv(cwd), ['reload']);
  assert.equal(result.code, 3);
  assert.match(result.stdout, /not running/);
});
