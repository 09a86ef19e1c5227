import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, lstatSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { commands } from '../../commands/index.js';
import { Dispatcher } from '../../src/bot/dispatch.js';
import type { Identity, OutgoingMessage } from '../../src/chat/channel.js';
import { systemClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import type { ProposedFix } from '../../src/diagnose/proposals.js';
import { Engine } from '../../src/engine.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { openDatabase } from '../../src/store/database.js';
import { DiagnosisStore } from '../../src/store/diagnoses.js';
import { EventLog } from '../../src/store/events.js';
import { RepairStore } from '../../src/store/repairs.js';
import { keepOnTestEnd } from '../fakes/artefacts.js';
import { tempDir } from './temp.js';

/** The buggy line of the worker's library, and the fixed one: a job of size 0 crashes the worker. */
export const BUGGY_LIB = `export function perItem(job) {
  if (job.size === 0) throw new RangeError(\`job \${job.id}: cannot split \${job.total} over 0 items\`);
  return job.total / job.size;
}

export function label(job) {
  return \`\${job.id}:\${job.size}\`;
}
`;
export const FIXED_LIB = BUGGY_LIB.replace(
  '  if (job.size === 0) throw new RangeError(`job ${job.id}: cannot split ${job.total} over 0 items`);\n',
  '  // An empty job has nothing to split.\n  if (job.size === 0) return 0;\n',
);
/** "Fixes" the crash and breaks label(): a test that passed now fails. */
export const BREAKING_LIB = FIXED_LIB.replace('return `${job.id}:${job.size}`;', 'return String(job.id);');

/** A worker that processes jobs.json every 50 ms and crashes (uncaught) on a job of size 0. */
const WORKER = `import { readFileSync } from 'node:fs';
import { perItem } from './lib.mjs';

function tick() {
  const jobs = JSON.parse(readFileSync(new URL('./jobs.json', import.meta.url), 'utf8'));
  for (const job of jobs) perItem(job);
}
tick();
setInterval(tick, 50);
`;

/** Reproduces the crash: exit 1 while a job of size 0 throws. */
const REGRESSION = `import { perItem } from '../lib.mjs';
try {
  perItem({ id: 'empty', total: 10, size: 0 });
  console.log('a job of size 0 is handled');
} catch (err) {
  console.error(String(err));
  process.exit(1);
}
`;

function testFile(count: number): string {
  const cases = [
    `test('label names id and size', () => assert.equal(label({ id: 'a', size: 3 }), 'a:3'));`,
    ...Array.from(
      { length: Math.max(0, count - 1) },
      (_, i) => `test('splits ${i + 1}', () => assert.equal(perItem({ id: 'j${i}', total: ${(i + 1) * 2}, size: 2 }), ${i + 1}));`,
    ),
  ];
  return `import assert from 'node:assert/strict';\nimport { test } from 'node:test';\nimport { label, perItem } from '../lib.mjs';\n\n${cases.join('\n')}\n`;
}

export interface RepoOptions {
  /** Tests in the suite (default 5). */
  tests?: number;
  /** Not a git work tree: a plain folder. */
  plain?: boolean;
}

/**
 * A real project in a temp folder: a worker (lib.mjs has the bug), a node
 * --test suite, a regression script, a job list with a size-0 job, and the
 * kinds of state a backup must keep: an uncommitted edit, a staged edit, an
 * untracked file and ignored files (build/, *.log).
 */
export function makeRepo(t: TestContext, options: RepoOptions = {}): string {
  const dir = tempDir(t, 'nightshift-target-');
  mkdirSync(join(dir, 'test'));
  mkdirSync(join(dir, 'scripts'));
  writeFileSync(join(dir, 'lib.mjs'), BUGGY_LIB);
  writeFileSync(join(dir, 'worker.mjs'), WORKER);
  writeFileSync(join(dir, 'test', 'lib.test.mjs'), testFile(options.tests ?? 5));
  writeFileSync(join(dir, 'scripts', 'regress.mjs'), REGRESSION);
  writeFileSync(join(dir, 'jobs.json'), JSON.stringify([{ id: 'a', total: 10, size: 2 }]));
  writeFileSync(join(dir, 'README.md'), '# worker\n');
  writeFileSync(join(dir, 'NOTES.md'), 'notes\n');
  writeFileSync(join(dir, '.gitignore'), 'build/\n*.log\n');
  if (!options.plain) {
    gitIn(dir, 'init', '-q', '-b', 'main');
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-q', '-m', 'initial');
  }
  // State that is not committed: an edit, a staged edit, an untracked file, ignored files.
  writeFileSync(join(dir, 'README.md'), '# worker\n\nwork in progress\n');
  writeFileSync(join(dir, 'NOTES.md'), 'notes, staged\n');
  if (!options.plain) gitIn(dir, 'add', 'NOTES.md');
  writeFileSync(join(dir, 'todo.txt'), 'untracked\n');
  mkdirSync(join(dir, 'build'));
  writeFileSync(join(dir, 'build', 'out.txt'), 'ignored build output\n');
  writeFileSync(join(dir, 'worker.log'), 'ignored log\n');
  return dir;
}

/** Makes the worker crash: a job of size 0. */
export function addEmptyJob(dir: string): void {
  writeFileSync(
    join(dir, 'jobs.json'),
    JSON.stringify([
      { id: 'a', total: 10, size: 2 },
      { id: 'empty', total: 10, size: 0 },
    ]),
  );
}

export function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@example.com' },
  }).trim();
}

