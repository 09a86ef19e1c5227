import { chmod, mkdir, stat } from 'node:fs/promises';
import { z } from 'zod';
import type { HealAction } from './types.js';

const params = z.strictObject({
  /** The directory to create, with its missing parents. */
  path: z.string().min(1),
  /** Permissions of a directory this step creates, as octal text ("0755", "750", "1777"); an existing one is left as it is. */
  mode: z
    .string()
    .regex(/^0?[0-7]{3,4}$/, { message: 'expected an octal mode such as "0755"' })
    .transform((text) => parseInt(text, 8))
    .optional(),
});

export type CreateDirParams = z.output<typeof params>;

/** Creates a missing directory (mkdir -p); ok 'created' or 'already exists'. A file in the way is a failure. */
export const createDirAction: HealAction<CreateDirParams> = {
  action: 'create-dir',
  description: 'create a missing directory (mkdir -p)',
  params,
  create(p) {
    return {
      async run() {
        const existing = await stat(p.path).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        });
        if (existing) {
          if (!existing.isDirectory()) return { ok: false, message: `exists but is not a directory: ${p.path}`, details: { path: p.path, created: false } };
          return { ok: true, message: 'already exists', details: { path: p.path, created: false, mode: modeText(existing.mode) } };
        }
        const firstCreated = await mkdir(p.path, { recursive: true, mode: p.mode });
        // mkdir's mode is narrowed by the umask; the operator asked for exactly this mode.
        if (p.mode !== undefined) await chmod(p.path, p.mode);
        const mode = modeText((await stat(p.path)).mode);
        // undefined means another process created it between our stat and mkdir: still there, as asked.
        return {
          ok: true,
          message: firstCreated === undefined ? 'already exists' : 'created',
          details: { path: p.path, created: firstCreated !== undefined, mode },
        };
      },
    };
  },
};

function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
