/**
 * Chaos: the real bot (`bin/nightshift.js start`, a child process, one data
 * dir kept throughout) killed with SIGKILL at a random point of each round
 * while an alert storm and agent reports are posted to it, chat traffic
 * arrives on Telegram, Discord and ntfy (the fakes, in this process: they
 * outlive the kills), the outbox delivers, a diagnosis proposes a fix, an
 * approval is answered from chat and the repair runs (Level 3, a real git
 * target). Then one clean start to settle, SIGTERM, and the invariants:
 * every accepted report stored once, every outbox row delivered (never twice
 * on Discord, which deduplicates by nonce; Telegram and ntfy counted), no
 * repair run twice or left half done, the consent switches as last set, the
 * audit chain and the database intact. Exit 1 when one breaks.
 *
 *   npm run chaos                        (CHAOS_ROUNDS=20, CHAOS_SEED=1234 to replay a run)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeDiscord } from '../test/fakes/discord/server.js';
import { FakeNtfyServer } from '../test/fakes/ntfy/server.js';
import { FakeOllamaServer } from '../test/fakes/ollama/server.js';
import { FakeTelegram } from '../test/fakes/telegram/server.js';
import { BotProcess, botEnv, runCli } from '../test/helpers/cli.js';
import { DISCORD, TELEGRAM_TOKEN, platformEnv } from '../test/helpers/platforms.js';
import { processesWith } from '../test/helpers/processes.js';
import { BUGGY_LIB, FIXED_LIB, addEmptyJob, gitIn, makeRepo, repairYaml, snapshot } from '../test/helpers/repair.js';
import { tempDir, waitFor } from '../test/helpers/temp.js';
import { gitStatus, outboxFigures, query, repairFigures, storedConsent, storedOnce } from './lib/chaos-invariants.js';
import { IngestStorm } from './lib/chaos-load.js';
import { CHAOS_PEOPLE, ChaosOperator } from './lib/chaos-operator.js';
import { SeededRandom } from './lib/chaos-random.js';
import { fixtureContext } from './lib/fixture-context.js';
import { machineInfo, round } from './lib/proc-stats.js';

const ROUNDS = Number(process.env.CHAOS_ROUNDS ?? 100);
const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** The whole run stays under 10 minutes: rounds stop here, leaving time for the settle and the checks. */
const ROUNDS_BUDGET_MS = 8 * 60_000;
/**
 * A round's kill comes this long after the spawn: sometimes during start-up,
 * mostly with everything in flight; about one round in seven is long enough for a
 * repair to get as far as its commit.
 */
