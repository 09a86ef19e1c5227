import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { DEFAULT_ANSWER, FakeOllamaServer } from '../fakes/ollama/server.js';
import { botEnv, startBot } from '../helpers/cli.js';
import { addEmptyJob, BREAKING_LIB, FIXED_LIB, gitIn, gitState, libDiff, makeRepo, repairYaml, snapshot } from '../helpers/repair.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const MODEL = 'qwen2.5:7b';

function query<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/**
 * A pause point the target's own commands call (its test and build
 * commands, its git hooks): the Nth call of a name writes `reached-<name>`
 * and sleeps, so the test can kill Nightshift at exactly that step.
 */
const PAUSE = `#!/bin/sh
n=$(( $(cat "$CTL/count-$1" 2>/dev/null || echo 0) + 1 ))
echo $n > "$CTL/count-$1"
if [ -f "$CTL/pause-$1" ] && [ "$(cat "$CTL/pause-$1")" = "$n" ]; then
  touch "$CTL/reached-$1"
  sleep 120
fi
`;

interface Scenario {
  /** The pause point and which call of it (1: the first). */
  pause: string;
  call: number;
  /** The patch proposed: the fix, or one that breaks a test (so the repair rolls back). */
  lib: string;
  /** What a restart must leave: the fix committed, or the target exactly as it was. */
  expect: 'committed' | 'restored';
  /** The repair's state when it was killed. */
  killedIn: string;
}

/**
 * kill -9 of the real bot at one step of a repair, then a restart: the tree
 * is fully applied (committed) or fully restored, and the repair is never run
 * a second time.
 */
async function killDuring(t: TestContext, scenario: Scenario): Promise<void> {
  const ollama = await FakeOllamaServer.start({ models: [MODEL] });
  t.after(() => ollama.close());
  const repo = makeRepo(t);
  addEmptyJob(repo);
  const ctl = tempDir(t, 'nightshift-ctl-');
  writeFileSync(join(ctl, 'pause.sh'), PAUSE);
  writeFileSync(join(ctl, `pause-${scenario.pause}`), String(scenario.call));
  mkdirSync(join(repo, '.git', 'hooks'), { recursive: true });
  for (const hook of ['pre-commit', 'post-commit']) {
    writeFileSync(join(repo, '.git', 'hooks', hook), `#!/bin/sh\nexec sh ${JSON.stringify(join(ctl, 'pause.sh'))} ${hook}\n`);
    chmodSync(join(repo, '.git', 'hooks', hook), 0o755);
  }
  const pause = (name: string) => `sh ${join(ctl, 'pause.sh')} ${name}`;
  // No heal: the crash stays an open incident, which is what the model is asked about.
  const yaml = repairYaml(repo, { heal: false, target: `      build: ${JSON.stringify(pause('build'))}` }).replace(
    'test: node --test --test-reporter=tap',
    `test: ${JSON.stringify(`${pause('test')} && node --test --test-reporter=tap`)}`,
  );
  const cwd = tempDir(t);
  writeFileSync(join(cwd, 'nightshift.yml'), yaml);
  const env = botEnv(cwd, { OLLAMA_HOST: ollama.url, OLLAMA_MODEL: MODEL, CTL: ctl });
  const dbFile = join(cwd, 'data', 'nightshift.db');
  const before = snapshot(repo);
  const gitBefore = gitState(repo);

  const first = startBot(t, cwd, env);
  await first.started();
  first.send('/consent analysis on');
  first.send('/consent auto-repair on');
  await first.waitForOutput(/auto-repair: granted/);
  await waitFor(() => query<{ n: number }>(dbFile, "SELECT count(*) AS n FROM events WHERE type = 'check.failed'")[0]!.n > 0, { what: 'the worker to crash' });
  ollama.respondWith({ content: JSON.stringify({ ...DEFAULT_ANSWER, fix: { kind: 'diff', repository: 'worker', diff: libDiff(t, scenario.lib) } }) });
  first.send('/diagnose worker');
  const [, id] = await first.waitForOutput(/proposed fix (p\d+) waits for approval/, 30_000);
  first.send(`/approve ${id}`);
  await waitFor(() => existsSync(join(ctl, `reached-${scenario.pause}`)), { timeoutMs: 60_000, what: `the repair to reach ${scenario.pause}` });
  const [killed] = query<{ state: string }>(dbFile, `SELECT state FROM repairs WHERE id = '${id}'`);
  assert.equal(killed?.state, scenario.killedIn);
  first.kill('SIGKILL');
  await first.exit();
  rmSync(join(ctl, `pause-${scenario.pause}`));

  const second = startBot(t, cwd, env);
  await second.started();
  // The row itself, not the list: an empty list is truthy and would end the wait at once.
  const repair = await waitFor(
    () => query<{ state: string; reason: string | null }>(dbFile, `SELECT state, reason FROM repairs WHERE id = '${id}' AND finished_at IS NOT NULL`)[0],
    { timeoutMs: 60_000, what: 'the repair to be finished or rolled back' },
  );
  if (scenario.expect === 'restored') {
    assert.equal(repair.state, 'interrupted', repair.reason ?? '');
    assert.deepEqual(snapshot(repo), before);
    assert.equal(gitState(repo), gitBefore);
  } else {
    assert.equal(repair.state, 'committed', repair.reason ?? '');
    assert.equal(gitIn(repo, 'show', 'HEAD:lib.mjs'), FIXED_LIB.trimEnd());
    assert.deepEqual({ ...snapshot(repo), 'lib.mjs': before['lib.mjs'] }, before);
    assert.equal(readFileSync(join(repo, 'lib.mjs'), 'utf8'), FIXED_LIB);
  }
  // Never run twice: one start, one apply, across both runs.
  const steps = query<{ step: string }>(
    dbFile,
    "SELECT json_extract(context, '$.step') AS step FROM events WHERE type = 'repair.step' AND json_extract(context, '$.ok')",
  );
  assert.equal(query<{ n: number }>(dbFile, "SELECT count(*) AS n FROM events WHERE type = 'repair.started'")[0]!.n, 1);
  assert.ok(steps.filter((s) => s.step === 'apply').length <= 1);
  second.kill('SIGTERM');
  await second.exit();
}

test('kill -9 while the backup is taken (the ratchet baseline run): nothing was changed, nothing is left', async (t) => {
  await killDuring(t, { pause: 'test', call: 1, lib: FIXED_LIB, expect: 'restored', killedIn: 'backing-up' });
});

test('kill -9 right after the patch is written (during the build): restored on restart', async (t) => {
  await killDuring(t, { pause: 'build', call: 1, lib: FIXED_LIB, expect: 'restored', killedIn: 'applying' });
});

test('kill -9 during verification (the ratchet test run): restored on restart', async (t) => {
  await killDuring(t, { pause: 'test', call: 2, lib: FIXED_LIB, expect: 'restored', killedIn: 'verifying' });
});

test('kill -9 in the commit, before it is made (pre-commit hook): restored on restart', async (t) => {
  await killDuring(t, { pause: 'pre-commit', call: 1, lib: FIXED_LIB, expect: 'restored', killedIn: 'committing' });
});

test('kill -9 in the commit, after it is made (post-commit hook): finished as committed on restart', async (t) => {
  await killDuring(t, { pause: 'post-commit', call: 1, lib: FIXED_LIB, expect: 'committed', killedIn: 'committing' });
});

test('kill -9 during a rollback (its rebuild): the rollback is finished on restart', async (t) => {
  await killDuring(t, { pause: 'build', call: 2, lib: BREAKING_LIB, expect: 'restored', killedIn: 'rolling-back' });
});
