import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transition } from '../../src/consent/transitions.js';

test('consent: unasked → asked → granted | declined; asked once; illegal transitions refused', () => {
  assert.equal(transition('unasked', 'ask'), 'asked');
  assert.equal(transition('asked', 'ask'), null, 'never asked twice');
  assert.equal(transition('asked', 'grant'), 'granted');
  assert.equal(transition('asked', 'decline'), 'declined');
  assert.equal(transition('unasked', 'grant'), null, 'an answer nobody was asked for is refused');
  assert.equal(transition('granted', 'decline'), null, 'a late answer does not overturn the first');
  assert.equal(transition('granted', 'admin-off'), 'declined');
  assert.equal(transition('declined', 'admin-on'), 'granted');
  assert.equal(transition('declined', 'ask'), null);
});
