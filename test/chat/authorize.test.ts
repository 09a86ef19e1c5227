import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuthorizer } from '../../src/chat/authorize.js';
import { parseConfig } from '../../src/config/load.js';

const env = {
  DISCORD_TOKEN: 'x'.repeat(30),
  DISCORD_APPLICATION_ID: '1',
  DISCORD_GUILD_ID: '500',
  DISCORD_CHANNEL_ID: '501',
  TELEGRAM_TOKEN: '1:abc',
  TELEGRAM_CHAT_ID: '-100',
};

test('fails closed: nothing configured means nobody operates; open viewers only inside the configured guild/chat', () => {
  const config = parseConfig('', 'f.yml', env, '/');
  const roleOf = createAuthorizer(config.chat, config.channels);
  assert.equal(roleOf({ channel: 'discord', userId: '9', chatId: '500' }), 'viewer');
  assert.equal(roleOf({ channel: 'discord', userId: '9', chatId: '777' }), null);
  assert.equal(roleOf({ channel: 'telegram', userId: '9', chatId: '9' }), null, 'a private chat with a stranger');
  assert.equal(roleOf({ channel: 'telegram', userId: '9', chatId: '-100' }), 'viewer');
  assert.equal(roleOf({ channel: 'somewhere', userId: '9' }), null);
  const closed = createAuthorizer(parseConfig('chat:\n  discord: { openViewers: false }\n  ntfy: { role: none }\n', 'f.yml', env, '/').chat, config.channels);
  assert.equal(closed({ channel: 'discord', userId: '9', chatId: '500' }), null);
  assert.equal(closed({ channel: 'ntfy', userId: 'ntfy:replies' }), null);
});

test('allow-lists: Discord users and roles, Telegram users and chats', () => {
  const yaml = `chat:\n  discord:\n    admins: { users: ["11"] }\n    operators: { roles: ["22"] }\n  telegram:\n    admins: [33]\n    operators: ["-100"]\n`;
  const config = parseConfig(yaml, 'f.yml', env, '/');
  const roleOf = createAuthorizer(config.chat, config.channels);
  assert.equal(roleOf({ channel: 'discord', userId: '11' }), 'admin');
  assert.equal(roleOf({ channel: 'discord', userId: '12', groups: ['22'] }), 'operator');
  assert.equal(roleOf({ channel: 'telegram', userId: '33', chatId: '33' }), 'admin');
  assert.equal(roleOf({ channel: 'telegram', userId: '44', chatId: '-100' }), 'operator', 'everyone in a listed group chat');
  assert.equal(roleOf({ channel: 'console', userId: 'root' }), 'admin');
});

test('a token without the ids it needs is a named configuration error', () => {
  assert.throws(
    () => parseConfig('', 'f.yml', { DISCORD_TOKEN: 'x' }, '/'),
    /DISCORD_APPLICATION_ID \(environment\): expected it to be set because DISCORD_TOKEN is set/,
  );
  assert.throws(() => parseConfig('', 'f.yml', { NTFY_URL: 'http://n', NTFY_TOPIC: 'a', NTFY_REPLY_TOPIC: 'a' }, '/'), /NTFY_REPLY_TOPIC/);
});
