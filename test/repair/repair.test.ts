import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditLog } from '../../src/store/audit.js';
import { openDatabase } from '../../src/store/database.js';
import { RepairStore } from '../../src/store/repairs.js';
import {
  addEmptyJob,
  BREAKING_LIB,
  BUGGY_LIB,
  FIXED_LIB,
  gitIn,
  gitState,
  libDiff,
  makeRepo,
  repairYaml,
  snapshot,
  startRepairEngine,
} from '../helpers/repair.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const STRANGER = { channel: 'telegram', userId: '6666', chatId: '-1001' };

/** Waits until the repair has ended, and returns it. */
async function ended(bot: Awaited<ReturnType<typeof startRepairEngine>>, id: string) {
  await bot.engine.repairer.settled();
  return waitFor(
    () => {
      const repair = bot.repair(id);
      return repair && repair.finishedAt !== null ? repair : undefined;
    },
    { what: `repair ${id} to end` },
  );
}

test('a good patch is applied, the worker restarted and verified (patrols, regression command, ratchet), then committed', async (t) => {
  const repo = makeRepo(t);
  addEmptyJob(repo);
  const bot = await startRepairEngine(t, repairYaml(repo));
  // The bug is live: the worker crashes on the empty job.
  await waitFor(() => bot.events.ofType('check.failed').length > 0, { what: 'the worker to crash' });
  assert.match(await bot.say('/consent auto-repair on'), /auto-repair/);
  const before = snapshot(repo);
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB), regression: 'node scripts/regress.mjs' });
  assert.equal(proposal.status, 'proposed');
  const question = bot.alerts.find((m) => m.question?.questionId === proposal.questionId);
  assert.ok(question, 'the proposal is asked');
  assert.match(question.body ?? '', /Checked before asking:[\s\S]*git apply --check: applies cleanly[\s\S]*scanner: nothing found/);

  assert.match(await bot.say(`/approve ${proposal.id}`), /approved\. Auto-repair is on: repair p\d+ starts now/);
  const repair = await ended(bot, proposal.id);
  assert.equal(repair.state, 'committed', repair.reason ?? '');

  // The fix is committed by Nightshift with its trailer; nothing else went into the commit.
  assert.equal(gitIn(repo, 'show', 'HEAD:lib.mjs'), FIXED_LIB.trimEnd());
  assert.equal(gitIn(repo, 'rev-parse', 'HEAD'), repair.commitSha);
  assert.match(gitIn(repo, 'log', '-1', '--format=%an%n%B'), new RegExp(`^Nightshift\\n[\\s\\S]*Nightshift-Repair: ${proposal.id}$`));
  assert.deepEqual(gitIn(repo, 'show', '--name-only', '--format=', 'HEAD').split('\n'), ['lib.mjs']);
  // The operator's own work is untouched: the unstaged edit, the staged edit, the untracked and ignored files.
  const after = snapshot(repo);
  assert.deepEqual({ ...after, 'lib.mjs': before['lib.mjs'] }, before);
  assert.deepEqual(gitIn(repo, 'status', '--porcelain').split('\n'), ['M  NOTES.md', ' M README.md', ' M jobs.json', '?? todo.txt']);

  const steps = bot.events.ofType('repair.step').map((e) => `${e.context.step}:${e.context.ok}`);
  assert.deepEqual(steps, [
    'backup:true',
    'baseline:true',
    'apply:true',
    'restart:true',
    'verify-checks:true',
    'verify-regression:true',
    'verify-tests:true',
    'commit:true',
  ]);
  const baseline = new RepairStore(bot.db).baseline('worker')!;
  assert.deepEqual([baseline.passed, baseline.failed, baseline.repairId], [5, 0, proposal.id]);
  assert.ok(bot.alerts.some((m) => /Repair p\d+ on worker applied and verified: commit [0-9a-f]{12}/.test(m.title)));
  const scored = bot.db.prepare("SELECT score FROM actions WHERE category = 'repair'").all() as Array<{ score: number }>;
  assert.deepEqual(scored, [{ score: 1 }]);
  // Every step is in the hash-chained audit trail.
  assert.equal(new AuditLog(bot.db).verify().ok, true);
  assert.ok((bot.db.prepare("SELECT count(*) AS n FROM audit WHERE type = 'repair.step'").get() as { n: number }).n >= 8);
  // The worker now survives the empty job.
  await waitFor(() => bot.engine.checkState.get('worker')?.status === 'ok', { what: 'the worker healthy' });
});

