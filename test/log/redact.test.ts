import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redactor } from '../../src/log/redact.js';
import { createCapturedLogger, createLogger } from '../../src/log/logger.js';

// Realistic shapes (made up, never valid): what each platform hands out.
const DISCORD = 'MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhT2xQ.k3Jd8sPq0vW_zYx-9aBcDeFgHiJkLmNoPqRsTu';
const TELEGRAM = '7123456789:AAH4k2Jd8sPq0vWzYx9aBcDeFgHiJkLmNoP';
const NTFY = 'tk_ab3d9f0k2m4n6p8q1r3s5t7v9x0z2';
const OPENAI = 'sk-proj-Ab3dEf9GhIjKlMnOpQrStUvWx0123456789';
const GITHUB = 'ghp_1234567890abcdefghijABCDEFGHIJ123456';

const redactor = new Redactor();

test('Discord bot tokens are removed', () => {
  const out = redactor.redact(`login failed for token ${DISCORD} (401)`);
  assert.equal(out.includes(DISCORD), false);
  assert.match(out, /login failed for token \[redacted:discord-token\] \(401\)/);
});

test('Telegram bot tokens are removed, also inside Bot API URLs', () => {
  const out = redactor.redact(`GET https://api.telegram.org/bot${TELEGRAM}/getUpdates failed`);
  assert.equal(out.includes(TELEGRAM), false);
  assert.equal(out.includes('AAH4k2Jd8sPq'), false);
  assert.match(out, /api\.telegram\.org\/bot\[redacted:telegram-token\]\/getUpdates/);
});

test('ntfy tk_ tokens, Bearer headers and Authorization values are removed', () => {
  for (const text of [
    `token=${NTFY}`,
    `Authorization: Bearer ${NTFY}`,
    `{"authorization":"Bearer ${NTFY}"}`,
    `curl -H "Authorization: Basic dXNlcjpwYXNzd29yZA=="`,
  ]) {
    const out = redactor.redact(text);
    assert.equal(out.includes(NTFY), false, out);
    assert.equal(out.includes('dXNlcjpwYXNzd29yZA'), false, out);
    assert.match(out, /redacted/);
  }
  assert.equal(redactor.redact('Authorization: Bearer abcdef.ghijkl.mnopqr'), 'Authorization: Bearer [redacted:authorization]');
});

test('API keys and secret-named values are removed; ordinary text is left alone', () => {
  for (const key of [OPENAI, GITHUB, 'AKIAIOSFODNN7EXAMPLE', 'xoxb-1234567890-abcdefghij']) {
    assert.equal(redactor.redact(`key ${key} leaked`).includes(key), false, key);
  }
  assert.equal(redactor.redact('OPENAI_API_KEY=abc123def456'), 'OPENAI_API_KEY=[redacted:secret]');
  assert.equal(redactor.redact('db_password: "hunter22"'), 'db_password: "[redacted:secret]"');
  const plain = 'worker-a exited with code 1 after 3.2s; disk 41% free; see /var/log/worker.log:120';
  assert.equal(redactor.redact(plain), plain);
});

test('configured secret values are removed wherever they appear, whatever their shape', () => {
  const custom = new Redactor(['my-odd-secret-value-1', undefined, 'abc']);
  assert.equal(custom.redact('x my-odd-secret-value-1 y abc'), 'x [redacted] y abc');
  assert.deepEqual(custom.redactValue({ a: ['my-odd-secret-value-1'], n: 3 }), { a: ['[redacted]'], n: 3 });
});

test('log lines are redacted on the way out: messages, errors and header objects', () => {
  const { logger, lines } = createCapturedLogger(new Redactor([TELEGRAM]));
  logger.info({ headers: { authorization: `Bearer ${NTFY}` } }, 'publishing');
  logger.error({ err: new Error(`request to /bot${TELEGRAM}/sendMessage failed`) }, `token ${DISCORD} rejected`);
  const text = JSON.stringify(lines());
  for (const secret of [NTFY, TELEGRAM, DISCORD]) assert.equal(text.includes(secret), false, secret);
  assert.equal(lines()[0]!.msg, 'publishing');
});

