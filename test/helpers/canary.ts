import { randomBytes } from 'node:crypto';

/**
 * The marker every test credential carries, so the sweep after the suite
 * (test/security/sweep-secrets.ts) can find any of them, whole or cut short,
 * in whatever the bot wrote. Letters only: it fits every token alphabet.
 */
export const CANARY_MARKER = 'LEAKCANARY';

/**
 * A made-up credential carrying the marker: `ntfy` is shaped like an ntfy
 * access token (tk_ and 29 letters or digits); any other kind is a bearer
 * token of 16+ characters without spaces, as NIGHTSHIFT_*_TOKEN need.
 */
export function canaryToken(kind: 'ntfy' | 'http' | 'agent' | 'alertmanager'): string {
  const random = (length: number) => randomBytes(length).toString('hex').slice(0, length);
  return kind === 'ntfy' ? `tk_${CANARY_MARKER}${random(19)}` : `${kind}-${CANARY_MARKER}-${random(16)}`;
}