test('a patch that breaks a test is rolled back by itself: the work tree is byte-identical, untracked and ignored files included', async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, repairYaml(repo));
  await bot.say('/consent auto-repair on');
  const before = snapshot(repo);
  const gitBefore = gitState(repo);
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, BREAKING_LIB), regression: 'node scripts/regress.mjs' });
  await bot.say(`/approve ${proposal.id}`);
  const repair = await ended(bot, proposal.id);
  assert.equal(repair.state, 'rolled-back');
  assert.match(repair.reason ?? '', /verify-tests: the tests went backwards: 4 passed, below the baseline of 5 and 1 failed, above the baseline of 0/);
  assert.deepEqual(snapshot(repo), before);
  assert.equal(gitState(repo), gitBefore);
  assert.equal(readFileSync(join(repo, 'lib.mjs'), 'utf8'), BUGGY_LIB);
  assert.ok(bot.alerts.some((m) => /Repair p\d+ on worker failed at verify-tests and was rolled back/.test(m.title)));
  // The ratchet did not move down with the failed run.
  const baseline = new RepairStore(bot.db).baseline('worker')!;
  assert.deepEqual([baseline.passed, baseline.failed], [5, 0]);
  assert.deepEqual(
    (bot.db.prepare("SELECT score FROM actions WHERE category = 'repair'").all() as Array<{ score: number }>).map((r) => r.score),
    [-1],
  );
});

test('a patch that does not fix the failure its regression command reproduces is rolled back', async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, repairYaml(repo));
  await bot.say('/consent auto-repair on');
  const before = snapshot(repo);
  const cosmetic = BUGGY_LIB.replace('export function perItem(job) {', '// Splits a job over its items.\nexport function perItem(job) {');
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, cosmetic), regression: 'node scripts/regress.mjs' });
  await bot.say(`/approve ${proposal.id}`);
  const repair = await ended(bot, proposal.id);
  assert.equal(repair.state, 'rolled-back');
  assert.match(repair.reason ?? '', /verify-regression: the regression command still fails \(exit 1\): RangeError: job empty: cannot split 10 over 0 items/);
  assert.deepEqual(snapshot(repo), before);
});

test('the same failure failing its repair 3 times needs a human: scored -2 and no fix for it is offered again', async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, repairYaml(repo, { repair: '  maxFailures: 2' }));
  await bot.say('/consent auto-repair on');
  for (let i = 0; i < 2; i++) {
    const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, BREAKING_LIB) });
    await bot.say(`/approve ${proposal.id}`);
    assert.equal((await ended(bot, proposal.id)).state, 'rolled-back');
    if (i === 1) assert.equal(bot.proposal(proposal.id)?.status, 'needs_human');
  }
  assert.deepEqual(
    (bot.db.prepare("SELECT score FROM actions WHERE category = 'repair' ORDER BY id").all() as Array<{ score: number }>).map((r) => r.score),
    [-1, -2],
  );
  const third = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  assert.equal(third.status, 'unfit');
  assert.match(third.unfitReason ?? '', /2 repairs of this failure failed already: it needs a human/);
});

test('a patch that adds eval( is never offered: recorded as diagnosis only, with the finding', async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, repairYaml(repo));
  const evil = FIXED_LIB.replace('return job.total / job.size;', 'return eval(`${job.total} / ${job.size}`);');
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, evil) });
  assert.equal(proposal.status, 'unfit');
  assert.equal(proposal.questionId, null);
  assert.match(proposal.unfitReason ?? '', /the scanner blocks it: .*eval/);
  assert.equal(bot.alerts.filter((m) => m.question).length, 0, 'nobody is asked');
  assert.ok(bot.alerts.some((m) => /Diagnosis only: the proposed fix p\d+ .* is not offered for approval: the scanner blocks it/.test(m.body ?? '')));
  assert.match(await bot.say(`/approve ${proposal.id}`), /diagnosis only, not offered for approval/);
  assert.match(await bot.say(`/apply ${proposal.id}`), /cannot be applied: the scanner blocks it/);
  assert.equal(bot.repair(proposal.id), undefined);
});

