import { configChanges } from './config.js';
import { envChanges } from './env.js';
import { gitChanges } from './git.js';
import { lockfileChanges } from './lockfile.js';
import { modelChanges } from './models.js';
import type { AnyChangeSource } from './types.js';

/**
 * Every change source, in the order a scan looks. Adding one means one
 * module and one line here; the watcher never branches on the source.
 */
export const changeSources = [gitChanges, lockfileChanges, envChanges, configChanges, modelChanges] as const satisfies readonly AnyChangeSource[];
