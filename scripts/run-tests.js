#!/usr/bin/env node
// Runs every test file under test/ with Node's built-in runner (TypeScript through tsx).
// Node 20's runner does not expand globs itself, so the files are listed here.
// Then the secret sweep: every test credential carries a canary marker, the tests keep what
// the bot produced in NIGHTSHIFT_TEST_ARTEFACTS (test/fakes/artefacts.ts), and
// test/security/sweep-secrets.ts fails the run when the marker is found in any of it.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'fakes' || name === 'helpers' ? [] : find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : find('test').sort();
// A folder of the caller's is kept; a fresh one is removed after a clean sweep.
const given = process.env.NIGHTSHIFT_TEST_ARTEFACTS;
const artefacts = given || mkdtempSync(join(tmpdir(), 'nightshift-artefacts-'));
const env = { ...process.env, NIGHTSHIFT_TEST_ARTEFACTS: artefacts };
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files], { stdio: 'inherit', env });
// After the whole suite every kind of artefact must have something in it, or a recording broke.
const sweepArgs = ['--import', 'tsx', 'test/security/sweep-secrets.ts', artefacts, ...(only.length > 0 ? [] : ['--require-every-kind'])];
const sweep = spawnSync(process.execPath, sweepArgs, { stdio: 'inherit' });
if (sweep.status === 0 && !given) rmSync(artefacts, { recursive: true, force: true });
else if (sweep.status !== 0) console.log(`the artefacts are kept in ${artefacts}`);
process.exit(result.status !== 0 ? (result.status ?? 1) : (sweep.status ?? 1));
