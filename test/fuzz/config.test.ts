import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { formatPath, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { packageRoot } from '../../src/paths.js';
import { botEnv, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { SEED } from './chat-harness.js';

const ENV = { TZ: 'UTC' };
/** Every check kind and section, valid: the documented example. */
const EXAMPLE: unknown = parse(readFileSync(join(packageRoot, 'nightshift.example.yml'), 'utf8'));

type Path = Array<string | number>;

/** Every path in a parsed document, mappings and lists included. */
function pathsOf(value: unknown, path: Path = []): Path[] {
  if (Array.isArray(value)) return [path, ...value.flatMap((item, i) => pathsOf(item, [...path, i]))];
  if (value !== null && typeof value === 'object') return [path, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...path, k]))];
  return [path];
}

const EXAMPLE_PATHS = pathsOf(EXAMPLE).filter((p) => p.length > 0);
/** Mappings whose keys are the user's own (HTTP headers, environment variables, alert labels): any key is fine there. */
const FREE_FORM = new Set(['headers', 'env', 'match']);
const MAPPING_PATHS = [[], ...EXAMPLE_PATHS].filter((p) => {
  const node = nodeAt(EXAMPLE, p);
  return node !== null && typeof node === 'object' && !Array.isArray(node) && !FREE_FORM.has(String(p.at(-1)));
});

function nodeAt(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], root);
}

function withValue(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root);
  const parent = nodeAt(copy, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path.at(-1)!] = value;
  return copy;
}

/** Values a field may wrongly hold: wrong types, out of range, malformed durations and addresses, unset variables. */
const badValue = fc.oneof(
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    1e308,
    -0.5,
    '',
    ' ',
    '10x',
    '-5m',
    '0s',
    '25d',
    'often',
    '${UNSET_VARIABLE}',
    '$',
    '[',
    '0.0.0.0:99999',
    'http://',
    '~',
    '*',
  ),
  fc.integer(),
  fc.double(),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }),
);

/** A ConfigError's problems, or undefined when the document was accepted; anything else thrown fails the property. */
function problemsOf(yaml: string): readonly string[] | undefined {
  try {
    parseConfig(yaml, 'nightshift.yml', ENV, '/tmp');
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `the loader threw something else than its own error: ${err instanceof Error ? err.stack : String(err)}`);
    assert.ok(err.problems.length > 0, 'a rejection with no problem listed');
    return err.problems;
  }
}

/** Whether some problem names `path` or the mapping that holds it (a check whose kind no longer fits is named as that check). */
function names(problems: readonly string[], path: Path): boolean {
  const candidates = [path, path.slice(0, -1)].filter((p) => p.length > 0).map(formatPath);
  return problems.some((problem) => candidates.some((c) => problem.includes(c)));
}

test('the example with one field set to a wrong value: accepted, or rejected naming that field', () => {
  fc.assert(
    fc.property(fc.constantFrom(...EXAMPLE_PATHS), badValue, (path, value) => {
      const problems = problemsOf(stringify(withValue(EXAMPLE, path, value)));
      if (problems) assert.ok(names(problems, path), `${formatPath(path)} = ${JSON.stringify(value)} is not named in:\n${problems.join('\n')}`);
    }),
    { numRuns: 800, seed: SEED, includeErrorInReport: true },
  );
});

test('the example with an unknown key added anywhere: rejected, naming the key', () => {
  fc.assert(
    fc.property(fc.constantFrom(...MAPPING_PATHS), fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,12}$/), badValue, (path, key, value) => {
      const holder = nodeAt(EXAMPLE, path) as Record<string, unknown>;
      fc.pre(!(key in holder));
      const problems = problemsOf(stringify(withValue(EXAMPLE, [...path, key], value)));
      assert.ok(problems, `the unknown key ${formatPath([...path, key])} was accepted`);
      assert.ok(
        problems.some((p) => p.includes(key)),
        `${formatPath([...path, key])} is not named in:\n${problems.join('\n')}`,
      );
    }),
    { numRuns: 400, seed: SEED, includeErrorInReport: true },
  );
});

/** YAML-ish text: the syntax's own characters, indentation, anchors and aliases, tags, document markers. */
const yamlText = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ':',
        ': ',
        '- ',
        '\n',
        '\n  ',
        '\n    ',
        '{',
        '}',
        '[',
        ']',
        ',',
        '&a ',
        '*a',
        '!!str ',
        '!!binary ',
        '---\n',
        '...\n',
        '"',
        "'",
        '#',
        '|',
        '>',
        '? ',
        '%YAML 1.2\n',
        '<<: *a',
      ),
      fc.constantFrom('checks', 'patrol', 'interval', 'name', 'kind', 'disk', 'http', 'chat', 'telegram', 'heal', '${HOME}', '${X:-y}'),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

test('random YAML and random documents: the loader throws nothing but its own error', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        yamlText,
        fc.jsonValue().map((v) => stringify(v)),
        fc.string({ unit: 'binary', maxLength: 200 }),
      ),
      (text) => {
        problemsOf(text);
      },
    ),
    { numRuns: 5_000, seed: SEED, includeErrorInReport: true },
  );
});

test('check-config on a sample of rejected documents: exit 2, the problems on stderr, nothing created', (t) => {
  const rejected = fc
    .sample(
      fc.tuple(fc.constantFrom(...EXAMPLE_PATHS), badValue).map(([path, value]) => stringify(withValue(EXAMPLE, path, value))),
      { numRuns: 200, seed: SEED },
    )
    .filter((yaml) => problemsOf(yaml) !== undefined)
    .slice(0, 4);
  assert.equal(rejected.length, 4);
  for (const yaml of rejected) {
    const cwd = tempDir(t);
    writeFileSync(join(cwd, 'nightshift.yml'), yaml);
    const result = runCli(['check-config'], cwd, botEnv(cwd));
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /nightshift\.yml: invalid configuration \(\d+ problems?\)/);
    for (const problem of problemsOf(yaml)!) assert.ok(result.stderr.includes(problem.split('\n')[0]!), `stderr lacks: ${problem}`);
    assert.equal(result.stdout, '');
    assert.equal(existsSync(join(cwd, 'data')), false, 'no data dir, database or lock was created');
    assert.deepEqual(readdirSync(cwd), ['nightshift.yml']);
  }
});
