import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CANARY_MARKER, canaryToken } from '../helpers/canary.js';
import { DISCORD, TELEGRAM_TOKEN } from '../helpers/platforms.js';
import { sweepArtefacts } from './sweep-secrets.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SWEEP = join(HERE, 'sweep-secrets.ts');

/**
 * A private artefact folder. Not tempDir: what is planted here leaks on
 * purpose, and tempDir would hand its .db files to the suite's own sweep.
 */
function artefactDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-sweep-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function plant(dir: string, files: Record<string, string | Buffer>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

function runSweep(dir: string, ...flags: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', SWEEP, dir, ...flags], { encoding: 'utf8', timeout: 30_000 });
  return { code: run.status, out: run.stdout + run.stderr };
}

test('the sweep finds a canary credential in every kind of artefact and spelling, and never prints it', (t) => {
  const dir = artefactDir(t);
  const ntfy = canaryToken('ntfy');
  plant(dir, {
    'received/telegram-1.jsonl': `${JSON.stringify({ method: 'sendmessage', params: { text: `token ${TELEGRAM_TOKEN}` } })}\n`,
    'output/1-1-nightshift-start.log': `{"msg":"login failed","token":"${DISCORD.token.toLowerCase()}"}\n`,
    // A database page: binary around the text.
    'files/1-2-tmp/data/nightshift.db': Buffer.concat([Buffer.from([0, 1, 2, 255]), Buffer.from(ntfy), Buffer.from([0, 0])]),
    // Basic auth carries the credential base64-encoded; each of the three alignments.
    'files/1-2-tmp/data/escalations/2026-01-01-a.json': ['', 'u', 'us'].map((user) => `Basic ${Buffer.from(`${user}:${ntfy}`).toString('base64')}`).join('\n'),
  });

  const result = sweepArtefacts(dir);
  assert.equal(result.files, 4);
  assert.deepEqual(result.filesByKind, { received: 1, output: 1, files: 2 });
  assert.deepEqual(result.hits.map((h) => h.file).sort(), [
    'files/1-2-tmp/data/escalations/2026-01-01-a.json',
    'files/1-2-tmp/data/escalations/2026-01-01-a.json',
    'files/1-2-tmp/data/escalations/2026-01-01-a.json',
    'files/1-2-tmp/data/nightshift.db',
    'output/1-1-nightshift-start.log',
    'received/telegram-1.jsonl',
  ]);
  // The report says where, shows the context, and masks the credential whole.
  const cli = runSweep(dir);
  assert.equal(cli.code, 1);
  assert.match(cli.out, /4 files \(received 1, output 1, files 2\).*6 hits/);
  assert.match(
    cli.out,
    new RegExp(String.raw`LEAK in received/telegram-1\.jsonl at byte \d+: .*"text":"token \[CANARY CREDENTIAL, ${TELEGRAM_TOKEN.length} chars\]"`),
  );
  for (const secret of [TELEGRAM_TOKEN, DISCORD.token.toLowerCase(), ntfy, CANARY_MARKER, CANARY_MARKER.toLowerCase()])
    assert.ok(!cli.out.includes(secret), cli.out);
});

test('a clean artefact folder passes, and after the whole suite a kind with nothing kept fails', (t) => {
  const dir = artefactDir(t);
  plant(dir, {
    'received/ntfy-1.jsonl': `${JSON.stringify({ topic: 'alerts', message: 'login failed with [redacted:telegram-token]' })}\n`,
    'output/1-1-nightshift-start.log': '{"msg":"nightshift started"}\n',
  });
  assert.deepEqual(sweepArtefacts(dir).hits, []);
  const clean = runSweep(dir);
  assert.equal(clean.code, 0, clean.out);
  assert.match(clean.out, /2 files \(received 1, output 1, files 0\).*0 hits/);
  const incomplete = runSweep(dir, '--require-every-kind');
  assert.equal(incomplete.code, 1);
  assert.match(incomplete.out, /nothing was kept of files/);
});

test('a test run keeps what the fakes received, what the CLI printed and the bot-written files, not the inputs', (t) => {
  const dir = artefactDir(t);
  // Without NODE_TEST_CONTEXT: a runner that sees it acts as this runner's child and runs nothing of its own.
  const { NODE_TEST_CONTEXT: _runnerContext, ...env } = process.env;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', join(HERE, 'fixtures', 'leaky-scenario.ts')], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...env, NIGHTSHIFT_TEST_ARTEFACTS: dir },
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);

  const result = sweepArtefacts(dir);
  const hitFiles = [...new Set(result.hits.map((h) => h.file.replace(/\d+-\d+-/, 'N-N-').replace(/-\d+\.jsonl$/, '-N.jsonl')))].sort();
  // The message, the database and the printed argument; not the .env, not the token in the fake's URL path.
  assert.deepEqual(hitFiles, ['files/N-N-tmp/data/nightshift.db', 'output/N-N-nightshift-check-config.log', 'received/telegram-N.jsonl']);
  assert.deepEqual(
    readdirSync(join(dir, 'files'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name),
    ['nightshift.db'],
  );
});