/** A unified diff turning lib.mjs into `content`, as git writes it (paths a/lib.mjs b/lib.mjs). */
export function libDiff(t: TestContext, content: string, from = BUGGY_LIB): string {
  const dir = tempDir(t, 'nightshift-diff-');
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  writeFileSync(join(dir, 'a', 'lib.mjs'), from);
  writeFileSync(join(dir, 'b', 'lib.mjs'), content);
  try {
    execFileSync('git', ['diff', '--no-index', '--no-prefix', 'a/lib.mjs', 'b/lib.mjs'], { cwd: dir, encoding: 'utf8' });
    throw new Error('the two versions are the same');
  } catch (err) {
    const out = (err as { stdout?: string }).stdout;
    if (!out) throw err;
    // --no-prefix keeps the a/ and b/ folder names as the prefixes git apply expects.
    return out;
  }
}

/**
 * Every file under a folder with its bytes (symlinks as their target),
 * .git left out: two snapshots are equal when the folder is byte-identical.
 */
export function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    for (const entry of readdirSync(path).sort()) {
      if (rel === '' && entry === '.git') continue;
      const full = join(path, entry);
      const name = rel ? `${rel}/${entry}` : entry;
      const stat = lstatSync(full);
      if (stat.isSymbolicLink()) files[name] = `-> ${readlinkSync(full)}`;
      else if (stat.isDirectory()) walk(full, name);
      else files[name] = `${stat.mode & 0o111 ? 'x ' : ''}${readFileSync(full, 'base64')}`;
    }
  };
  walk(dir, '');
  return files;
}

/** What git says of the tree: HEAD, the staged and unstaged state (one string, for equality). */
export function gitState(dir: string): string {
  return [gitIn(dir, 'rev-parse', 'HEAD'), gitIn(dir, 'status', '--porcelain=v1', '--untracked-files=all', '--ignored'), gitIn(dir, 'diff', '--cached')].join(
    '\n---\n',
  );
}

/** nightshift.yml for a worker check on `repo` and the repo as a repair target. */
export function repairYaml(repo: string, extra: { target?: string; repair?: string; checks?: string; heal?: boolean } = {}): string {
  return [
    'patrol: { interval: 200ms }',
    'chat: { groupWait: 0s }',
    'diagnose: { weekly: "off" }',
    'repair:',
    '  verifyPatrols: 3',
    '  timeout: 60s',
    ...(extra.repair ? [extra.repair] : []),
    '  targets:',
    `    - name: worker`,
    `      path: ${JSON.stringify(repo)}`,
    '      checks: [worker]',
    '      test: node --test --test-reporter=tap',
    ...(extra.target ? [extra.target] : []),
    'checks:',
    '  - name: worker',
    '    kind: process',
    `    command: [${JSON.stringify(process.execPath)}, worker.mjs]`,
    `    cwd: ${JSON.stringify(repo)}`,
    ...(extra.heal === false ? [] : ['    heal: [restart]']),
    ...(extra.checks ? [extra.checks] : []),
    '',
  ].join('\n');
}

/**
 * The engine the bot runs, with real probes (the worker is a real child
 * process), a started patrol and the real command dispatcher; messages it
 * would send are collected. `say` types a command as someone.
 */
export async function startRepairEngine(t: TestContext, yaml: string, options: { dataDir?: string } = {}) {
  const dataDir = options.dataDir ?? tempDir(t);
  const db = openDatabase(join(dataDir, 'nightshift.db'));
  const redactor = new Redactor();
  const { logger, lines } = createCapturedLogger(redactor);
  const events = new EventLog(db, redactor);
  const config = parseConfig(yaml, 'test.yml', { TZ: 'UTC', NIGHTSHIFT_HTTP: '127.0.0.1:0', NIGHTSHIFT_DATA_DIR: dataDir }, dataDir);
  const alerts: OutgoingMessage[] = [];
  const engine = new Engine({
    config,
    db,
    events,
    clock: systemClock,
    log: logger,
    redactor,
    send: (message) => void alerts.push(message),
    publicUrl: 'http://127.0.0.1:8787',
    startedAt: Date.now(),
  });
  const dispatcher = new Dispatcher({
    commands,
    services: engine.services,
    log: logger,
    clock: systemClock,
    roleOf: engine.roleOf,
    onRefused: (invoker, what) => engine.refusals.refuse(invoker, what, Date.now()),
  });
  await engine.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await engine.stop();
    db.close();
  };
  t.after(stop);
  keepOnTestEnd(t, 'repair-engine', () => [...lines(), ...alerts]);
  const diagnoses = new DiagnosisStore(db);
  return {
    engine,
    db,
    events,
    alerts,
    lines,
    dataDir,
    stop,
    say: async (text: string, from: Identity = OWNER) => (await dispatcher.dispatch(text, from)).text,
    /** A diagnosis of the worker's crash proposing `fix`, vetted and (when applicable) asked. */
    propose: async (fix: ProposedFix) => {
      const diagnosisId = diagnoses.add({
        at: Date.now(),
        trigger: 'command',
        signature: 'worker:crash',
        subject: 'worker',
        analysis: {},
        llm: null,
        llmError: null,
        message: 'worker crashes on a job of size 0',
      });
      return engine.proposals.propose(diagnosisId, fix, `Diagnosis #${diagnosisId}: root cause worker`, 'worker crashes on a job of size 0', 'worker:crash');
    },
    repair: (id: string) => new RepairStore(db).get(id),
    proposal: (id: string) => diagnoses.proposal(id),
  };
}

/** The machine's owner at the console (admin). */
export const OWNER: Identity = { channel: 'console', userId: 'console' };
