import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matches, parseMatcher, type SilenceMatcher } from '../../src/silence/matcher.js';

const web1 = { name: 'web-1', kind: 'http', severity: 'critical' as const };
const web2 = { name: 'web-2', kind: 'process', severity: 'optional' as const };
const webhook = { name: 'webhook', kind: 'http', severity: 'optional' as const };
const db = { name: 'db', kind: 'tcp', severity: 'critical' as const };
const all = [web1, web2, webhook, db];

function covered(text: string): string[] {
  const matcher = parseMatcher(text);
  assert.notEqual(typeof matcher, 'string', `${text} should parse`);
  return all.filter((c) => matches(matcher as SilenceMatcher, c)).map((c) => c.name);
}

test('a name glob covers the checks it spells, and only those', () => {
  assert.deepEqual(covered('web-*'), ['web-1', 'web-2']);
  assert.deepEqual(covered('web*'), ['web-1', 'web-2', 'webhook']);
  assert.deepEqual(covered('web-?'), ['web-1', 'web-2']);
  assert.deepEqual(covered('db'), ['db']);
  assert.deepEqual(covered('d'), [], 'a name is matched whole, not as a prefix');
  assert.deepEqual(covered('web.1'), [], '"." is a literal, not any character');
});

test('kind: and severity: terms, and terms joined by commas all have to match', () => {
  assert.deepEqual(covered('kind:http'), ['web-1', 'webhook']);
  assert.deepEqual(covered('kind:p*'), ['web-2']);
  assert.deepEqual(covered('severity:optional'), ['web-2', 'webhook']);
  assert.deepEqual(covered('kind:http,severity:optional'), ['webhook']);
  assert.deepEqual(covered('web*, severity:critical'), ['web-1']);
  assert.deepEqual(covered('name:db'), ['db']);
});

test('a matcher that is not one says what is wrong', () => {
  assert.match(parseMatcher('severity:warning') as string, /severity: expected critical or optional, found "warning"/);
  assert.match(parseMatcher('team:web') as string, /unknown field "team"/);
  assert.match(parseMatcher('web/1') as string, /found "web\/1"/);
  assert.match(parseMatcher('') as string, /found ""/);
  assert.match(parseMatcher('web,') as string, /found ""/);
});
