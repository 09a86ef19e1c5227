import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HealResult } from '../../src/checks/types.js';
import { createDirAction } from '../../src/heal/create-dir.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { checkConfig } from '../helpers/check-config.js';
import { tempDir } from '../helpers/temp.js';
import { childEnvironment } from '../../src/config/child-env.js';

function createDirStep(dir: string, params: Record<string, unknown>) {
  const { logger } = createCapturedLogger(new Redactor());
  const step = createDirAction.create(createDirAction.params.parse(params), {
    log: logger,
    dataDir: dir,
    now: Date.now,
    childEnv: childEnvironment,
    record: () => {},
  });
  const target = { check: checkConfig('uploads'), probe: { run: async () => ({ ok: true, message: 'not used by this action' }) } };
  return (): Promise<HealResult> => step.run(target, { signal: new AbortController().signal, now: Date.now });
}

test('create-dir: creates a missing folder with its parents and the asked mode; a second run says it already exists', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'data', 'queue', 'inbox');
  const run = createDirStep(dir, { path, mode: '0750' });
  const created = await run();
  assert.deepEqual([created.ok, created.message], [true, 'created']);
  assert.ok(statSync(path).isDirectory());
  assert.equal(statSync(path).mode & 0o777, 0o750, 'the mode is exact, not narrowed by the umask');
  assert.equal(created.details!.mode, '0750');
  const again = await run();
  assert.deepEqual([again.ok, again.message, again.details!.created], [true, 'already exists', false]);
});

test('create-dir: a file in the way is a failure, not overwritten; a bad mode is refused by the schema', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'logs');
  writeFileSync(path, 'not a folder');
  const result = await createDirStep(dir, { path })();
  assert.deepEqual([result.ok, result.message], [false, `exists but is not a directory: ${path}`]);
  assert.ok(statSync(path).isFile());
  assert.equal(createDirAction.params.safeParse({ path, mode: '0999' }).success, false);
  assert.equal(createDirAction.params.safeParse({ path, mode: 755 }).success, false);
});
