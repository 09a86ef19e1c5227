import { z } from 'zod';
import { ageDuration, ageDurationOrZero, formatDuration } from '../util/duration.js';
import type { CheckKind } from './types.js';
import { clipAtWord } from '../util/text.js';

const params = z.strictObject({
  /** The name jobs ping (/ping/<name>); the check's own name by default. */
  ping: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected letters, digits, ".", "_" or "-"')
    .optional(),
  /** How often the job runs. */
  period: ageDuration,
  /** Extra time allowed before a missing ping counts (a job's own run time, clock drift); 0: none, a ping is due every period. */
  grace: ageDurationOrZero.default(60_000),
  /** A job that reported /start but no success within this long is hanging. */
  maxRuntime: ageDuration.optional(),
});

/**
 * A dead-man's switch. Jobs call /ping/<name> when they succeed (and
 * optionally /start before and /fail instead); a ping that does not arrive
 * within period + grace is the alert. The clock starts when the check is
 * first seen, and survives restarts of Nightshift.
 */
export const heartbeatCheck: CheckKind<z.output<typeof params>> = {
  kind: 'heartbeat',
  description: "a dead-man's switch: jobs ping /ping/<name>; silence past period + grace fails",
  params,
  create(p, env) {
    const name = p.ping ?? env.checkName;
    const stopExpecting = env.heartbeats.expect(name, () => env.requestRun());
    const firstSeen = (): number => {
      const state = env.state.get<{ firstSeenAt: number }>();
      if (state) return state.firstSeenAt;
      const now = env.now();
      env.state.set({ firstSeenAt: now });
      return now;
    };
    return {
      async start() {
        firstSeen();
      },
      dispose() {
        stopExpecting();
      },
      async run({ now }) {
        const at = now();
        const beat = env.heartbeats.latest(name);
        const allowed = p.period + p.grace;
        const details = {
          ping: name,
          lastPingAt: beat.lastPingAt ?? null,
          lastStartAt: beat.lastStartAt ?? null,
          lastFailAt: beat.lastFailAt ?? null,
          periodMs: p.period,
          graceMs: p.grace,
        };
        if (beat.lastFailAt !== undefined && beat.lastFailAt > (beat.lastPingAt ?? 0)) {
          const body = beat.lastFailBody?.trim().split('\n').slice(-3).join(' | ');
          return {
            ok: false,
            message: `the job reported failure ${formatDuration(at - beat.lastFailAt)} ago${body ? `: ${clipAtWord(body, 300)}` : ''}`,
            details,
          };
        }
        if (p.maxRuntime !== undefined && beat.lastStartAt !== undefined && beat.lastStartAt > (beat.lastPingAt ?? 0) && at - beat.lastStartAt > p.maxRuntime) {
          return {
            ok: false,
            message: `started ${formatDuration(at - beat.lastStartAt)} ago and has not finished (max runtime ${formatDuration(p.maxRuntime)})`,
            details,
          };
        }
        const reference = beat.lastPingAt ?? firstSeen();
        const silence = at - reference;
        const window = `period ${formatDuration(p.period)} + grace ${formatDuration(p.grace)}`;
        if (silence > allowed) {
          const what =
            beat.lastPingAt === undefined
              ? `no ping ever received on /ping/${name} (waiting ${formatDuration(silence)})`
              : `last ping ${formatDuration(silence)} ago`;
          return { ok: false, message: `${what}; expected every ${window}`, details };
        }
        return {
          ok: true,
          message: beat.lastPingAt === undefined ? `waiting for the first ping (${window})` : `last ping ${formatDuration(silence)} ago`,
          details,
        };
      },
    };
  },
};
