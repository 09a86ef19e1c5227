import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder (where package.json and migrations/ live).
 * Found by walking up, because compiled code (dist/src/...) and source run
 * by tsx (src/...) sit at different depths.
 */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('nightshift: cannot find the package root (package.json + migrations/)');
    dir = parent;
  }
})();

export const migrationsDir = join(packageRoot, 'migrations');
