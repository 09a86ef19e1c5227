import type { AnyHealAction, HealEnvironment, HealStep } from './types.js';
import { restartAction } from './restart.js';
import { commandAction } from './command.js';
import { rotateLogAction } from './rotate-log.js';
import { createDirAction } from './create-dir.js';
import { removeLockAction } from './remove-lock.js';
import { cleanFilesAction } from './clean-files.js';
import { requeueStuckAction } from './requeue-stuck.js';
import { stopAction } from './stop.js';

/**
 * Every heal action, by name. Adding one means one module and one line here;
 * the recovery path never branches on the action.
 */
export const healActions = {
  restart: restartAction,
  command: commandAction,
  'rotate-log': rotateLogAction,
  'create-dir': createDirAction,
  'remove-lock': removeLockAction,
  'clean-files': cleanFilesAction,
  'requeue-stuck': requeueStuckAction,
  stop: stopAction,
} satisfies Record<string, AnyHealAction>;

export type HealActionName = keyof typeof healActions;

export const healActionNames = Object.keys(healActions) as HealActionName[];

/** Binds an action to its (already validated) parameters. */
export function createHealStep(name: HealActionName, params: unknown, env: HealEnvironment): HealStep {
  const action = healActions[name] as AnyHealAction;
  return action.create(action.params.parse(params), env);
}
