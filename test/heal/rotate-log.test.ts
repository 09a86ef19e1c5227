import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { HealResult } from '../../src/checks/types.js';
import { rotateLogAction } from '../../src/heal/rotate-log.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { checkConfig } from '../helpers/check-config.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { childEnvironment } from '../../src/config/child-env.js';

function rotation(dir: string, params: Record<string, unknown>) {
  const { logger, lines } = createCapturedLogger(new Redactor());
  const step = rotateLogAction.create(rotateLogAction.params.parse(params), {
    log: logger,
    dataDir: dir,
    now: Date.now,
    childEnv: childEnvironment,
    record: () => {},
  });
  const target = { check: checkConfig('app-log'), probe: { run: async () => ({ ok: true, message: 'not used by this action' }) } };
  const run = (): Promise<HealResult> => step.run(target, { signal: new AbortController().signal, now: Date.now });
  return { run, logLines: lines };
}

/** Appends `line 000001` .. `line <count>` with O_APPEND, one write per line, paced so it overlaps the rotations. */
const WRITER = `
const fs = require('node:fs');
const [path, count] = [process.argv[1], Number(process.argv[2])];
const fd = fs.openSync(path, 'a');
let n = 0;
function burst() {
  for (let i = 0; i < 40 && n < count; i++) fs.writeSync(fd, 'line ' + String(++n).padStart(6, '0') + '\\n');
  if (n < count) setTimeout(burst, 1); else fs.closeSync(fd);
}
burst();
`;

test('rotate-log: rotations while a writer keeps appending lose no line and repeat none', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'worker.log');
  writeFileSync(path, '');
  const block = statSync(path).blksize;
  const total = 20_000;
  const writer = spawn(process.execPath, ['-e', WRITER, path, String(total)], { stdio: 'ignore' });
  t.after(() => writer.kill('SIGKILL'));
  const exited = once(writer, 'exit');
  const { run } = rotation(dir, { path, keep: 10 });
  const results: HealResult[] = [];
  let rotatedWhileWriting = 0;
  for (let i = 0; i < 5; i++) {
    await waitFor(() => statSync(path).size > 2 * block, { timeoutMs: 10_000, what: 'the writer to fill two blocks' });
    const result = await run();
    if (writer.exitCode === null) rotatedWhileWriting++;
    results.push(result);
  }
  await exited;
  assert.equal(writer.exitCode, 0);
  for (const result of results) {
    assert.equal(result.ok, true, result.message);
    assert.equal(result.details!.method, 'collapse-range', result.message);
    assert.equal((result.details!.rotatedBytes as number) % block, 0, 'whole blocks are rotated');
  }
  assert.ok(rotatedWhileWriting >= 3, `the rotations overlapped the writer (${rotatedWhileWriting} of 5)`);
  assert.deepEqual(results.at(-1)!.details!.keptFiles, ['worker.log.1', 'worker.log.2', 'worker.log.3', 'worker.log.4', 'worker.log.5']);
  // Raw bytes, oldest first: a line split at a block boundary joins up again.
  const joined = Buffer.concat([5, 4, 3, 2, 1].map((n) => readFileSync(`${path}.${n}`)).concat(readFileSync(path))).toString('utf8');
  const expected = Array.from({ length: total }, (_, i) => `line ${String(i + 1).padStart(6, '0')}\n`).join('');
  if (joined !== expected) {
    const got = joined.split('\n');
    const firstBad = got.findIndex((line, i) => line !== `line ${String(i + 1).padStart(6, '0')}`);
    assert.fail(
      `lines lost, repeated or out of order from line ${firstBad + 1}: ${JSON.stringify(got.slice(firstBad, firstBad + 3))} (${got.length - 1} lines instead of ${total})`,
    );
  }
  for (let n = 1; n <= 5; n++) assert.ok(statSync(`${path}.${n}`).size > 0);
});

test('rotate-log: keep bounds the rotated files, the oldest is deleted; a small file has nothing to rotate', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  const block = (() => {
    writeFileSync(path, '');
    return statSync(path).blksize;
  })();
  const { run } = rotation(dir, { path, keep: 3 });
  for (const generation of ['a', 'b', 'c', 'd', 'e']) {
    appendFileSync(path, `${generation.repeat(block * 2 - 1)}\n`);
    const result = await run();
    assert.equal(result.ok, true, result.message);
    assert.match(result.message, /^rotated \d+\.\d KiB to app\.log\.1$/);
  }
  assert.equal(readFileSync(`${path}.1`, 'utf8')[block], 'e', 'the newest rotation is .1');
  assert.equal(readFileSync(`${path}.3`, 'utf8').at(-1), 'c');
  assert.equal(existsSync(`${path}.4`), false, 'keep=3: the oldest beyond keep is deleted');
  const again = await run();
  assert.equal(again.ok, true);
  assert.equal(again.message, 'nothing to rotate', 'what is left is less than a block: a second run is harmless');
  assert.deepEqual(again.details!.keptFiles, ['app.log.1', 'app.log.2', 'app.log.3']);
  const tiny = join(dir, 'tiny.log');
  writeFileSync(tiny, 'one line\n');
  const small = await rotation(dir, { path: tiny }).run();
  assert.deepEqual([small.ok, small.message, existsSync(`${tiny}.1`)], [true, 'nothing to rotate', false]);
  const missing = await rotation(dir, { path: join(dir, 'nope.log') }).run();
  assert.deepEqual([missing.ok, missing.message], [false, `missing: ${join(dir, 'nope.log')}`]);
  assert.equal(existsSync(`${path}.rotating`), false, 'no staging file is left behind');
});

const TMPFS_MAGIC = 0x01021994;

/** A temp dir on tmpfs, whose kernel driver does not implement FALLOC_FL_COLLAPSE_RANGE. */
function tmpfsDir(t: TestContext): string | undefined {
  if (!existsSync('/dev/shm') || statfsSync('/dev/shm').type !== TMPFS_MAGIC) return undefined;
  const dir = mkdtempSync('/dev/shm/nightshift-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('rotate-log: where collapse-range is unsupported (tmpfs) it falls back to copy-truncate and says so', async (t) => {
  const dir = tmpfsDir(t);
  if (!dir) {
    t.skip('no tmpfs at /dev/shm');
    return;
  }
  const path = join(dir, 'app.log');
  const content = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join('');
  writeFileSync(path, content);
  const { run, logLines } = rotation(dir, { path });
  const result = await run();
  assert.equal(result.ok, true, result.message);
  assert.match(result.message, /by copy-truncate \(collapse-range unsupported: .*Operation not supported\); lines written during the copy may be lost/);
  assert.equal(result.details!.method, 'copy-truncate');
  assert.equal(result.details!.mayLoseBytes, true);
  assert.equal(result.details!.rotatedBytes, Buffer.byteLength(content));
  assert.equal(readFileSync(`${path}.1`, 'utf8'), content);
  assert.equal(statSync(path).size, 0);
  assert.ok(
    logLines().some((line) => line.level === 40 && String(line.msg).includes('fell back to copy-truncate')),
    'a warning is logged',
  );
  assert.equal((await run()).message, 'nothing to rotate');
});
