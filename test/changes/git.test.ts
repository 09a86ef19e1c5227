import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gitIn, makeRepo } from '../helpers/repair.js';
import { changeStore, commitAt, gitEnvAt, pastClock, watchConfig } from './harness.js';

const checks = 'checks:\n  - { name: api, kind: file, path: /tmp/api.ok }\n  - { name: worker, kind: file, path: /tmp/worker.ok }\n';
const watching = (repo: string, name = 'api', extra = '') =>
  `watch:\n  repos:\n    - { name: ${name}, path: ${JSON.stringify(repo)}, checks: [api] }\n${extra}${checks}`;

test('git: HEAD moved is one change event with the commit count, the latest subject and the reflog time of the move', async (t) => {
  const repo = makeRepo(t);
  const clock = pastClock();
  const store = changeStore(t, { clock });
  const watcher = store.run(watchConfig(watching(repo), repo));
  const start = clock.now();
  const before = gitIn(repo, 'rev-parse', 'HEAD');

  assert.deepEqual(await watcher.scan(), [], 'the first snapshot of a repo records nothing');
  commitAt(repo, 'bump dependencies', start + 60_000);
  const after = commitAt(repo, 'raise pool size', start + 120_000);
  clock.set(start + 600_000);
  const [event, ...more] = await watcher.scan();

  assert.equal(more.length, 0);
  assert.ok(event);
  assert.equal(event.subject, 'api');
  assert.equal(event.at, start + 120_000, 'at is when HEAD moved (its reflog time), not when it was noticed');
  assert.deepEqual(event.context, {
    source: 'git',
    summary: `git HEAD of api moved ${before.slice(0, 7)} → ${after.slice(0, 7)} (2 commits, latest: "raise pool size")`,
    checks: ['api'],
    path: realpathSync(repo),
    before: before.slice(0, 7),
    after: after.slice(0, 7),
    detectedAt: start + 600_000,
  });
  assert.deepEqual(
    store.changes().map((e) => [e.at, e.subject, e.context.summary]),
    [[event.at, 'api', event.context.summary]],
    'the event is in the log as returned',
  );

  clock.advance(30_000);
  assert.deepEqual(await watcher.scan(), [], 'no change, no event');
  assert.equal(store.changes().length, 1);
  assert.deepEqual(store.warnings(), []);
});

test('git: a HEAD moved back says how many commits were left behind; a reflog time before the last look is bounded by it', async (t) => {
  const repo = makeRepo(t);
  const clock = pastClock();
  const store = changeStore(t, { clock });
  const start = clock.now();
  const first = gitIn(repo, 'rev-parse', 'HEAD');
  const second = commitAt(repo, 'raise pool size', start - 60_000);
  const watcher = store.run(watchConfig(watching(repo), repo));
  await watcher.scan();

  // A reset whose reflog entry claims a time before Nightshift last looked (a skewed clock): it cannot have happened then.
  execFileSync('git', ['reset', '-q', '--hard', 'HEAD~1'], { cwd: repo, env: gitEnvAt(start - 30_000) });
  clock.advance(45_000);
  const [event] = await watcher.scan();

  assert.ok(event);
  assert.equal(event.context.summary, `git HEAD of api moved back ${second.slice(0, 7)} → ${first.slice(0, 7)} (1 commit left behind, now at: "initial")`);
  assert.equal(event.at, start, 'never before the previous snapshot was taken');
});

test('git: a move made while Nightshift was down is recorded at the next start, with whileDown', async (t) => {
  const repo = makeRepo(t);
  const clock = pastClock();
  const store = changeStore(t, { clock });
  const config = watchConfig(watching(repo), repo);
  const start = clock.now();
  const firstRun = store.run(config);
  await firstRun.scan();
  await firstRun.stop();

  commitAt(repo, 'deploy 2.4.1', start + 300_000);
  clock.set(start + 900_000);
  const [event] = await store.run(config).scan();

  assert.ok(event);
  assert.equal(event.context.whileDown, true);
  assert.equal(event.at, start + 300_000);
  assert.match(event.context.summary, /^git HEAD of api moved \w{7} → \w{7} \(1 commit, latest: "deploy 2\.4\.1"\)$/);
});

