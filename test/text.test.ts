import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipAtWord, clipStrings, dropPartialFirstWord, tailAtWord } from '../src/util/text.js';
import { Redactor } from '../src/log/redact.js';

const TOKEN = 'tk_ab3d9f0k2m4n6p8q1r3s5t7v9x0z2';

test('cutting never leaves half a token for the redactor to miss: the partial word goes', () => {
  const redactor = new Redactor();
  const text = `connect failed with token ${TOKEN} while reading`;
  for (let max = 10; max < text.length; max++) {
    const head = redactor.redact(clipAtWord(text, max));
    const tail = redactor.redact(tailAtWord(text, max));
    assert.ok(head.length <= max, `${head} is longer than ${max}`);
    assert.ok(tail.length <= max, `${tail} is longer than ${max}`);
    for (const piece of [head, tail]) assert.equal(/tk_|ab3d9f|9x0z2/.test(piece), false, `max ${max}: ${piece}`);
  }
  assert.equal(clipAtWord('short', 10), 'short');
  assert.equal(clipAtWord('one two three', 9), 'one two…');
  assert.equal(tailAtWord('one two three', 9), '…three');
  assert.equal(dropPartialFirstWord('n6p8q1r3s5t7v9x0z2 rest of line'), 'rest of line');
  assert.equal(dropPartialFirstWord('n6p8q1r3"}, {"next": 1}'), '}, {"next": 1}');
  // One long blob with no boundary is cut hard: hiding it all would hide the evidence.
  assert.equal(clipAtWord('x'.repeat(500), 200).length, 200);
  assert.equal(dropPartialFirstWord('no-boundary-at-all'), 'no-boundary-at-all');
});

test('clipStrings bounds every string of a stored value, at word boundaries', () => {
  const value = { a: 'one two three four', n: 3, list: [`token ${TOKEN} end`] };
  assert.deepEqual(clipStrings(value, 12), { a: 'one two…', n: 3, list: ['token…'] });
});