const KILL_AFTER_MS = { min: 150, max: 3500, longShare: 0.15, longMax: 10_000 };
const MODEL = 'qwen2.5:7b';
const MATCHED_ALERT = 'ChaosFiring';
const TOKENS = { alertmanager: 'chaos-alertmanager-token-5f2a9c', agent: 'chaos-agent-token-81d4e0b7' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const startedAt = performance.now();
const { t, cleanUp } = fixtureContext();
let failed = false;

try {
  console.log(`chaos: seed ${SEED} (replay with CHAOS_SEED=${SEED}), ${ROUNDS} rounds`);
  const random = new SeededRandom(SEED);
  const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN, chats: [CHAOS_PEOPLE.telegramChat] });
  const ntfy = await FakeNtfyServer.start();
  const discord = await FakeDiscord.start({ ...DISCORD, heartbeatIntervalMs: 5000 });
  const ollama = await FakeOllamaServer.start({ models: [MODEL] });
  t.after(() => Promise.all([telegram.close(), ntfy.close(), discord.close(), ollama.close()]));
  const fakes = { telegram, discord, ntfy, ntfyTopic: 'alerts' };

  // The repair target: a worker that crashes on a job of size 0, its tests, and uncommitted state a repair must keep.
  const repo = makeRepo(t);
  addEmptyJob(repo);
  const before = { files: snapshot(repo), status: gitStatus(repo) };
  t.after(() => processesWith(repo).forEach((pid) => process.kill(pid, 'SIGKILL')));

  const cwd = tempDir(t, 'nightshift-chaos-');
  const dataDir = join(cwd, 'data');
  const dbFile = join(dataDir, 'nightshift.db');
  const chat = [
    'chat:',
    '  groupWait: 0s',
    `  telegram: { admins: [${CHAOS_PEOPLE.telegramChat}] }`,
    `  discord: { admins: { users: ["${CHAOS_PEOPLE.discordAdmin}"] } }`,
    '  ntfy: { role: viewer }',
  ].join('\n');
  const yaml = repairYaml(repo, { heal: false, checks: ['  - name: fleet', '    kind: alert', `    match: { alertname: ${MATCHED_ALERT} }`].join('\n') })
    .replace('chat: { groupWait: 0s }', chat)
    // The worker by its full path: a worker orphaned by a kill is findable (and the bot's own orphan handling is what stops it).
    .replace('worker.mjs]', `${JSON.stringify(join(repo, 'worker.mjs'))}]`);
  writeFileSync(join(cwd, 'nightshift.yml'), yaml);
  const env = {
    ...botEnv(cwd),
    ...platformEnv({
      dataDir,
      telegram: { apiRoot: telegram.apiRoot, chatId: CHAOS_PEOPLE.telegramChat },
      ntfy: { url: ntfy.url, topic: 'alerts', replyTopic: 'replies' },
      discord: { apiUrl: discord.apiUrl },
    }),
    OLLAMA_HOST: ollama.url,
    OLLAMA_MODEL: MODEL,
    NIGHTSHIFT_ALERTMANAGER_TOKEN: TOKENS.alertmanager,
    NIGHTSHIFT_AGENT_TOKEN: TOKENS.agent,
  };
  const spawnBot = () => {
    const bot = new BotProcess(['start'], { cwd, env });
    t.after(() => bot.kill('SIGKILL'));
    return bot;
  };

  // A clean first start: the consents granted from the console, the worker seen crashing.
  const first = spawnBot();
  await first.started();
  first.send('/consent analysis on');
  first.send('/consent auto-repair on');
  await first.waitForOutput(/auto-repair: granted/);
  await waitFor(() => query<{ n: number }>(dbFile, "SELECT count(*) AS n FROM events WHERE type = 'check.failed'")[0]!.n > 0, {
    timeoutMs: 30_000,
    what: 'the worker to crash',
  });
  first.kill('SIGTERM');
  await first.exit();

  const operator = new ChaosOperator(t, { ...fakes, ollama }, dbFile, random);
  const storm = new IngestStorm({
    alertmanagerToken: TOKENS.alertmanager,
    agentToken: TOKENS.agent,
    matchedAlertName: MATCHED_ALERT,
    everyMs: 60,
    // A stream of its own: the load's draws depend on timing, the rounds' do not (a seed replays the kill points).
    random: new SeededRandom(SEED ^ 0x5bd1e995),
  });
  storm.start();
  const killedIn: Record<string, number> = {};
  const libNow = () => gitIn(repo, 'show', 'HEAD:lib.mjs');
  let kills = 0;
  let rounds = 0;
  let reverts = 0;
  for (; rounds < ROUNDS && performance.now() - startedAt < ROUNDS_BUDGET_MS; rounds++) {
    // Between rounds (the bot is down), a kept fix is undone by a developer's commit, so the next round has a bug to repair.
    const lastRepair = query<{ state: string; finished_at: number | null }>(
      dbFile,
      'SELECT state, finished_at FROM repairs ORDER BY started_at DESC LIMIT 1',
    )[0];
    if (lastRepair?.state === 'committed' && lastRepair.finished_at !== null && libNow() === FIXED_LIB.trimEnd()) {
      writeFileSync(join(repo, 'lib.mjs'), BUGGY_LIB);
      gitIn(repo, 'commit', '-q', '-m', 'bring the size check back', '--', 'lib.mjs');
      reverts++;
    }
    const killAfter = random.chance(KILL_AFTER_MS.longShare)
      ? random.int(KILL_AFTER_MS.max, KILL_AFTER_MS.longMax)
      : random.int(KILL_AFTER_MS.min, KILL_AFTER_MS.max);
    const bot = spawnBot();
    const spawnedAt = performance.now();
    let startMs: number | undefined;
    const deadline = sleep(killAfter);
    const inFlight = bot.started().then(
      async (address) => {
        // The line may be read after the kill: a dead bot gets no traffic.
        if (bot.child.signalCode !== null) return;
        startMs = performance.now() - spawnedAt;
        storm.aimAt(address);
        operator.act(bot, libNow() === BUGGY_LIB.trimEnd());
        while (!operator.poll() && bot.child.exitCode === null && bot.child.signalCode === null) await sleep(200);
      },
      () => undefined, // killed before it said it started
    );
    await deadline;
    const repairState = query<{ state: string }>(dbFile, 'SELECT state FROM repairs WHERE finished_at IS NULL LIMIT 1')[0]?.state;
    const up = bot.stdout.includes('"msg":"nightshift started"');
    const phase = up ? (repairState ? `repair ${repairState}` : 'no repair running') : repairState ? `start-up, repair left ${repairState}` : 'start-up';
    killedIn[phase] = (killedIn[phase] ?? 0) + 1;
    bot.kill('SIGKILL');
    storm.aimAt(undefined);
    await bot.exit();
    // started() gives up as soon as the bot is gone, so this is quick for a bot killed during start-up too.
    await inFlight;
    kills++;
    console.log(
      `round ${rounds + 1}: killed ${killAfter} ms after the spawn (${startMs === undefined ? 'before it started' : `started after ${round(startMs, 0)} ms`}), during ${phase}; ${storm.accepted.length} reports accepted so far, ${round((performance.now() - startedAt) / 1000)} s`,
    );
  }
  await storm.stop();

  // One last clean start: what was cut off is finished or undone, the outbox drains, then SIGTERM.
  const last = spawnBot();
  await last.started();
  operator.resendSwitch();
  await waitFor(
    () => {
      const pending = query<{ n: number }>(dbFile, "SELECT count(*) AS n FROM outbox WHERE status = 'pending'")[0]!.n;
      const unfinished = query<{ n: number }>(dbFile, 'SELECT count(*) AS n FROM repairs WHERE finished_at IS NULL')[0]!.n;
      return pending === 0 && unfinished === 0 && operator.confirmed();
    },
    { timeoutMs: 90_000, intervalMs: 500, what: 'the outbox to drain and every repair to finish' },
  ).catch((err: unknown) => console.log(`settle: ${err instanceof Error ? err.message : String(err)}`));
  // discord.js still logging in can outlast the 2 s stop budget: stop once it is connected.
  await last.waitForOutput(/discord slash commands registered/, 30_000).catch(() => undefined);
  last.kill('SIGTERM');
  const lastExit = await last.exit();

  const audit = runCli(['audit', 'verify'], cwd, env);
  const dbCheck = runCli(['db', 'check'], cwd, env);
  const events = storedOnce(dbFile, storm.posted);
  const outbox = outboxFigures(dbFile, fakes);
  const repairs = repairFigures(dbFile, repo, before);
  const consent = storedConsent(dbFile);
  const consentIntact = Object.entries(operator.expected).every(([name, value]) => consent[name] === value);
  const leftRunning = processesWith(repo).length;
  const seconds = round((performance.now() - startedAt) / 1000);

  console.log(
    `kills: ${kills} in ${rounds} rounds, killed during: ${Object.entries(killedIn)
      .map(([phase, n]) => `${phase} ${n}`)
      .join(', ')}`,
  );
  console.log(`reports: ${storm.posted.length} posted, ${events.accepted} accepted; lost ${events.lost}, duplicated ${events.duplicated}`);
  console.log(
    `outbox: ${outbox.queued} rows, ${outbox.delivered} delivered, ${outbox.undelivered} undelivered; sent twice: discord ${outbox.duplicatedOnIdempotentChannel} (nonce), telegram ${outbox.duplicatedOnOthers.telegram}, ntfy ${outbox.duplicatedOnOthers.ntfy} (at-least-once)`,
  );
  console.log(
    `operator: ${operator.asked.diagnoses} diagnoses asked, ${operator.asked.approvals} approvals sent, ${operator.asked.switchFlips} surgery flips, ${operator.asked.chatMessages} chat messages; ${reverts} fixes undone by the developer between rounds`,
  );
  console.log(
    `repairs: ${repairs.repairs} (${
      Object.entries(repairs.states)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ') || 'none'
    }); applied twice ${repairs.appliedTwice}, half-applied ${repairs.halfApplied}`,
  );
  for (const problem of repairs.problems) console.log(`  ${problem}`);
  console.log(`consent: expected ${JSON.stringify(operator.expected)}, stored ${JSON.stringify(consent)}: ${consentIntact ? 'intact' : 'NOT INTACT'}`);
  console.log(`audit verify: exit ${audit.code} ${audit.stdout.trim().split('\n').at(-1) ?? ''}`);
  console.log(`db check: exit ${dbCheck.code} ${dbCheck.stdout.trim().split('\n').at(-1) ?? ''}`);
  console.log(`last stop (SIGTERM): exit ${lastExit.code}; supervised workers left running: ${leftRunning}`);

  const auditVerifies = audit.code === 0;
  const dbOk = dbCheck.code === 0;
  failed =
    events.lost > 0 ||
    events.duplicated > 0 ||
    outbox.undelivered > 0 ||
    outbox.duplicatedOnIdempotentChannel > 0 ||
    repairs.appliedTwice > 0 ||
    repairs.halfApplied > 0 ||
    !consentIntact ||
    !auditVerifies ||
    !dbOk;
  console.log(failed ? 'chaos: an invariant broke (above)' : 'chaos: every invariant held');
  console.log(
    JSON.stringify({
      bench: 'chaos',
      seed: SEED,
      rounds,
      kills,
      lost: events.lost,
      duplicated: events.duplicated,
      accepted: events.accepted,
      outbox,
      approvalsAppliedTwice: repairs.appliedTwice,
      repairsHalfApplied: repairs.halfApplied,
      repairs: repairs.states,
      killedIn,
      consentIntact,
      auditVerifies,
      dbCheck: dbOk,
      seconds,
      machine: machineInfo(),
    }),
  );
} catch (err) {
  console.error(err);
  failed = true;
} finally {
  await cleanUp();
  process.exitCode = failed ? 1 : 0;
}