test('git: a plain folder has no HEAD and is skipped silently; a repair target is watched without being listed', async (t) => {
  const plain = makeRepo(t, { plain: true });
  const target = makeRepo(t);
  const store = changeStore(t);
  const yaml = `${watching(plain, 'docs')}repair:\n  targets:\n    - { name: worker, path: ${JSON.stringify(target)}, checks: [worker] }\n`;
  const watcher = store.run(watchConfig(yaml, target));
  await watcher.scan();
  writeFileSync(join(plain, 'lib.mjs'), '// edited\n');
  commitAt(target, 'fix the worker', Date.now());

  const events = await watcher.scan();

  assert.deepEqual(
    events.map((e) => [e.context.source, e.subject, e.context.checks]),
    [['git', 'worker', ['worker']]],
  );
  assert.deepEqual(store.warnings(), [], 'no HEAD is nothing to warn about');
});

test('git: watching only reads: nothing under .git changes, no lock file is taken', async (t) => {
  const repo = makeRepo(t);
  const store = changeStore(t);
  const watcher = store.run(watchConfig(watching(repo), repo));
  await watcher.scan();
  commitAt(repo, 'raise pool size', Date.now());
  const before = gitDirListing(repo);

  const events = await watcher.scan();
  await watcher.scan();

  assert.equal(events.length, 1);
  assert.deepEqual(gitDirListing(repo), before);
});

test('git: a repository git cannot read is logged once per streak, and said again when it reads again', async (t) => {
  const repo = makeRepo(t);
  const store = changeStore(t);
  const watcher = store.run(watchConfig(watching(repo), repo));
  await watcher.scan();
  renameSync(join(repo, '.git'), join(repo, '.git-away'));
  writeFileSync(join(repo, '.git'), 'gitdir: /nonexistent/worktree\n');

  assert.deepEqual(await watcher.scan(), []);
  assert.deepEqual(await watcher.scan(), []);
  const warned = store.warnings();
  assert.equal(warned.length, 1, JSON.stringify(warned));
  assert.equal(warned[0]!.source, 'git');
  assert.match(String(warned[0]!.reason), /git rev-parse HEAD failed/);

  rmSync(join(repo, '.git'));
  renameSync(join(repo, '.git-away'), join(repo, '.git'));
  assert.deepEqual(await watcher.scan(), [], 'the same HEAD as before: nothing changed');
  assert.ok(store.lines().some((l) => l.msg === 'looking for changes works again' && l.source === 'git'));
});

test('git: a look where HEAD did not move reads it from .git without running git; a packed branch is still asked of git', async (t) => {
  const repo = makeRepo(t);
  const store = changeStore(t);
  const config = watchConfig(watching(repo), repo);
  const watcher = store.run(config);
  await watcher.scan();
  const head = gitIn(repo, 'rev-parse', 'HEAD');

  // No git on PATH: only a look that needs no git process goes on working.
  const noGit = store.run(config, { env: () => ({ PATH: '/nonexistent' }) });
  assert.deepEqual(await noGit.scan(), []);
  execFileSync('git', ['checkout', '-q', '--detach'], { cwd: repo });
  assert.deepEqual(await noGit.scan(), [], 'a detached HEAD is read from .git too');
  assert.deepEqual(store.warnings(), []);

  execFileSync('git', ['checkout', '-q', '-'], { cwd: repo });
  execFileSync('git', ['pack-refs', '--all'], { cwd: repo });
  assert.deepEqual(await noGit.scan(), []);
  assert.match(String(store.warnings()[0]?.reason), /git could not run/, 'a packed branch has no loose ref file: git is asked');
  assert.deepEqual(await watcher.scan(), [], 'and git finds the same HEAD');
  assert.match(store.kv.get(`change:git:${realpathSync(repo)}`)!, new RegExp(`"head":"${head}"`));
});

/** Every file under .git with its size and mtime. */
function gitDirListing(repo: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stats = statSync(path);
      if (stats.isDirectory()) walk(path);
      else out.push(`${path.slice(repo.length)} ${stats.size} ${stats.mtimeMs}`);
    }
  };
  walk(join(repo, '.git'));
  return out;
}
