/**
 * Level 3, approval to verified commit: a small real project (a worker
 * process and a 50-test node --test suite) in a real git repository, a fix
 * proposed and vetted (git apply --check, scanner), approved with /approve
 * through the real dispatcher, then the real repair: backup (git objects and
 * a copy of the ignored files), the ratchet's first test run, apply,
 * restart of the worker, the worker healthy for 3 patrols (patrol interval
 * 1 s), the regression command, the ratchet test run, commit. Prints each
 * step's time (from the audited repair.step events) for every run, then
 * medians; the last line is one JSON object.
 *
 *   npm run bench:repair            (RUNS=5 npm run bench:repair for more runs)
 */
import { fixtureContext } from './lib/fixture-context.js';
import { machineInfo, round } from './lib/proc-stats.js';
import { addEmptyJob, FIXED_LIB, libDiff, makeRepo, repairYaml, startRepairEngine } from '../test/helpers/repair.js';

const RUNS = Number(process.env.RUNS ?? 3);
const TESTS = 50;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const runs: Array<{ totalMs: number; vetMs: number; steps: Record<string, number> }> = [];
const { t, cleanUp } = fixtureContext();
try {
  for (let i = 0; i < RUNS; i++) {
    const repo = makeRepo(t, { tests: TESTS });
    addEmptyJob(repo);
    const bot = await startRepairEngine(t, repairYaml(repo).replace('patrol: { interval: 200ms }', 'patrol: { interval: 1s }'));
    await bot.say('/consent auto-repair on');
    const vetStart = performance.now();
    const proposal = await bot.propose({ kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB), regression: 'node scripts/regress.mjs' });
    const vetMs = performance.now() - vetStart;
    if (proposal.status !== 'proposed') throw new Error(`the proposal was not offered: ${proposal.unfitReason}`);
    const start = performance.now();
    await bot.say(`/approve ${proposal.id}`);
    await bot.engine.repairer.settled();
    const totalMs = performance.now() - start;
    const repair = bot.repair(proposal.id);
    if (repair?.state !== 'committed') throw new Error(`repair ${proposal.id} ended ${repair?.state}: ${repair?.reason}`);
    const steps = Object.fromEntries(bot.events.ofType('repair.step').map((e) => [e.context.step, e.context.ms]));
    runs.push({ totalMs, vetMs, steps });
    console.log(
      `run ${i + 1}: approval to commit ${round(totalMs)} ms (vetting before asking ${round(vetMs)} ms): ${Object.entries(steps)
        .map(([s, ms]) => `${s} ${ms} ms`)
        .join(', ')}`,
    );
    await bot.stop();
  }
  const stepNames = Object.keys(runs[0]?.steps ?? {});
  const medians = Object.fromEntries(stepNames.map((s) => [s, median(runs.map((r) => r.steps[s] ?? 0))]));
  console.log(
    JSON.stringify({
      bench: 'repair',
      runs: RUNS,
      tests: TESTS,
      patrolIntervalMs: 1000,
      verifyPatrols: 3,
      approvalToCommitMs: { median: round(median(runs.map((r) => r.totalMs))), all: runs.map((r) => round(r.totalMs)) },
      vetMs: round(median(runs.map((r) => r.vetMs))),
      stepMsMedian: medians,
      machine: machineInfo(),
    }),
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
