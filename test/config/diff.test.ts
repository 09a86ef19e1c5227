import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeDiff, diffConfig } from '../../src/config/diff.js';
import { parseConfig } from '../../src/config/load.js';

const parse = (text: string) => parseConfig(text, '/srv/nightshift.yml', {}, '/srv');

test('checks are compared by name and by every setting; other sections are named as needing a restart', () => {
  const before = parse(`
log: { level: info }
checks:
  - { name: api, kind: tcp, port: 3000 }
  - { name: db, kind: tcp, port: 5432 }
  - { name: old, kind: disk, path: / }
`);
  const after = parse(`
log: { level: debug }
checks:
  - { name: db, kind: tcp, port: 5432 }
  - { name: api, kind: tcp, port: 3001 }
  - { name: new, kind: disk, path: /tmp }
`);
  const diff = diffConfig(before, after);
  assert.deepEqual(diff, { added: ['new'], removed: ['old'], changed: ['api'], unchanged: ['db'], needRestart: ['log'] });
  assert.equal(describeDiff(diff), 'check new added; check old removed; check api changed; log changed: takes effect at the next restart');
});

test('the same file read twice, or only reordered, is no difference', () => {
  const a = parse('checks:\n  - { name: a, kind: disk, path: / }\n  - { name: b, kind: disk, path: /tmp }\n');
  const b = parse('checks:\n  - { name: b, kind: disk, path: /tmp }\n  - { name: a, kind: disk, path: / }\n');
  const diff = diffConfig(a, b);
  assert.deepEqual([diff.added, diff.removed, diff.changed, diff.needRestart], [[], [], [], []]);
  assert.equal(describeDiff(diff), 'nothing changed');
});

test('a default every check inherits (the patrol interval) changes those checks too', () => {
  const before = parse('patrol: { interval: 30s }\nchecks:\n  - { name: a, kind: disk, path: / }\n  - { name: b, kind: disk, path: /, interval: 5s }\n');
  const after = parse('patrol: { interval: 10s }\nchecks:\n  - { name: a, kind: disk, path: / }\n  - { name: b, kind: disk, path: /, interval: 5s }\n');
  const diff = diffConfig(before, after);
  assert.deepEqual([diff.changed, diff.unchanged, diff.needRestart], [['a'], ['b'], ['patrol']]);
});

test('a heal step or a dependency added is a change of that check alone', () => {
  const before = parse('checks:\n  - { name: a, kind: disk, path: / }\n  - { name: b, kind: disk, path: /tmp }\n');
  const after = parse('checks:\n  - { name: a, kind: disk, path: /, dependsOn: [b] }\n  - { name: b, kind: disk, path: /tmp }\n');
  assert.deepEqual(diffConfig(before, after).changed, ['a']);
});
