import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createChatChannels } from '../../adapters/index.js';
import { createAuthorizer } from '../../src/chat/authorize.js';
import { platformNames, platforms } from '../../src/chat/platforms/index.js';
import { childEnvironment } from '../../src/config/child-env.js';
import { parseConfig } from '../../src/config/load.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';

test('the registry: each platform under its own name, its token shapes global (every occurrence is replaced), its lists defaulted in the config', () => {
  const config = parseConfig('', 'f.yml', {}, '/');
  for (const name of platformNames) {
    const platform = platforms[name];
    assert.equal(platform.name, name);
    assert.ok(platform.variablePrefix.endsWith('_'), `${name}: a variable family, not a prefix of other names`);
    for (const variable of platform.secretVariables) assert.ok(variable.startsWith(platform.variablePrefix), `${name}: ${variable} is of its family`);
    for (const pattern of platform.secretPatterns) assert.ok(pattern.regex.global, `${name}: ${pattern.kind} is global`);
    assert.deepEqual(config.chat[name], platform.lists.parse(undefined));
    assert.equal(config.channels[name], undefined, `${name} is off without its variables`);
  }
});

test("every platform's secret variables are secrets of the config; its whole variable family is withheld from child programs", (t) => {
  const env = Object.fromEntries(platformNames.flatMap((name) => platforms[name].secretVariables.map((v) => [v, `${v.toLowerCase()}-value-1234`])));
  // The ids a token needs, so the config is valid.
  const ids = { DISCORD_APPLICATION_ID: '1', DISCORD_GUILD_ID: '2', DISCORD_CHANNEL_ID: '3', TELEGRAM_CHAT_ID: '4' };
  const config = parseConfig('', 'f.yml', { ...env, ...ids }, '/');
  const redactor = new Redactor(Object.values(config.secrets));
  for (const [variable, value] of Object.entries(env)) assert.equal(redactor.redact(`got ${value}`), 'got [redacted]', variable);

  const planted = platformNames.map((name) => `${platforms[name].variablePrefix}ANYTHING_ELSE`);
  for (const name of planted) process.env[name] = 'x';
  t.after(() => {
    for (const name of planted) delete process.env[name];
  });
  const child = childEnvironment({ EXTRA: '1' });
  for (const name of planted) assert.equal(child[name], undefined, name);
  assert.equal(child.EXTRA, '1');
});

test('a channel name that is no platform grants nothing, including names every object has', () => {
  const config = parseConfig('', 'f.yml', {}, '/');
  const roleOf = createAuthorizer(config.chat, config.channels);
  for (const channel of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'slack']) assert.equal(roleOf({ channel, userId: '1' }), null, channel);
});

test('no platform on: no channel is created (and no client module is needed)', async () => {
  assert.deepEqual(await createChatChannels({}, [], createCapturedLogger(new Redactor()).logger), []);
});
