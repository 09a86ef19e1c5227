/** What the recovery path does about a failing root incident. */
export type HealDecision =
  /** `slowRetry`: the incident was escalated, and this is the periodic retry after it. */
  | { kind: 'heal'; delayMs: number; attempt: number; slowRetry?: boolean }
  /** `skippedByFlag`: the heal would have run but a regret flag forbids it (recorded as a skip). */
  | { kind: 'escalate'; reason: string; skippedByFlag?: boolean }
  | { kind: 'skip'; reason: string };

export interface HealPolicyInput {
  now: number;
  /** Steps configured for the check. */
  steps: number;
  maxHeals: { count: number; windowMs: number };
  /** When the last heal of this check started, if any. */
  lastHealAt: number | null;
  /** The last heal held (the check stayed healthy through its next patrol). */
  lastHealHeld: boolean;
  /** Heals in a row that did not hold, before this one. */
  unheldHeals: number;
  /** Heal attempts within maxHeals.windowMs. */
  attemptsInWindow: number;
  /** The check says it is in a restart loop (pm2/systemd restart counts). */
  restartLoop: boolean;
  /** The incident is a symptom of this check's failing dependency. */
  symptomOf: string | null;
  /** When the incident was escalated, or null. */
  escalatedAt: number | null;
  /** After escalating, heal again this often; null: never (retryAfterEscalation: off). */
  retryAfterEscalationMs: number | null;
  /** Skipped heal categories (the regret index flags them). */
  flaggedReason: string | null;
  /** The wait before the second heal in a row that did not hold; doubles each time. */
  backoffBaseMs?: number;
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

/**
 * The Level-1 rules, as a pure function. Heal the root, never a symptom.
 * The first heal is immediate; heals that do not hold back off (1 s, 2 s,
 * 4 s ... up to a minute) until maxHeals per window is reached, which
 * escalates; a restart loop escalates at once. No timing rule stops healing
 * for good: after an escalation the heal is retried every
 * retryAfterEscalation, unless that is off or a regret flag forbids it.
 */
export function decideHeal(input: HealPolicyInput): HealDecision {
  if (input.symptomOf) return { kind: 'skip', reason: `symptom of ${input.symptomOf}: healing the root instead` };
  if (input.escalatedAt !== null) {
    const retry = input.retryAfterEscalationMs;
    if (retry === null) return { kind: 'skip', reason: 'escalated to the operator (retryAfterEscalation: off)' };
    if (input.steps === 0 || input.flaggedReason) return { kind: 'skip', reason: 'already escalated to the operator' };
    const since = Math.max(input.escalatedAt, input.lastHealAt ?? -Infinity);
    if (input.now - since < retry) return { kind: 'skip', reason: 'escalated: waiting for the slow retry' };
    return { kind: 'heal', delayMs: 0, attempt: input.unheldHeals + 1, slowRetry: true };
  }
  if (input.restartLoop)
    return { kind: 'escalate', reason: 'restart loop: it keeps crashing right after each restart, so restarting again would only add noise' };
  if (input.steps === 0) return { kind: 'skip', reason: 'no heal steps configured: alert only' };
  if (input.flaggedReason) return { kind: 'escalate', reason: input.flaggedReason, skippedByFlag: true };
  if (input.attemptsInWindow >= input.maxHeals.count) {
    return {
      kind: 'escalate',
      reason: `healed ${input.attemptsInWindow} times within ${Math.round(input.maxHeals.windowMs / 60_000)} min (maxHeals ${input.maxHeals.count}) and it keeps failing`,
    };
  }
  const repeats = input.lastHealHeld || input.lastHealAt === null ? 0 : input.unheldHeals;
  const base = input.backoffBaseMs ?? BACKOFF_BASE_MS;
  const delayMs = repeats === 0 ? 0 : Math.min(base * 2 ** (repeats - 1), BACKOFF_MAX_MS);
  return { kind: 'heal', delayMs, attempt: repeats + 1 };
}
