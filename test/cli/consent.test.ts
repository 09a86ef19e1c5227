import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { botEnv, startBot } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/temp.js';

function read<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

test('the analysis consent is asked exactly once across a kill -9 between the question and the answer', async (t) => {
  const cwd = tempDir(t);
  writeFileSync(
    join(cwd, 'nightshift.yml'),
    `patrol: { interval: 1s }\nchat: { groupWait: 0s }\ndiagnose: { askAfter: 3 }\nchecks:\n  - name: report\n    kind: file\n    path: ${JSON.stringify(join(cwd, 'missing.json'))}\n`,
  );
  const env = botEnv(cwd);
  const dbFile = join(cwd, 'data', 'nightshift.db');
  const first = startBot(t, cwd, env);
  await first.started();
  const question = await first.waitForOutput(/May Nightshift analyse its error patterns\?[\s\S]*?answer: "yes ([A-Z2-9]{8})"/);
  // Killed once the console delivery is recorded (before that, a restart would print the same question again: at-least-once).
  await waitFor(() => read<{ status: string }>(dbFile, "SELECT status FROM outbox WHERE key LIKE 'question:%'")[0]?.status === 'sent', {
    what: 'the delivery to be recorded',
  });
  first.kill('SIGKILL');
  await first.exit();

  const second = startBot(t, cwd, env);
  await second.started();
  // Keep patrolling well past askAfter: the pending question is not asked again.
  await waitFor(() => read<{ n: number }>(dbFile, "SELECT count(*) AS n FROM events WHERE type = 'check.failed'")[0]!.n >= 8, {
    timeoutMs: 20_000,
    what: 'more failures',
  });
  assert.equal(read<{ n: number }>(dbFile, "SELECT count(*) AS n FROM questions WHERE kind = 'consent.analysis'")[0]!.n, 1);
  second.send(`yes ${question[1]}`);
  await second.waitForOutput(/Recorded: yes to "May Nightshift analyse its error patterns\?"\. Analysis allowed/);
  const [state] = read<{ value: string; channel: string }>(dbFile, "SELECT value, channel FROM switches WHERE name = 'consent.analysis'");
  assert.deepEqual(state, { value: 'granted', channel: 'console' });
  assert.deepEqual(
    read<{ to: string }>(dbFile, "SELECT json_extract(context, '$.to') AS \"to\" FROM events WHERE type = 'consent.changed' ORDER BY id").map((r) => r.to),
    ['asked', 'granted'],
  );
  assert.doesNotMatch(second.stdout, /\[WARN\] May Nightshift analyse its error patterns\?/, 'not asked again after the restart');
});
