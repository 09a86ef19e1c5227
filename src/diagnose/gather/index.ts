/**
 * The read-only tools a diagnosis uses to look at failing checks before it
 * asks the model. Adding a tool means one module and one line here.
 */
import { diskTool } from './disk.js';
import { logTailTool } from './log-tail.js';
import { portsTool } from './ports.js';
import { processTool } from './process.js';
import { runGathering } from './runner.js';
import type { GatherOptions, GatherTarget, GatherTool, Gathered } from './types.js';

/** Every tool, in the order its findings are listed for a target. */
const gatherTools = [logTailTool, processTool, portsTool, diskTool] as const satisfies readonly GatherTool[];

/** Looks at every target with every tool that has something to look at there; never rejects (see runGathering). */
export function gatherEvidence(targets: GatherTarget[], options: GatherOptions): Promise<Gathered[]> {
  return runGathering(gatherTools, targets, options);
}

export { describeGathered } from './describe.js';
export { runGathering } from './runner.js';
export type { GatherOptions, GatherTarget, GatherTool, Gathered } from './types.js';