test('a proposal that does not apply, names no target, or reaches outside its target is never offered', async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, repairYaml(repo));
  // Written against a lib.mjs that is not the one in the tree.
  const stale = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB.replace('nothing', 'no thing'), FIXED_LIB) });
  assert.equal(stale.status, 'unfit');
  assert.match(stale.unfitReason ?? '', /does not apply to worker as it is now/);
  const nowhere = await bot.propose({ kind: 'diff', repository: '/srv/elsewhere', diff: libDiff(t, FIXED_LIB) });
  assert.match(nowhere.unfitReason ?? '', /names "\/srv\/elsewhere", not one of the repair targets \(worker\)/);
  const escape = await bot.propose({
    kind: 'diff',
    repository: 'worker',
    diff: libDiff(t, FIXED_LIB).replaceAll('a/lib.mjs', 'a/../x/lib.mjs').replaceAll('b/lib.mjs', 'b/../x/lib.mjs'),
  });
  assert.match(escape.unfitReason ?? '', /outside the target: \.\.\/x\/lib\.mjs climbs out/);
  const missing = await bot.propose({ kind: 'command', repository: 'worker', command: 'no-such-program --fix' });
  assert.match(missing.unfitReason ?? '', /its program "no-such-program" is not found/);
  const steps = await bot.propose({ kind: 'steps', steps: ['look at the worker'] });
  assert.match(steps.unfitReason ?? '', /steps for a person/);
  assert.equal(bot.alerts.filter((m) => m.question).length, 0);
  assert.equal(readFileSync(join(repo, 'lib.mjs'), 'utf8'), BUGGY_LIB);
});

test('/disable-surgery between approval and apply cancels it; after /enable-surgery it still is not applied', async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, repairYaml(repo));
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  assert.match(await bot.say(`/approve ${proposal.id}`), /Auto-repair is not granted: \/apply p\d+ applies it/);
  assert.match(await bot.say('/repairs'), new RegExp(`${proposal.id} \\[waiting for /apply\\]`));
  await bot.say('/disable-surgery', { channel: 'console', userId: 'console' });
  assert.equal(bot.proposal(proposal.id)?.status, 'cancelled');
  assert.match(await bot.say(`/apply ${proposal.id}`), /It was cancelled when surgery was disabled/);
  await bot.say('/enable-surgery');
  assert.match(await bot.say(`/apply ${proposal.id}`), /It was cancelled when surgery was disabled/);
  assert.equal(bot.repair(proposal.id), undefined);
  assert.equal(readFileSync(join(repo, 'lib.mjs'), 'utf8'), BUGGY_LIB);
});

test('/disable-surgery while the backup is being taken stops the repair before it writes anything', async (t) => {
  const repo = makeRepo(t);
  // The first test run (the ratchet's baseline) waits for the test to let it go.
  const yaml = repairYaml(repo).replace(
    'test: node --test --test-reporter=tap',
    'test: "touch started; while [ ! -f go ]; do sleep 0.05; done; rm -f started go; node --test --test-reporter=tap"',
  );
  const bot = await startRepairEngine(t, yaml);
  await bot.say('/consent auto-repair on');
  const before = snapshot(repo);
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  await bot.say(`/approve ${proposal.id}`);
  await waitFor(() => existsSync(join(repo, 'started')), { what: 'the baseline run to start' });
  await bot.say('/disable-surgery');
  writeFileSync(join(repo, 'go'), '');
  const repair = await ended(bot, proposal.id);
  assert.equal(repair.state, 'cancelled');
  assert.match(repair.reason ?? '', /surgery was disabled before the change was written/);
  assert.deepEqual(snapshot(repo), before);
  assert.ok(!bot.events.ofType('repair.step').some((e) => e.context.step === 'apply'));
});

