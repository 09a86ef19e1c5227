import { z } from 'zod';
import type { OllamaEndpoint } from '../checks/ollama.js';
import { shortHash, stableJson } from './files.js';
import type { ChangeSource, WatchedThing } from './types.js';
import { keyedDifferences, listed } from './wording.js';

/** An Ollama that does not list its models within this long is left for the next look (its own check reports it down). */
export const MODELS_TIMEOUT_MS = 2_000;

interface HostThing extends WatchedThing {
  endpoint: OllamaEndpoint;
}

const modelState = z.object({
  /** By model name: its digest, and when it was pulled (ms, from Ollama's modified_at) when Ollama says. */
  models: z.record(z.string(), z.object({ digest: z.string(), modifiedAt: z.number().nullable() })),
});
type ModelState = z.output<typeof modelState>;

/** What /api/tags lists of one model (Ollama's docs/api.md). */
const tagsAnswer = z.object({
  models: z.array(
    z.looseObject({
      name: z.string().optional(),
      model: z.string().optional(),
      digest: z.string().default(''),
      modified_at: z.string().optional(),
    }),
  ),
});

/**
 * The models an Ollama server has (each ollama check's host and the
 * diagnosis model's) were pulled, deleted or replaced (by digest). A host
 * that does not answer is no change: nothing is recorded or stored.
 */
export const modelChanges: ChangeSource<HostThing, ModelState> = {
  source: 'models',
  state: modelState,
  things: (plan) =>
    plan.hosts.map((h) => ({ key: h.endpoint.baseUrl, subject: h.subject, checks: h.checks, label: `ollama at ${h.endpoint.display}`, endpoint: h.endpoint })),

  async read(thing, ctx) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (thing.endpoint.authorization) headers.authorization = thing.endpoint.authorization;
    let body: unknown;
    try {
      const response = await ctx.fetch(`${thing.endpoint.baseUrl}/api/tags`, {
        headers,
        signal: AbortSignal.any([AbortSignal.timeout(MODELS_TIMEOUT_MS), ctx.signal]),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return null;
      }
      body = await response.json();
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      // Unreachable, too slow, or not JSON: the ollama check says so; the model list is simply not known now.
      return null;
    }
    const parsed = tagsAnswer.safeParse(body);
    if (!parsed.success) return null;
    const models: ModelState['models'] = {};
    for (const entry of parsed.data.models) {
      const name = entry.name ?? entry.model;
      if (!name) continue;
      const modifiedAt = entry.modified_at ? Date.parse(entry.modified_at) : NaN;
      models[name] = { digest: entry.digest, modifiedAt: Number.isFinite(modifiedAt) ? modifiedAt : null };
    }
    return { models: Object.fromEntries(Object.entries(models).sort(([a], [b]) => (a < b ? -1 : 1))) };
  },

  async compare(thing, before, after) {
    const digests = (state: ModelState) => Object.fromEntries(Object.entries(state.models).map(([name, m]) => [name, m.digest]));
    const d = keyedDifferences(digests(before), digests(after));
    const words = [...d.removed.map((n) => `${n} removed`), ...d.added.map((n) => `${n} added`), ...d.changed.map((n) => `${n} updated`)];
    if (words.length === 0) return [];
    // A pull says when it happened (modified_at); a deletion leaves nothing to tell when.
    const pulledAt = d.removed.length === 0 ? Math.max(...[...d.added, ...d.changed].map((n) => after.models[n]?.modifiedAt ?? NaN)) : NaN;
    return [
      {
        summary: `ollama models changed: ${listed(words)}`,
        before: shortHash(stableJson(digests(before))),
        after: shortHash(stableJson(digests(after))),
        ...(Number.isFinite(pulledAt) ? { happenedAt: pulledAt } : {}),
      },
    ];
  },
};
