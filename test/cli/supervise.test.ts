import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { botEnv, startBot } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir, waitFor } from '../helpers/temp.js';

test('kill -9 of Nightshift while it supervises a child leaves exactly one child after restart', async (t) => {
  const cwd = tempDir(t);
  const marker = `nightshift-test-${randomUUID()}`;
  const service = join(packageRoot, 'test', 'fakes', 'services', 'http-health.mjs');
  writeFileSync(
    join(cwd, 'nightshift.yml'),
    `checks:\n  - name: web\n    kind: process\n    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(service)}, ${JSON.stringify(marker)}]\n    heal: [restart]\n`,
  );
  t.after(() => {
    for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
  });
  const env = botEnv(cwd);
  const logFile = join(cwd, 'data', 'logs', 'web.log');
  const first = startBot(t, cwd, env, ['start'], 'ignore');
  await first.started();
  const [original] = await waitFor(() => (processesWith(marker).length === 1 ? processesWith(marker) : undefined), { what: 'the supervised child' });
  // Wait until the child is fully up (it announced its port, through Nightshift, into its log): a child killed
  // by a broken stdout pipe mid-start-up would make this test pass for the wrong reason.
  await waitFor(() => existsSync(logFile) && /pid \d+ port \d+/.test(readFileSync(logFile, 'utf8')), { what: 'the child to announce its port' });

  first.kill('SIGKILL');
  await first.exit();
  assert.deepEqual(processesWith(marker), [original], 'the child outlives a Nightshift killed with -9');

  const second = startBot(t, cwd, env, ['start'], 'ignore');
  await second.started();
  await second.waitForOutput(/stopped an orphaned child from a previous run/);
  const survivors = await waitFor(
    () => {
      const now = processesWith(marker);
      return now.length === 1 && now[0] !== original ? now : undefined;
    },
    { what: 'exactly one, new, child' },
  );
  assert.equal(survivors.length, 1);
  assert.equal(processesWith(marker).includes(original!), false, 'the orphan is gone');

  // A clean stop takes the child with it.
  second.kill('SIGTERM');
  assert.equal((await second.exit()).code, 0);
  assert.deepEqual(processesWith(marker), []);
});