test('/disable-surgery while the repair is being verified lets the verification finish, then rolls the change back', async (t) => {
  const repo = makeRepo(t);
  const ctl = tempDir(t, 'nightshift-ctl-');
  // The second test run (the ratchet's, after the change) waits for the test to let it go.
  const gate = `n=$(( $(cat ${ctl}/count 2>/dev/null || echo 0) + 1 )); echo $n > ${ctl}/count; if [ $n = 2 ]; then touch ${ctl}/started; while [ ! -f ${ctl}/go ]; do sleep 0.05; done; fi; node --test --test-reporter=tap`;
  const bot = await startRepairEngine(t, repairYaml(repo).replace('test: node --test --test-reporter=tap', `test: ${JSON.stringify(gate)}`));
  await bot.say('/consent auto-repair on');
  const before = snapshot(repo);
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  await bot.say(`/approve ${proposal.id}`);
  await waitFor(() => existsSync(join(ctl, 'started')), { timeoutMs: 20_000, what: 'the verification test run' });
  assert.equal(bot.repair(proposal.id)?.state, 'verifying');
  await bot.say('/disable-surgery');
  writeFileSync(join(ctl, 'go'), '');
  const repair = await ended(bot, proposal.id);
  assert.equal(repair.state, 'rolled-back');
  assert.match(repair.reason ?? '', /surgery was disabled while the repair was being verified/);
  // The verification ran to its end before the rollback.
  assert.ok(bot.events.ofType('repair.step').some((e) => e.context.step === 'verify-tests' && e.context.ok));
  assert.deepEqual(snapshot(repo), before);
});

test('a repair that outlasts repair.timeout is rolled back, and says it timed out rather than how its command died', async (t) => {
  const repo = makeRepo(t);
  const ctl = tempDir(t, 'nightshift-ctl-');
  // The second test run (the ratchet's, after the change) hangs.
  const hang = `n=$(( $(cat ${ctl}/count 2>/dev/null || echo 0) + 1 )); echo $n > ${ctl}/count; if [ $n = 2 ]; then sleep 60; fi; node --test --test-reporter=tap`;
  const yaml = repairYaml(repo)
    .replace('  timeout: 60s', '  timeout: 4s')
    .replace('test: node --test --test-reporter=tap', `test: ${JSON.stringify(hang)}`);
  const bot = await startRepairEngine(t, yaml);
  await bot.say('/consent auto-repair on');
  const before = snapshot(repo);
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  await bot.say(`/approve ${proposal.id}`);
  const repair = await ended(bot, proposal.id);
  assert.equal(repair.state, 'rolled-back');
  assert.match(repair.reason ?? '', /^verify-tests: the repair took longer than repair\.timeout \(4 s\)/);
  assert.deepEqual(snapshot(repo), before);
});

test('a command fix waits for /apply even with auto-repair granted, and is committed with what it changed', async (t) => {
  const repo = makeRepo(t);
  addEmptyJob(repo);
  writeFileSync(
    join(repo, 'scripts', 'drop-empty.mjs'),
    "import { readFileSync, writeFileSync } from 'node:fs';\nconst jobs = JSON.parse(readFileSync('jobs.json', 'utf8'));\nwriteFileSync('jobs.json', JSON.stringify(jobs.filter((j) => j.size > 0)));\n",
  );
  gitIn(repo, 'add', 'scripts/drop-empty.mjs', 'jobs.json');
  gitIn(repo, 'commit', '-q', '-m', 'add the cleanup script');
  const bot = await startRepairEngine(t, repairYaml(repo));
  await bot.say('/consent auto-repair on');
  const proposal = await bot.propose({ kind: 'command', repository: 'worker', command: 'node scripts/drop-empty.mjs', verify: 'node -e "process.exit(0)"' });
  assert.equal(proposal.status, 'proposed');
  const question = bot.alerts.find((m) => m.question?.questionId === proposal.questionId)!;
  assert.match(question.body ?? '', /\(command, irreversible\)[\s\S]*command -v node: [\s\S]*irreversible: .* always waits for \/apply/);
  assert.match(await bot.say(`/approve ${proposal.id}`), /A command is irreversible: it runs only when an operator sends \/apply p\d+/);
  assert.equal(bot.repair(proposal.id), undefined, 'not started by auto-repair');
  assert.match(await bot.say(`/apply ${proposal.id}`), /Repair p\d+ started on worker/);
  const repair = await ended(bot, proposal.id);
  assert.equal(repair.state, 'committed', repair.reason ?? '');
  assert.deepEqual(gitIn(repo, 'show', '--name-only', '--format=', 'HEAD').split('\n'), ['jobs.json']);
  assert.match(await bot.say(`/apply ${proposal.id}`), /already ran: committed\. A repair never runs twice/);
});

