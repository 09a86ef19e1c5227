import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UsedTokenStore } from '../store/chat-state.js';
import type { KeyValueStore } from '../store/kv.js';

export interface ActionClaim {
  questionId: string;
  answer: 'yes' | 'no';
}

export type ActionTokenCheck = { ok: true; claim: ActionClaim } | { ok: false; reason: string };

/**
 * Signed, expiring, single-use tokens for the answer buttons of an ntfy push
 * (an `http` action POSTs to /answer/<token>). HMAC-SHA256 over the claim, the
 * expiry and a nonce; the nonce is recorded when used, so a token works once.
 */
export class ActionTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly used: UsedTokenStore,
  ) {}

  mint(claim: ActionClaim, expiresAt: number): string {
    const payload = Buffer.from(JSON.stringify({ q: claim.questionId, a: claim.answer, e: expiresAt, n: randomBytes(9).toString('base64url') })).toString(
      'base64url',
    );
    return `${payload}.${this.sign(payload)}`;
  }

  /** Checks signature and expiry, then spends the token. */
  redeem(token: string, now: number): ActionTokenCheck {
    const [payload, signature] = token.split('.');
    if (!payload || !signature) return { ok: false, reason: 'malformed token' };
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'invalid signature' };
    let body: { q?: unknown; a?: unknown; e?: unknown; n?: unknown };
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof body;
    } catch {
      return { ok: false, reason: 'malformed token' };
    }
    if (typeof body.q !== 'string' || (body.a !== 'yes' && body.a !== 'no') || typeof body.e !== 'number' || typeof body.n !== 'string')
      return { ok: false, reason: 'malformed token' };
    if (body.e <= now) return { ok: false, reason: 'this button has expired' };
    if (!this.used.use(body.n, now)) return { ok: false, reason: 'this button was already used' };
    return { ok: true, claim: { questionId: body.q, answer: body.a } };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}

/** The HMAC key of the answer buttons: made once and kept in the store, so buttons in pushes survive a restart. */
export function actionSecret(kv: KeyValueStore): Buffer {
  let hex = kv.get('ntfy.action.secret');
  if (!hex) {
    hex = randomBytes(32).toString('hex');
    kv.set('ntfy.action.secret', hex);
  }
  return Buffer.from(hex, 'hex');
}
