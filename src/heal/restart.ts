import { z } from 'zod';
import type { HealAction } from './types.js';

const params = z.strictObject({});

/**
 * Restarts what the check watches, the way its kind knows how: respawn a
 * supervised process, `pm2 restart`, `systemctl restart`. Kinds without a
 * restart (disk, file...) make it fail with a clear message, which
 * config validation cannot know in advance for every combination.
 */
export const restartAction: HealAction<z.output<typeof params>> = {
  action: 'restart',
  description: 'restart what the check watches (respawn, pm2 restart, systemctl restart)',
  params,
  create() {
    return {
      async run(target, ctx) {
        if (!target.probe.restart) {
          return { ok: false, message: `a ${target.check.kind} check has nothing to restart; use a command step instead` };
        }
        return target.probe.restart(ctx);
      },
    };
  },
};
