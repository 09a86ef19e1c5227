/**
 * What the bot produced in a test, kept for the secret sweep after the run
 * (test/security/sweep-secrets.ts) when NIGHTSHIFT_TEST_ARTEFACTS names a
 * folder (scripts/run-tests.js sets it): every message and prompt the fakes
 * received from the bot, the bot's output and log lines, and the files it
 * wrote in its data folder. Only what the bot wrote is kept: the test's own
 * inputs (.env, nightshift.yml, fixtures) and the credentials a client
 * legitimately sends (auth headers, token URL paths) would be false hits.
 * Without the variable every call returns at once.
 */
import { appendFileSync, cpSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { TestContext } from 'node:test';

/** The folder the artefacts go to, or undefined when they are not kept. */
const artefactRoot: string | undefined = process.env.NIGHTSHIFT_TEST_ARTEFACTS || undefined;

/** Files the bot writes that a secret could reach: its database (and write-ahead log) and escalation task files. */
function isBotWritten(relativePath: string): boolean {
  return /\.db(?:-wal)?$/.test(relativePath) || relativePath.split(/[\\/]/).includes('escalations');
}

let sequence = 0;
/** A fresh path under the artefact folder; the pid keeps test files running side by side apart. */
function artefactPath(kind: 'output' | 'files', name: string): string {
  return join(artefactRoot!, kind, `${process.pid}-${++sequence}-${name.replace(/[^A-Za-z0-9._-]+/g, '_')}`);
}

/** Appends one payload a fake received from the bot (a message body, a prompt: never its auth header or token path). */
export function recordReceived(fake: 'telegram' | 'discord' | 'ntfy' | 'ollama', payload: unknown): void {
  if (!artefactRoot) return;
  const file = join(artefactRoot, 'received', `${fake}-${process.pid}.jsonl`);
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(payload)}\n`);
}

/** Keeps what a bot printed (its stdout and stderr, or its captured log lines). */
export function keepOutput(source: string, text: string): void {
  if (!artefactRoot) return;
  const file = artefactPath('output', `${source}.log`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** Keeps an in-process bot's log lines (and whatever else it said) when the test ends; call after the hook that stops it. */
export function keepOnTestEnd(t: TestContext, source: string, said: () => unknown[]): void {
  if (artefactRoot)
    t.after(() =>
      keepOutput(
        source,
        said()
          .map((entry) => (typeof entry === 'string' ? entry : JSON.stringify(entry)))
          .join('\n'),
      ),
    );
}

/** Copies the bot-written files under `dir` (relative paths kept) to the artefact folder. */
function copyBotFiles(dir: string): void {
  const target = artefactPath('files', 'tmp');
  const walk = (folder: string): void => {
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch (err) {
      // A folder a test made unreadable on purpose: the bot could not have written there either.
      if ((err as NodeJS.ErrnoException).code === 'EACCES') return;
      throw err;
    }
    for (const name of names) {
      const path = join(folder, name);
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (stat?.isDirectory()) walk(path);
      else if (stat?.isFile() && isBotWritten(relative(dir, path))) cpSync(path, join(target, relative(dir, path)));
    }
  };
  walk(dir);
}

const awaitingExit = new Set<string>();

/**
 * Removes a test's temporary folder. When artefacts are kept, the bot-written
 * files are copied out first, at process exit: node:test runs `after` hooks
 * in the order they were added, so a bot started after its folder was made
 * is stopped (and writes its last rows) only after the folder's hook ran.
 */
export function removeTempDir(dir: string): void {
  if (!artefactRoot) return rmSync(dir, { recursive: true, force: true });
  if (awaitingExit.size === 0) process.once('exit', copyAndRemoveAll);
  awaitingExit.add(dir);
}

function copyAndRemoveAll(): void {
  for (const dir of awaitingExit) {
    try {
      copyBotFiles(dir);
    } catch (err) {
      // A file left unswept would let a leak pass: the test file fails instead.
      console.error(`could not keep the bot's files from ${dir} for the secret sweep: ${String(err)}`);
      process.exitCode = 1;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
