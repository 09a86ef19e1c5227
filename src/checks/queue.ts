import { formatDuration } from '../util/duration.js';
import { MAX_TASKS_PER_RUN, ageOf, isProblem, isStuck, queueParams, taskSource, type DoingTask, type QueueParams, type QueueSnapshot } from './task-source.js';
import type { CheckKind, CheckResult } from './types.js';

/** Stuck ids kept in details; the count covers them all. */
const STUCK_IDS_KEPT = 20;

/**
 * An agent pipeline's task queue (a SQLite table or a folder of JSON files)
 * keeps moving: fails when more tasks are ready than `maxDepth`, when a task
 * sits in doing longer than `stuckAfter`, or when more than `maxDoing` are in
 * doing. The SQLite file is opened read-only for each run, so the agents'
 * writer (WAL or not) is never held up. The `requeue-stuck` heal moves the
 * stuck tasks on.
 */
export const queueCheck: CheckKind<QueueParams> = {
  kind: 'queue',
  description: 'a task queue (SQLite table or folder of JSON files): depth, tasks stuck in doing, doing cap',
  params: queueParams,
  create(p) {
    const source = taskSource(p);
    return {
      async run(ctx) {
        const snapshot = await source.snapshot(ctx.signal);
        if (isProblem(snapshot)) return { ok: false, message: snapshot.problem, details: { ...source.evidence, ...snapshot.details } };
        return judgeQueue(p, snapshot, ctx.now(), source.evidence);
      },
    };
  },
};

function judgeQueue(p: QueueParams, snapshot: QueueSnapshot, now: number, evidence: Record<string, unknown>): CheckResult {
  const dated = snapshot.doingTasks
    .map((task) => ({ task, id: task.id, ageMs: ageOf(task, now) }))
    .filter((entry): entry is { task: DoingTask; id: string; ageMs: number } => entry.ageMs !== null)
    .sort((a, b) => b.ageMs - a.ageMs);
  const undatedDoing = snapshot.doingTasks.length - dated.length;
  const stuckAfter = p.stuckAfter;
  const stuck = stuckAfter === undefined ? [] : dated.filter((entry) => isStuck(entry.task, now, stuckAfter));
  const oldestStuck = stuck[0];

  // Worst first: a stall stops the pipeline; a blown doing cap and a long backlog only slow it.
  const findings: string[] = [];
  if (oldestStuck && stuckAfter !== undefined)
    findings.push(
      `${stuck.length} task${stuck.length === 1 ? '' : 's'} stuck in doing for over ${formatDuration(stuckAfter)} (oldest ${oldestStuck.id}: ${formatDuration(oldestStuck.ageMs)})`,
    );
  if (p.maxDoing !== undefined && snapshot.doing > p.maxDoing) findings.push(`${snapshot.doing} doing (max ${p.maxDoing})`);
  if (p.maxDepth !== undefined && snapshot.ready > p.maxDepth) findings.push(`${snapshot.ready} ready (max ${p.maxDepth})`);

  const notes: string[] = [];
  if (undatedDoing > 0) notes.push(`${undatedDoing} doing without a readable updated-at`);
  if (snapshot.unreadable > 0) notes.push(`${snapshot.unreadable} unreadable task file${snapshot.unreadable === 1 ? '' : 's'}`);
  if (snapshot.files && snapshot.files.total > snapshot.files.read) notes.push(`read ${snapshot.files.read} of ${snapshot.files.total} task files`);
  if (snapshot.doingCut) notes.push(`judged the first ${MAX_TASKS_PER_RUN} doing tasks`);

  const details: Record<string, unknown> = {
    ...evidence,
    states: p.states,
    ready: snapshot.ready,
    doing: snapshot.doing,
    failed: snapshot.failed,
    other: snapshot.other,
    total: snapshot.ready + snapshot.doing + snapshot.failed + snapshot.other,
    stuck: stuck.length,
    stuckIds: stuck.slice(0, STUCK_IDS_KEPT).map((task) => task.id),
    oldestStuckId: oldestStuck?.id ?? null,
    oldestStuckMs: oldestStuck?.ageMs ?? null,
    oldestDoingMs: dated[0]?.ageMs ?? null,
    undatedDoing,
    unreadable: snapshot.unreadable,
    unreadableFiles: snapshot.unreadableFiles,
    limits: { maxDepth: p.maxDepth ?? null, maxDoing: p.maxDoing ?? null, stuckAfterMs: p.stuckAfter ?? null },
  };
  if (snapshot.files) details.files = snapshot.files;
  if (snapshot.doingCut) details.doingCut = true;

  if (findings.length > 0) return { ok: false, message: [...findings, ...notes].join('; '), details };
  let summary = `${snapshot.ready} ready, ${snapshot.doing} doing`;
  if (dated[0]) summary += `, oldest doing ${formatDuration(dated[0].ageMs)}`;
  if (snapshot.failed > 0) summary += `, ${snapshot.failed} failed`;
  return { ok: true, message: [summary, ...notes].join('; '), details };
}
