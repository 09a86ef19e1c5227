import type { CheckConfig } from '../../src/config/schema.js';

/** A CheckConfig with the documented defaults, for engine tests. */
export function checkConfig(name: string, overrides: Partial<CheckConfig> = {}): CheckConfig {
  return {
    name,
    kind: 'memory',
    severity: 'critical',
    intervalMs: 60_000,
    timeoutMs: 1_000,
    dependsOn: [],
    failAfter: 1,
    heal: [],
    cooldownMs: 300_000,
    maxHeals: { count: 3, windowMs: 900_000 },
    retryAfterEscalationMs: 900_000,
    params: {},
    ...overrides,
  };
}
