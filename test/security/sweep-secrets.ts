/**
 * The secret sweep after the test suite: every artefact the bot produced
 * (test/fakes/artefacts.ts keeps them when NIGHTSHIFT_TEST_ARTEFACTS is set)
 * is searched for the canary marker every test credential carries
 * (test/helpers/canary.ts): in any letter case, and base64-encoded (how a
 * credential hides in a Basic auth header or a token's parts).
 *
 *   node --import tsx test/security/sweep-secrets.ts <artefact dir> [--require-every-kind]
 *
 * prints what it swept and each hit (file and context, the secret masked)
 * and exits 1 on any hit. scripts/run-tests.js runs it after the suite.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CANARY_MARKER } from '../helpers/canary.js';

/** The folders test/fakes/artefacts.ts writes: what the fakes received, what bots printed, the files they wrote. */
export const ARTEFACT_KINDS = ['received', 'output', 'files'] as const;

export interface SweepHit {
  /** Relative to the artefact folder. */
  file: string;
  offset: number;
  /** The text around the hit with the credential itself masked. */
  context: string;
}

export interface SweepResult {
  files: number;
  bytes: number;
  /** Files swept per kind of artefact. */
  filesByKind: Record<string, number>;
  hits: SweepHit[];
}

/** The marker's base64 spellings at each of the three byte alignments, keeping only the characters it fixes alone. */
function base64Forms(marker: string): string[] {
  const bytes = Buffer.from(marker, 'latin1');
  return [0, 1, 2].flatMap((lead) => {
    const encoded = Buffer.concat([Buffer.alloc(lead), bytes]).toString('base64');
    // Character i holds bits [6i, 6i+6): keep those that lie wholly within the marker's bits.
    const first = Math.ceil((lead * 8) / 6);
    const end = Math.floor(((lead + bytes.length) * 8) / 6);
    const form = encoded.slice(first, end);
    return [form, form.replace(/\+/g, '-').replace(/\//g, '_')];
  });
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One pattern for every spelling of the marker; the plain one in any case (a lower-cased token is still the token). */
function markerPattern(marker: string): RegExp {
  const anyCase = [...marker].map((c) => (c.toLowerCase() === c.toUpperCase() ? escapeRegex(c) : `[${c.toLowerCase()}${c.toUpperCase()}]`)).join('');
  const encoded = [...new Set(base64Forms(marker))].map(escapeRegex);
  return new RegExp([anyCase, ...encoded].join('|'), 'g');
}

/** Characters a token is made of: the whole run around a hit is masked, so the report does not print the secret. */
const TOKEN_CHAR = /[A-Za-z0-9_\-.:+/=]/;
const CONTEXT_CHARS = 60;

function maskedContext(text: string, start: number, end: number): string {
  let from = start;
  let to = end;
  while (from > 0 && TOKEN_CHAR.test(text[from - 1]!)) from--;
  while (to < text.length && TOKEN_CHAR.test(text[to]!)) to++;
  const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '.');
  const before = printable(text.slice(Math.max(0, from - CONTEXT_CHARS), from));
  const after = printable(text.slice(to, to + CONTEXT_CHARS));
  return `${before}[CANARY CREDENTIAL, ${to - from} chars]${after}`;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() ? [path] : [];
  });
}

/** Searches every file under `dir` for the marker; a folder that does not exist has nothing in it. */
export function sweepArtefacts(dir: string): SweepResult {
  const result: SweepResult = { files: 0, bytes: 0, filesByKind: Object.fromEntries(ARTEFACT_KINDS.map((kind) => [kind, 0])), hits: [] };
  let files: string[];
  try {
    files = filesUnder(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw err;
  }
  const pattern = markerPattern(CANARY_MARKER);
  for (const file of files) {
    // latin1: one character per byte, so a database page or a binary file is searched as it is.
    const text = readFileSync(file, 'latin1');
    const name = relative(dir, file);
    const kind = name.split(/[\\/]/)[0]!;
    result.files++;
    result.bytes += statSync(file).size;
    result.filesByKind[kind] = (result.filesByKind[kind] ?? 0) + 1;
    for (const match of text.matchAll(pattern)) {
      result.hits.push({ file: name, offset: match.index, context: maskedContext(text, match.index, match.index + match[0].length) });
    }
  }
  return result;
}

/** The human lines of a sweep: what was swept, then each hit (at most `shown` of them). */
export function describeSweep(dir: string, result: SweepResult, shown = 50): string[] {
  const kinds = Object.entries(result.filesByKind)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  const lines = [`secret sweep of ${dir}: ${result.files} files (${kinds}), ${(result.bytes / 1024 / 1024).toFixed(1)} MiB, ${result.hits.length} hits`];
  for (const hit of result.hits.slice(0, shown)) lines.push(`  LEAK in ${hit.file} at byte ${hit.offset}: ${hit.context}`);
  if (result.hits.length > shown) lines.push(`  ... and ${result.hits.length - shown} more`);
  return lines;
}

function main(args: string[]): number {
  const dir = args.find((arg) => !arg.startsWith('--'));
  if (!dir) {
    console.error('usage: node --import tsx test/security/sweep-secrets.ts <artefact dir> [--require-every-kind]');
    return 2;
  }
  const result = sweepArtefacts(dir);
  for (const line of describeSweep(dir, result)) console.log(line);
  // After the whole suite, a kind with no file at all means its recording broke: a sweep of nothing proves nothing.
  const missing = args.includes('--require-every-kind') ? ARTEFACT_KINDS.filter((kind) => result.filesByKind[kind] === 0) : [];
  if (missing.length > 0) console.log(`secret sweep: nothing was kept of ${missing.join(', ')}: is the recording in test/fakes/artefacts.ts still called?`);
  return result.hits.length > 0 || missing.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
