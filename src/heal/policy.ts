/** What the recovery path does about a failing root incident. */
export type HealDecision =
  | { kind: 'heal'; delayMs: number; attempt: number }
  /** `skippedByFlag`: the heal would have run but a regret flag forbids it (recorded as a skip). */
  | { kind: 'escalate'; reason: string; skippedByFlag?: boolean }
  | { kind: 'skip'; reason: string };

export interface HealPolicyInput {
  now: number;
  /** Steps configured for the check. */
  steps: number;
  cooldownMs: number;
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
  /** The incident was already escalated. */
  escalated: boolean;
  /** Skipped heal categories (the regret index flags them). */
  flaggedReason: string | null;
  /** The wait before the second heal in a row that did not hold; doubles each time. */
  backoffBaseMs?: number;
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

/**
 * The Level-1 rules, as a pure function. Heal the root, never a symptom.
 * The first heal is immediate; a failure that returns within the cooldown of
 * a heal that did not hold escalates instead (no restart storms); maxHeals
 * caps heals per window whatever the cooldown says; repeated heals back off.
 */
export function decideHeal(input: HealPolicyInput): HealDecision {
  if (input.symptomOf) return { kind: 'skip', reason: `symptom of ${input.symptomOf}: healing the root instead` };
  if (input.escalated) return { kind: 'skip', reason: 'already escalated to the operator' };
  if (input.restartLoop)
    return { kind: 'escalate', reason: 'restart loop: it keeps crashing right after each restart, so restarting again would only add noise' };
  if (input.steps === 0) return { kind: 'skip', reason: 'no heal steps configured: alert only' };
  if (input.flaggedReason) return { kind: 'escalate', reason: input.flaggedReason, skippedByFlag: true };
  if (input.lastHealAt !== null && !input.lastHealHeld && input.now - input.lastHealAt < input.cooldownMs) {
    const since = Math.round((input.now - input.lastHealAt) / 1000);
    return {
      kind: 'escalate',
      reason: `failed again ${since}s after the last heal, inside the ${Math.round(input.cooldownMs / 1000)}s cooldown: the heal does not hold`,
    };
  }
  if (input.attemptsInWindow >= input.maxHeals.count) {
    return {
      kind: 'escalate',
      reason: `healed ${input.attemptsInWindow} times within ${Math.round(input.maxHeals.windowMs / 60_000)} min (maxHeals ${input.maxHeals.count})`,
    };
  }
  const repeats = input.lastHealHeld || input.lastHealAt === null ? 0 : input.unheldHeals;
  const base = input.backoffBaseMs ?? BACKOFF_BASE_MS;
  const delayMs = repeats === 0 ? 0 : Math.min(base * 2 ** (repeats - 1), BACKOFF_MAX_MS);
  return { kind: 'heal', delayMs, attempt: repeats + 1 };
}
