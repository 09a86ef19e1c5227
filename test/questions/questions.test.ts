import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { ActionTokens } from '../../src/questions/action-tokens.js';
import { Questions } from '../../src/questions/questions.js';
import { UsedTokenStore } from '../../src/store/chat-state.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { QuestionStore } from '../../src/store/questions.js';
import type { OutgoingMessage } from '../../src/chat/channel.js';
import { tempDir } from '../helpers/temp.js';

test('questions: first answer wins, expired and unauthorised answers change nothing, codes are one-time', (t) => {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  t.after(() => db.close());
  const clock = new ManualClock();
  const sent: OutgoingMessage[] = [];
  const tokens = new ActionTokens(Buffer.alloc(32, 7), new UsedTokenStore(db));
  const acted: string[] = [];
  const refusals: string[] = [];
  const questions = new Questions({
    store: new QuestionStore(db),
    events: new EventLog(db),
    clock,
    log: createCapturedLogger(new Redactor()).logger,
    tokens,
    publicUrl: 'http://127.0.0.1:8787',
    defaultTtlMs: 3_600_000,
    send: (m) => void sent.push(m),
    roleOf: (from) => (from.userId === 'alice' ? 'operator' : from.userId === 'bob' ? 'viewer' : null),
    onRefused: (from, what) => refusals.push(`${from.userId}: ${what}`) > 0,
  });
  questions.onAnswer('consent.analysis', (_q, answer) => {
    acted.push(answer);
    return 'Noted.';
  });
  const q = questions.ask({ kind: 'consent.analysis', subject: 'consent', title: 'May I analyse?' });
  // 8 characters of a 32-letter alphabet: 40 bits.
  assert.match(q.code, /^[A-Z2-9]{8}$/);
  assert.match(sent[0]!.question!.answerUrls!.yes, /^http:\/\/127\.0\.0\.1:8787\/answer\/[\w-]+\.[\w-]+$/);

  const refused = questions.answer({ questionId: q.id }, 'yes', { channel: 'telegram', userId: 'bob' });
  assert.equal(refused.kind, 'refused');
  const mallory = questions.answer({ questionId: q.id }, 'yes', { channel: 'discord', userId: 'mallory' });
  assert.equal(mallory.kind, 'refused');
  assert.deepEqual(refusals, [`bob: answer ${q.id}`, `mallory: answer ${q.id}`], 'every refusal goes to the refusal gate');
  assert.deepEqual(acted, []);
  assert.match(questions.answer({ code: 'ZZZZ' }, 'yes', { channel: 'ntfy', userId: 'phone' }).text, /No question has the code ZZZZ/);
  assert.match(
    questions.answer({ questionId: q.id }, 'no', { channel: 'telegram', userId: 'alice', displayName: 'Alice' }).text,
    /^Recorded: no to "May I analyse\?"\. Noted\./,
  );
  assert.match(
    questions.answer({ code: q.code.toLowerCase() }, 'yes', { channel: 'ntfy', userId: 'phone' }).text,
    /^Already answered: no by Alice \(alice\) on telegram/,
  );
  assert.deepEqual(acted, ['no']);

  const late = questions.ask({ kind: 'consent.analysis', subject: 'consent', title: 'Later?', ttlMs: 1_000 });
  clock.advance(2_000);
  assert.match(questions.answer({ questionId: late.id }, 'yes', { channel: 'telegram', userId: 'alice' }).text, /expired 1s ago\. Nothing was changed/);
  assert.deepEqual(
    questions.expire().map((x) => x.id),
    [late.id],
  );
});

