import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UsedTokenStore } from '../store/chat-state.js';
import type { KeyValueStore } from '../store/kv.js';

export interface ActionClaim {
  questionId: string;
  answer: 'yes' | 'no';
}

/** A button on an alert that runs a chat command ("/ack 12") when POSTed to /act/<token>. */
export interface CommandClaim {
  command: string;
}

export type ActionTokenCheck<C = ActionClaim> = { ok: true; claim: C } | { ok: false; reason: string };

type TokenBody = Record<string, unknown>;

/**
 * Signed, expiring, single-use tokens for the answer buttons of an ntfy push
 * (an `http` action POSTs to /answer/<token>) and
 * the command buttons of an alert (/act/<token>). HMAC-SHA256 over the claim, the
 * expiry and a nonce; the nonce is recorded when used, so a token works once.
 */
export class ActionTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly used: UsedTokenStore,
  ) {}

  mint(claim: ActionClaim, expiresAt: number): string {
    return this.seal({ q: claim.questionId, a: claim.answer }, expiresAt);
  }

  /** A token for an alert button that runs `claim.command` (the /act route). */
  mintCommand(claim: CommandClaim, expiresAt: number): string {
    return this.seal({ c: claim.command }, expiresAt);
  }

  /** Checks signature and expiry, then spends the token. */
  redeem(token: string, now: number): ActionTokenCheck {
    return this.spend(token, now, (body) =>
      typeof body.q === 'string' && (body.a === 'yes' || body.a === 'no') ? { questionId: body.q, answer: body.a } : undefined,
    );
  }

  /** Checks signature and expiry of a command token, then spends it; an answer token is refused here (and not spent). */
  redeemCommand(token: string, now: number): ActionTokenCheck<CommandClaim> {
    return this.spend(token, now, (body) => (typeof body.c === 'string' && body.q === undefined ? { command: body.c } : undefined));
  }

  private seal(fields: TokenBody, expiresAt: number): string {
    const payload = Buffer.from(JSON.stringify({ ...fields, e: expiresAt, n: randomBytes(9).toString('base64url') })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** Signature, shape (`claimOf`), expiry, then the nonce is recorded: a token works once. */
  private spend<C>(token: string, now: number, claimOf: (body: TokenBody) => C | undefined): ActionTokenCheck<C> {
    const [payload, signature] = token.split('.');
    if (!payload || !signature) return { ok: false, reason: 'malformed token' };
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'invalid signature' };
    let body: TokenBody;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'malformed token' };
      body = parsed as TokenBody;
    } catch {
      return { ok: false, reason: 'malformed token' };
    }
    const claim = claimOf(body);
    if (claim === undefined || typeof body.e !== 'number' || typeof body.n !== 'string') return { ok: false, reason: 'malformed token' };
    if (body.e <= now) return { ok: false, reason: 'this button has expired' };
    if (!this.used.use(body.n, now)) return { ok: false, reason: 'this button was already used' };
    return { ok: true, claim };
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