test("a stranger's /apply and /rollback change nothing and are audited", async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, repairYaml(repo));
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  await bot.say(`/approve ${proposal.id}`);
  const reply = await bot.say(`/apply ${proposal.id}`, STRANGER);
  assert.doesNotMatch(reply, /started/);
  await bot.say(`/rollback ${proposal.id}`, STRANGER);
  assert.equal(bot.repair(proposal.id), undefined);
  assert.equal(readFileSync(join(repo, 'lib.mjs'), 'utf8'), BUGGY_LIB);
  assert.ok(bot.events.ofType('chat.refused').length >= 1);
});

test('/rollback of a kept repair restores its backup exactly; refused once the branch has moved on', async (t) => {
  const repo = makeRepo(t);
  const bot = await startRepairEngine(t, repairYaml(repo));
  await bot.say('/consent auto-repair on');
  const before = snapshot(repo);
  const gitBefore = gitState(repo);
  const first = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  await bot.say(`/approve ${first.id}`);
  assert.equal((await ended(bot, first.id)).state, 'committed');
  assert.match(await bot.say(`/rollback ${first.id}`), /rolled back: the folder is as it was before it/);
  assert.deepEqual(snapshot(repo), before);
  assert.equal(gitState(repo), gitBefore);
  assert.equal(bot.repair(first.id)?.state, 'rolled-back');
  assert.match(await bot.say('/repairs'), new RegExp(`${first.id} \\[rolled-back\\] worker`));

  const second = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  await bot.say(`/approve ${second.id}`);
  assert.equal((await ended(bot, second.id)).state, 'committed');
  writeFileSync(join(repo, 'later.txt'), 'more work\n');
  gitIn(repo, 'add', 'later.txt');
  gitIn(repo, 'commit', '-q', '-m', 'later work');
  assert.match(await bot.say(`/rollback ${second.id}`), /not rolled back: HEAD has moved on .*\(git revert [0-9a-f]{12}\)\. Nothing was changed/);
  assert.equal(readFileSync(join(repo, 'lib.mjs'), 'utf8'), FIXED_LIB);
});

test('a plain folder (not a git work tree) is backed up by copy and restored exactly', async (t) => {
  const repo = makeRepo(t, { plain: true });
  const bot = await startRepairEngine(t, repairYaml(repo));
  await bot.say('/consent auto-repair on');
  const before = snapshot(repo);
  const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, BREAKING_LIB) });
  assert.match(proposal.checked.join('\n'), /a plain folder/);
  await bot.say(`/approve ${proposal.id}`);
  assert.equal((await ended(bot, proposal.id)).state, 'rolled-back');
  assert.deepEqual(snapshot(repo), before);
  const good = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB) });
  await bot.say(`/approve ${good.id}`);
  const kept = await ended(bot, good.id);
  assert.equal(kept.state, 'committed');
  assert.equal(kept.commitSha, null);
  assert.equal(readFileSync(join(repo, 'lib.mjs'), 'utf8'), FIXED_LIB);
});

test('the ratchet baseline only moves forward', (t) => {
  const db = openDatabase(join(tempDir(t), 'nightshift.db'));
  t.after(() => db.close());
  const store = new RepairStore(db);
  store.advanceBaseline('worker', { passed: 10, failed: 2, format: 'tap' }, 1, null);
  store.advanceBaseline('worker', { passed: 8, failed: 5, format: 'tap' }, 2, 'p1');
  assert.deepEqual([store.baseline('worker')!.passed, store.baseline('worker')!.failed], [10, 2]);
  store.advanceBaseline('worker', { passed: 12, failed: 1, format: 'tap' }, 3, 'p2');
  assert.deepEqual([store.baseline('worker')!.passed, store.baseline('worker')!.failed], [12, 1]);
});
