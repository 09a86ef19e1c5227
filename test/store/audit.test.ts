import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { AuditLog } from '../../src/store/audit.js';
import { botEnv, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

test('consent changes and approvals go into a hash-chained trail; any tampering is found by `nightshift audit verify`', (t) => {
  const cwd = tempDir(t);
  const dataDir = join(cwd, 'data');
  const env = botEnv(cwd);
  assert.equal(runCli(['audit', 'verify'], cwd, env).code, 3, 'no database yet');

  mkdirSync(dataDir, { recursive: true });
  const store = openDatabase(join(dataDir, 'nightshift.db'));
  const events = new EventLog(store);
  events.append(1_000, 'consent.changed', 'consent.analysis', 'info', {
    name: 'analysis',
    from: 'unasked',
    to: 'asked',
    event: 'ask',
    by: 'nightshift',
    channel: 'nightshift',
  });
  events.append(2_000, 'check.failed', 'worker', 'critical', { kind: 'process', message: 'exit 1', durationMs: 1, consecutiveFailures: 1 });
  events.append(3_000, 'question.answered', 'consent.analysis', 'info', {
    questionId: 'q1',
    kind: 'consent.analysis',
    answer: 'yes',
    by: 'alice',
    channel: 'telegram',
  });
  events.append(4_000, 'proposal.decided', 'p7', 'info', { proposalId: 'p7', status: 'approved', by: 'alice', channel: 'discord' });
  assert.deepEqual(new AuditLog(store).verify(), { ok: true, rows: 3 }, 'only the audited types, not every event');
  assert.throws(() => store.prepare("UPDATE audit SET subject = 'x' WHERE id = 2").run(), /append-only/);
  assert.throws(() => store.prepare('DELETE FROM audit WHERE id = 2').run(), /append-only/);
  store.close();

  const ok = runCli(['audit', 'verify'], cwd, env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /audit trail intact: 3 rows/);

  // Someone with file access edits a row behind the triggers' back.
  const raw = new Database(join(dataDir, 'nightshift.db'));
  raw.exec('DROP TRIGGER audit_no_update');
  raw.prepare(`UPDATE audit SET detail = json_set(detail, '$.answer', 'no') WHERE id = 2`).run();
  raw.close();
  const broken = runCli(['audit', 'verify'], cwd, env);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /audit trail BROKEN at row #2: its content does not match its hash/);
});
