import type { z } from 'zod';
import type { Logger } from '../log/logger.js';
import type { CheckConfig } from '../checks/types.js';
import type { HealResult, HealRunContext, Probe, ProbeEventType } from '../checks/types.js';

export type { HealResult, HealRunContext };

/** What a heal step acts on: the failing check and its probe (which knows how to restart its kind). */
export interface HealTarget {
  check: CheckConfig;
  probe: Probe;
}

/** Services a heal step may need. */
export interface HealEnvironment {
  log: Logger;
  dataDir: string;
  now: () => number;
  /** The environment for a program this step starts (see CheckEnvironment.childEnv). */
  childEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Records an event about `subject` (the check healed): every task a requeue moved. Committed when it returns. */
  record(type: ProbeEventType, subject: string, severity: 'info' | 'warning' | 'critical', context: Record<string, unknown>): void;
}

/** A configured heal step, bound to its parameters. Running it twice is harmless (idempotent). */
export interface HealStep {
  run(target: HealTarget, ctx: HealRunContext): Promise<HealResult>;
}

/**
 * A heal action: one module under src/heal/, registered in index.ts.
 * `params` is the zod schema of the step's keys in nightshift.yml (besides `action`).
 */
export interface HealAction<Params = unknown> {
  action: string;
  description: string;
  params: z.ZodType<Params, Record<string, unknown>>;
  create(params: Params, env: HealEnvironment): HealStep;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHealAction = HealAction<any>;
