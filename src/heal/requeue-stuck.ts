import { z } from 'zod';
import { queueCheck } from '../checks/queue.js';
import { isProblem, taskSource, type MoveOutcome, type MovedTask } from '../checks/task-source.js';
import { formatDuration } from '../util/duration.js';
import type { HealAction, HealResult } from './types.js';

const params = z.strictObject({
  /** A stuck task is put back to ready this many times; stuck once more after that, it is marked failed so the pipeline moves on. */
  maxRetries: z.number().int().min(0).max(1000).default(3),
});

export type RequeueStuckParams = z.output<typeof params>;

/** Task ids named in a message. */
const IDS_IN_MESSAGE = 5;
/** Task ids kept in details (each task's own event names it in any case). */
const IDS_IN_DETAILS = 100;

/**
 * Frees a stalled pipeline: every task of the failing `queue` check that sits
 * in doing longer than its `stuckAfter` goes back to ready with its retry
 * counter raised, or, once it has used up `maxRetries`, to failed. A task a
 * worker touched since it was read is left alone, so running the step twice
 * moves nothing more. Each task moved is an event (`task.requeued`,
 * `task.gave_up`) about the check.
 */
export const requeueStuckAction: HealAction<RequeueStuckParams> = {
  action: 'requeue-stuck',
  description: 'move tasks stuck in doing back to ready (retry counter +1), or to failed after maxRetries',
  params,
  create(p, env) {
    return {
      async run(target, ctx): Promise<HealResult> {
        const check = target.check;
        if (check.kind !== queueCheck.kind)
          return { ok: false, message: `requeue-stuck works on queue checks; ${check.name} is a ${check.kind} check`, details: { kind: check.kind } };
        const parsed = queueCheck.params.safeParse(check.params);
        if (!parsed.success)
          return { ok: false, message: `the queue check ${check.name} has invalid keys: ${parsed.error.issues[0]?.message ?? 'unknown problem'}`, details: {} };
        const queue = parsed.data;
        if (queue.stuckAfter === undefined)
          return {
            ok: false,
            message: `the queue check ${check.name} sets no stuckAfter, so no task counts as stuck; add stuckAfter (e.g. 30m) to it`,
            details: { maxRetries: p.maxRetries },
          };
        const source = taskSource(queue);
        const outcome = await source.moveStuck({ stuckAfterMs: queue.stuckAfter, maxRetries: p.maxRetries, now: ctx.now(), signal: ctx.signal });
        if (isProblem(outcome)) return { ok: false, message: outcome.problem, details: { ...source.evidence, ...outcome.details } };
        for (const task of outcome.moved) {
          const to = task.to === 'ready' ? queue.states.ready : queue.states.failed;
          const context = { source: source.name, task: task.id, from: queue.states.doing, to, retries: task.retries, stuckForMs: task.stuckForMs };
          if (task.to === 'ready') env.record('task.requeued', check.name, 'info', context);
          else env.record('task.gave_up', check.name, 'warning', context);
        }
        return describe(outcome, p.maxRetries, queue.stuckAfter, source.evidence);
      },
    };
  },
};

function describe(outcome: MoveOutcome, maxRetries: number, stuckAfterMs: number, evidence: Record<string, unknown>): HealResult {
  const requeued = outcome.moved.filter((task) => task.to === 'ready');
  const gaveUp = outcome.moved.filter((task) => task.to === 'failed');
  const parts: string[] = [];
  if (requeued.length > 0) parts.push(`requeued ${count(requeued.length, 'stuck task')} (${ids(requeued)})`);
  if (gaveUp.length > 0) parts.push(`gave up on ${gaveUp.length} after ${maxRetries} ${maxRetries === 1 ? 'retry' : 'retries'} (${ids(gaveUp)})`);
  if (outcome.changedMeanwhile.length > 0)
    parts.push(`left ${outcome.changedMeanwhile.length} alone that a worker changed meanwhile (${idList(outcome.changedMeanwhile)})`);
  if (outcome.notMoved.length > 0) parts.push(`could not move ${outcome.notMoved.length} (${outcome.notMoved[0]!.id}: ${outcome.notMoved[0]!.reason})`);
  if (parts.length === 0) parts.push(`no stuck tasks (none in doing for over ${formatDuration(stuckAfterMs)})`);
  if (outcome.unreadable > 0) parts.push(`${count(outcome.unreadable, 'unreadable task file')} skipped`);
  if (outcome.files && outcome.files.total > outcome.files.read) parts.push(`looked at ${outcome.files.read} of ${outcome.files.total} task files`);
  if (outcome.aborted) parts.push('stopped before looking at every task');
  return {
    ok: outcome.notMoved.length === 0 && !outcome.aborted,
    message: parts.join(', '),
    details: {
      ...evidence,
      requeued: requeued.length,
      gaveUp: gaveUp.length,
      requeuedIds: requeued.slice(0, IDS_IN_DETAILS).map((task) => task.id),
      gaveUpIds: gaveUp.slice(0, IDS_IN_DETAILS).map((task) => task.id),
      changedMeanwhile: outcome.changedMeanwhile.slice(0, IDS_IN_DETAILS),
      notMoved: outcome.notMoved.slice(0, IDS_IN_DETAILS),
      unreadable: outcome.unreadable,
      maxRetries,
      stuckAfterMs,
      ...(outcome.files ? { files: outcome.files } : {}),
    },
  };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function ids(tasks: MovedTask[]): string {
  return idList(tasks.map((task) => task.id));
}

function idList(list: string[]): string {
  const shown = list.slice(0, IDS_IN_MESSAGE).join(', ');
  return list.length > IDS_IN_MESSAGE ? `${shown} and ${list.length - IDS_IN_MESSAGE} more` : shown;
}