test('guessing codes: the fifth wrong code locks the sender out (audited, announced); even the right code is refused until the lock ends', (t) => {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  t.after(() => db.close());
  const clock = new ManualClock();
  const sent: OutgoingMessage[] = [];
  const events = new EventLog(db);
  const questions = new Questions({
    store: new QuestionStore(db),
    events,
    clock,
    log: createCapturedLogger(new Redactor()).logger,
    tokens: new ActionTokens(Buffer.alloc(32, 7), new UsedTokenStore(db)),
    publicUrl: 'http://127.0.0.1:8787',
    defaultTtlMs: 7 * 86_400_000,
    send: (m) => void sent.push(m),
    roleOf: () => null,
    onRefused: () => true,
  });
  const q = questions.ask({ kind: 'consent.analysis', subject: 'consent', title: 'May I analyse?' });
  const phone = { channel: 'ntfy', userId: 'ntfy:replies' };
  const wrong = (i: number) => `WRONG${String(i).padStart(3, '0')}`;
  for (let i = 0; i < 4; i++) assert.equal(questions.answer({ code: wrong(i) }, 'yes', phone).kind, 'usage');
  const locking = questions.answer({ code: wrong(4) }, 'yes', phone);
  assert.equal(locking.kind, 'refused');
  assert.match(locking.text, /Too many wrong codes.*blocked for 30m/);
  const [locked] = events.ofType('chat.locked_out');
  assert.equal(locked!.context.wrongCodes, 5);
  assert.equal(
    (db.prepare("SELECT count(*) AS n FROM audit WHERE type = 'chat.locked_out'").get() as { n: number }).n,
    1,
    'the lock-out is in the audit trail',
  );
  assert.match(sent.at(-1)!.title, /5 wrong answer codes from ntfy:replies on ntfy within 15m/);
  // The right code now changes nothing, and is not even answered (no push per guess).
  const right = questions.answer({ code: q.code }, 'yes', phone);
  assert.equal(right.kind, 'refused');
  assert.equal(right.silent, true);
  assert.equal(new QuestionStore(db).get(q.id)!.status, 'pending');
  // Another sender, and the console (the machine's owner), are not locked by this one.
  assert.match(questions.answer({ code: 'NOPE2345' }, 'yes', { channel: 'ntfy', userId: 'ntfy:other' }).text, /No question has the code/);
  // When the lock ends, the right code works.
  clock.advance(30 * 60_000);
  assert.match(questions.answer({ code: q.code }, 'yes', phone).text, /^Recorded: yes/);
});

test('action tokens: signed, expiring, single use', (t) => {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  t.after(() => db.close());
  const tokens = new ActionTokens(Buffer.alloc(32, 1), new UsedTokenStore(db));
  const token = tokens.mint({ questionId: 'q1', answer: 'yes' }, 10_000);
  const forged = `${token.split('.')[0]!.replace(/.$/, 'A')}.${token.split('.')[1]}`;
  assert.deepEqual(tokens.redeem(forged, 5_000), { ok: false, reason: 'invalid signature' });
  const other = new ActionTokens(Buffer.alloc(32, 2), new UsedTokenStore(db));
  assert.deepEqual(other.redeem(token, 5_000), { ok: false, reason: 'invalid signature' });
  assert.deepEqual(tokens.redeem(token, 20_000), { ok: false, reason: 'this button has expired' });
  assert.deepEqual(tokens.redeem(token, 5_000), { ok: true, claim: { questionId: 'q1', answer: 'yes' } });
  assert.deepEqual(tokens.redeem(token, 5_000), { ok: false, reason: 'this button was already used' });
});

test('command tokens: signed, expiring, single use, and never interchangeable with answer tokens', (t) => {
  const db = openDatabase(join(tempDir(t), 'n.db'));
  t.after(() => db.close());
  const tokens = new ActionTokens(Buffer.alloc(32, 1), new UsedTokenStore(db));
  const command = tokens.mintCommand({ command: '/ack 12' }, 10_000);
  const answer = tokens.mint({ questionId: 'q1', answer: 'yes' }, 10_000);
  // The wrong kind is malformed for its route and is not spent.
  assert.deepEqual(tokens.redeem(command, 5_000), { ok: false, reason: 'malformed token' });
  assert.deepEqual(tokens.redeemCommand(answer, 5_000), { ok: false, reason: 'malformed token' });
  assert.deepEqual(new ActionTokens(Buffer.alloc(32, 2), new UsedTokenStore(db)).redeemCommand(command, 5_000), { ok: false, reason: 'invalid signature' });
  assert.deepEqual(tokens.redeemCommand(command, 20_000), { ok: false, reason: 'this button has expired' });
  assert.deepEqual(tokens.redeemCommand(command, 5_000), { ok: true, claim: { command: '/ack 12' } });
  assert.deepEqual(tokens.redeemCommand(command, 5_000), { ok: false, reason: 'this button was already used' });
  assert.deepEqual(tokens.redeem(answer, 5_000), { ok: true, claim: { questionId: 'q1', answer: 'yes' } });
});
