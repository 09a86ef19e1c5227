import { z } from 'zod';
import { defineCommand } from '../src/bot/command.js';
import { categoryLines } from '../src/regret/wording.js';

/** /regret: how Nightshift's own actions turned out, per category. */
export const regretCommand = defineCommand({
  name: 'regret',
  description: 'Per category of action: count, average score, trend, flags',
  args: z.object({}),
  role: 'viewer',
  run({ services }) {
    return { text: categoryLines(services.regret.categories()).join('\n') };
  },
});
