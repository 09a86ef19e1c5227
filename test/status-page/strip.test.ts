import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildStrip, coverageOf, stripWindow } from '../../src/status-page/strip.js';

const MIN = 60_000;

test('a run killed without a stop record counts until its last recorded event; the current run always counts', { timeout: 5_000 }, () => {
  const marks = [
    { at: 0, type: 'instance.started' as const },
    { at: 100 * MIN, type: 'instance.started' as const },
    { at: 200 * MIN, type: 'instance.stopped' as const },
  ];
  const lastSeen = (at: number) => (at === 100 * MIN ? 40 * MIN : null);
  assert.deepEqual(coverageOf(marks, 300 * MIN, 400 * MIN, lastSeen), [
    [0, 40 * MIN],
    [100 * MIN, 200 * MIN],
    [300 * MIN, 400 * MIN],
  ]);
});

test('the strip follows failures and recoveries across cells, and shows no data where nobody watched', { timeout: 5_000 }, () => {
  const window = stripWindow(8 * 15 * MIN, 8);
  assert.equal(window.from, 15 * MIN);
  const strip = buildStrip({
    window,
    before: 'ok',
    // Failed in cell 1, still failing through cell 2, recovered in cell 3; a blip in cell 5 that recovered in it;
    // Nightshift stopped in cell 6, so cell 7 has no data.
    cells: new Map([
      [1, { lastFailedAt: window.from + 20 * MIN }],
      [3, { lastRecoveredAt: window.from + 50 * MIN }],
      [5, { lastFailedAt: window.from + 80 * MIN, lastRecoveredAt: window.from + 81 * MIN }],
    ]),
    coverage: [[window.from, window.from + 100 * MIN]],
    current: 'ok',
  });
  assert.equal(strip, 'offfofo-');
});
