import assert from 'node:assert/strict';
import { existsSync, lutimesSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HealResult } from '../../src/checks/types.js';
import { cleanFilesAction, globMatcher } from '../../src/heal/clean-files.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { checkConfig } from '../helpers/check-config.js';
import { tempDir } from '../helpers/temp.js';
import { childEnvironment } from '../../src/config/child-env.js';

function cleanStep(dir: string, params: Record<string, unknown>) {
  const { logger } = createCapturedLogger(new Redactor());
  const step = cleanFilesAction.create(cleanFilesAction.params.parse(params), {
    log: logger,
    dataDir: dir,
    now: Date.now,
    childEnv: childEnvironment,
    record: () => {},
  });
  const target = { check: checkConfig('scratch'), probe: { run: async () => ({ ok: true, message: 'not used by this action' }) } };
  return (): Promise<HealResult> => step.run(target, { signal: new AbortController().signal, now: Date.now });
}

const TWO_HOURS_AGO = (Date.now() - 2 * 3_600_000) / 1000;

function file(path: string, bytes: number, old: boolean): string {
  writeFileSync(path, 'x'.repeat(bytes));
  if (old) utimesSync(path, TWO_HOURS_AGO, TWO_HOURS_AGO);
  return path;
}

/** A scratch folder with old and new, matching and non-matching files, a sub-folder and a symlink out. */
function scratch(root: string) {
  const dir = join(root, 'scratch');
  const outside = join(root, 'precious');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  mkdirSync(outside);
  const victim = file(join(outside, 'victim.tmp'), 10, true);
  const link = join(dir, 'link.tmp');
  symlinkSync(victim, link);
  lutimesSync(link, TWO_HOURS_AGO, TWO_HOURS_AGO);
  const linkedDir = join(dir, 'linked-dir');
  symlinkSync(outside, linkedDir);
  return {
    dir,
    victim,
    link,
    oldTmp: file(join(dir, 'old.tmp'), 100, true),
    newTmp: file(join(dir, 'new.tmp'), 100, false),
    oldLog: file(join(dir, 'old.log'), 100, true),
    hidden: file(join(dir, '.hidden.tmp'), 100, true),
    nestedOld: file(join(dir, 'sub', 'nested.tmp'), 50, true),
  };
}

test('clean-files: deletes only old regular files matching the pattern; a second run has nothing to delete', async (t) => {
  const files = scratch(tempDir(t));
  const run = cleanStep(files.dir, { dir: files.dir, pattern: '*.tmp', olderThan: '1h' });
  const result = await run();
  assert.equal(result.ok, true, result.message);
  assert.equal(result.message, 'deleted 1 *.tmp file older than 1h (100 B)');
  assert.deepEqual(result.details!.examples, ['old.tmp']);
  assert.deepEqual([result.details!.deleted, result.details!.freedBytes], [1, 100]);
  assert.equal(existsSync(files.oldTmp), false);
  for (const kept of [files.newTmp, files.oldLog, files.hidden, files.nestedOld, files.victim, files.link, files.dir])
    assert.ok(existsSync(kept), `${kept} is kept`);
  const again = await run();
  assert.deepEqual([again.ok, again.message], [true, 'nothing to delete (no *.tmp older than 1h)']);
});

test('clean-files: recursive descends into real sub-folders, never through a symlink, and never removes dir itself', async (t) => {
  const files = scratch(tempDir(t));
  const result = await cleanStep(files.dir, { dir: files.dir, pattern: '*.tmp', olderThan: '1h', recursive: true })();
  assert.equal(result.details!.deleted, 2);
  assert.deepEqual((result.details!.examples as string[]).sort(), ['old.tmp', 'sub/nested.tmp']);
  assert.ok(existsSync(files.victim), 'the file behind a symlinked folder or file is untouched');
  assert.ok(existsSync(files.link));
  assert.ok(existsSync(join(files.dir, 'sub')));
  assert.ok(existsSync(files.dir));
});

test('clean-files: dryRun reports what it would delete and deletes nothing', async (t) => {
  const files = scratch(tempDir(t));
  const result = await cleanStep(files.dir, { dir: files.dir, olderThan: '1h', dryRun: true, recursive: true })();
  assert.equal(result.ok, true);
  assert.equal(result.message, 'dry run: would delete 3 * files older than 1h (250 B)');
  assert.equal(result.details!.dryRun, true);
  for (const kept of [files.oldTmp, files.oldLog, files.nestedOld]) assert.ok(existsSync(kept));
  const missing = await cleanStep(files.dir, { dir: join(files.dir, 'nope'), olderThan: '1h' })();
  assert.equal(missing.ok, false);
  assert.equal(cleanFilesAction.params.safeParse({ dir: files.dir }).success, false, 'olderThan is required');
  assert.equal(cleanFilesAction.params.safeParse({ dir: files.dir, olderThan: '1h', pattern: '../*' }).success, false);
});

test('clean-files: the glob knows * and ?, treats everything else literally, and skips dotfiles unless named', () => {
  const tmp = globMatcher('*.tmp');
  assert.deepEqual(['a.tmp', 'a.b.tmp', '.tmp', 'a.tmpx', 'atmp', '.x.tmp'].map(tmp), [true, true, false, false, false, false]);
  const core = globMatcher('core.????');
  assert.deepEqual(['core.1234', 'core.123', 'core.12345'].map(core), [true, false, false]);
  assert.equal(globMatcher('a+b(1)[x].log')('a+b(1)[x].log'), true);
  assert.equal(globMatcher('.*.swp')('.main.ts.swp'), true);
});
