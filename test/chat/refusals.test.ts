import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefusalGate } from '../../src/chat/refusals.js';

test('refusals: one answered and recorded per person per window; the unanswered ones are counted into the next record', () => {
  const recorded: Array<[string, string, number]> = [];
  const gate = new RefusalGate({ windowMs: 600_000, perChannel: 3, record: (from, what, suppressed) => void recorded.push([from.userId, what, suppressed]) });
  const stranger = { channel: 'telegram', userId: '666' };
  assert.equal(gate.refuse(stranger, '/heal', 0), true);
  for (let i = 1; i <= 199; i++) assert.equal(gate.refuse(stranger, '/heal', i * 1_000), false);
  assert.deepEqual(recorded, [['666', '/heal', 0]]);
  // The next window: answered again, and the row carries the 199 that were not.
  assert.equal(gate.refuse(stranger, '/status', 600_000), true);
  assert.deepEqual(recorded.at(-1), ['666', '/status', 199]);
});

test('refusals: many strangers on one channel add at most perChannel rows per window', () => {
  const recorded: number[] = [];
  const gate = new RefusalGate({ windowMs: 600_000, perChannel: 3, record: (_from, _what, suppressed) => void recorded.push(suppressed) });
  let answered = 0;
  for (let i = 0; i < 100; i++) if (gate.refuse({ channel: 'discord', userId: `u${i}` }, '/heal', i)) answered++;
  assert.equal(answered, 3);
  // Other channels have their own budget.
  assert.equal(gate.refuse({ channel: 'telegram', userId: 'u1' }, '/heal', 100), true);
  // After the window, the first record on that channel carries the 97 that were dropped.
  assert.equal(gate.refuse({ channel: 'discord', userId: 'u99' }, '/heal', 600_001), true);
  assert.deepEqual(recorded, [0, 0, 0, 0, 97]);
});
