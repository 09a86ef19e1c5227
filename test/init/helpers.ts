import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { pruneDependencies } from '../../src/init/guesses.js';
import { Machine } from '../../src/init/machine.js';
import { NameRegistry } from '../../src/init/names.js';
import { baseChecks, renderConfig } from '../../src/init/render.js';
import type { FoundThing, SourceContext } from '../../src/init/types.js';
import { tempDir } from '../helpers/temp.js';

/** A source context on the real machine, with an empty system log folder unless told otherwise. */
export function sourceContext(t: TestContext, overrides: Partial<SourceContext> = {}): SourceContext {
  const home = tempDir(t, 'ns-init-home-');
  return {
    env: { PATH: process.env.PATH, HOME: home },
    cwd: home,
    home,
    names: new NameRegistry(),
    machine: new Machine(),
    earlier: [],
    growthWaitMs: 0,
    systemLogDir: tempDir(t, 'ns-init-varlog-'),
    ...overrides,
  };
}

/** The things rendered into a file with the base checks and read back by the real validator (throws ConfigError when it refuses). */
export function validated(things: FoundThing[]): { text: string; config: Config } {
  pruneDependencies(things);
  const text = renderConfig(
    [
      { title: 'base', checks: baseChecks() },
      { title: 'found', checks: things.map((thing) => thing.check) },
    ],
    ['test'],
  );
  return { text, config: parseConfig(text, 'test.yml', {}, '/') };
}

/** A folder holding an executable `name` that prints `stdout` (and `stderr`) and exits with `code`: a stand-in for a command on PATH. */
export function fakeCommand(t: TestContext, name: string, script: { stdout?: string; stderr?: string; code?: number }): string {
  const dir = join(tempDir(t, `ns-fake-${name}-`), 'bin');
  mkdirSync(dir);
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    join(dir, name),
    `#!/bin/sh\nprintf '%s' ${quote(script.stdout ?? '')}\nprintf '%s' ${quote(script.stderr ?? '')} >&2\nexit ${script.code ?? 0}\n`,
  );
  chmodSync(join(dir, name), 0o755);
  return dir;
}
