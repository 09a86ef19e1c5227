import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

/** The problems a configuration is rejected with (each bad field, as check-config prints them); fails the test if it is accepted. */
export function configProblems(yaml: string, env: Record<string, string> = { TZ: 'UTC' }, cwd = '/tmp'): string[] {
  try {
    parseConfig(yaml, 'nightshift.yml', env, cwd);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return [...err.problems];
  }
  assert.fail(`expected the configuration to be rejected:\n${yaml}`);
}
