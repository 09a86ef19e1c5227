import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { checkKindNames } from '../../src/checks/index.js';
import { healActionNames } from '../../src/heal/index.js';
import { packageRoot } from '../../src/paths.js';

test('nightshift.example.yml is valid and shows every check kind and heal action', () => {
  const file = join(packageRoot, 'nightshift.example.yml');
  const config = parseConfig(readFileSync(file, 'utf8'), file, {}, packageRoot);
  assert.deepEqual(new Set(config.checks.map((c) => c.kind)), new Set(checkKindNames));
  assert.deepEqual(new Set(config.checks.flatMap((c) => c.heal.map((s) => s.action))), new Set(healActionNames));
});