test('on a terminal the log is human-readable and still redacted', () => {
  const raw: string[] = [];
  const output = { write: (line: string) => raw.push(line), isTTY: false } as unknown as NodeJS.WritableStream;
  const logger = createLogger({ level: 'info', redactor: new Redactor(), output, pretty: true });
  logger.warn({ check: 'disk-data' }, `disk low; token ${NTFY}`);
  const text = raw.join('');
  assert.match(text, /WARN.*disk low; token \[redacted:ntfy-token\]/);
  assert.match(text, /check: "disk-data"/);
  assert.equal(text.includes(NTFY), false);
});

test('secrets named by their context are removed whatever they look like: key=value, URL passwords, DSNs, headers, flags', () => {
  const cases: Array<[string, string]> = [
    ['connect failed: password=hunter2', 'hunter2'],
    ['DB_PASSWORD=foo ./run', 'foo'],
    ['passwd: "two words"', 'two words'],
    ["secret = 'k3y'", 'k3y'],
    ['api_key=zz9 other=1', 'zz9'],
    ['token=abc&next=1', 'abc'],
    ['FATAL: could not connect to postgres://app:s3cretpw@db:5432/prod', 's3cretpw'],
    ['redis://:r3dispw@127.0.0.1:6379/0', 'r3dispw'],
    ['mongodb+srv://admin:m0ng0pw@cluster0.example.net/db', 'm0ng0pw'],
    ['host=db user=app password=libpqpw dbname=x', 'libpqpw'],
    ['X-Api-Key: key-material-123', 'key-material-123'],
    ['X-Auth-Token: tok-456', 'tok-456'],
    ['Authorization: Bearer short', 'short'],
    ['Proxy-Authorization: Basic cHJveHk6cHc=', 'cHJveHk6cHc='],
    ['Cookie: sid=abc123; theme=dark', 'sid=abc123'],
    ['mysqldump --password hunter3 --all', 'hunter3'],
    ['curl --token=t0k3n https://x', 't0k3n'],
    ['git clone https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
  ];
  for (const [text, secret] of cases) {
    const out = redactor.redact(text);
    assert.equal(out.includes(secret), false, `${text} -> ${out}`);
    assert.match(out, /\[redacted:/, text);
    // Redacting twice changes nothing: stored text is redacted again on its way out.
    assert.equal(redactor.redact(out), out, text);
  }
  // The user name of a URL, and the scheme word of an Authorization header, stay: they help, and are not secret.
  assert.equal(redactor.redact('postgres://app:pw1@db/x'), 'postgres://app:[redacted:password]@db/x');
  assert.equal(redactor.redact('Authorization: Bearer short'), 'Authorization: Bearer [redacted:authorization]');
  for (const plain of ['ssh://git@github.com/o/r', 'http://127.0.0.1:8787/status.json', 'the token expired at 03:12', 'tokenCount=5', 'password reset: done']) {
    assert.equal(redactor.redact(plain), plain);
  }
});

test('JSON stays JSON when a secret-named key is redacted, and structured values lose secret-named keys', () => {
  const json = JSON.stringify({ password: 'a"b', token: null, secret: 12, apiKey: 'k', n: 1, nested: { authorization: 'Basic eA==' } });
  const out = redactor.redact(json);
  const parsed = JSON.parse(out) as Record<string, unknown>;
  assert.equal(parsed.password, '[redacted:secret]');
  assert.equal(parsed.token, null);
  assert.equal(parsed.n, 1);
  assert.deepEqual(redactor.redactValue({ headers: { Authorization: 'opaque', 'X-Api-Key': 'k1' }, password: 'p', name: 'password', count: 3 }), {
    headers: { Authorization: '[redacted:secret]', 'X-Api-Key': '[redacted:secret]' },
    password: '[redacted:secret]',
    name: 'password',
    count: 3,
  });
});
