import { ollamaEndpoint } from '../../checks/ollama.js';
import type { Source } from '../types.js';

const DEFAULT_HOST = 'http://127.0.0.1:11434';
const TAGS_TIMEOUT_MS = 2_000;

/** An Ollama server (OLLAMA_HOST, else 127.0.0.1:11434) and its pulled models: one `ollama` check requiring them. */
export const ollamaSource: Source = {
  id: 'ollama',
  noun: ['Ollama server', 'Ollama servers'],
  async look(ctx) {
    const host = ctx.env.OLLAMA_HOST || DEFAULT_HOST;
    let endpoint: ReturnType<typeof ollamaEndpoint>;
    try {
      endpoint = ollamaEndpoint(host);
    } catch {
      return { things: [], problem: 'ollama: OLLAMA_HOST is not an address' };
    }
    let models: string[];
    try {
      const response = await fetch(`${endpoint.baseUrl}/api/tags`, {
        signal: AbortSignal.timeout(TAGS_TIMEOUT_MS),
        headers: endpoint.authorization ? { authorization: endpoint.authorization } : {},
      });
      if (!response.ok) return { things: [], problem: `ollama: ${endpoint.display}/api/tags answered ${response.status}` };
      const body = (await response.json()) as { models?: Array<{ name?: unknown; model?: unknown }> };
      models = (body.models ?? []).map((m) => (typeof m.name === 'string' ? m.name : typeof m.model === 'string' ? m.model : '')).filter(Boolean);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { things: [], problem: `ollama: nothing answers at ${endpoint.display}${cause ? ` (${cause})` : ''}` };
    }
    const url = new URL(endpoint.baseUrl);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const params: Record<string, unknown> = {};
    // The address goes in as Nightshift reads it; credentials in OLLAMA_HOST stay out of the file.
    if (endpoint.baseUrl !== DEFAULT_HOST) params.host = endpoint.baseUrl;
    params.models = models;
    return {
      things: [
        {
          label: `${endpoint.display} (${models.length} model${models.length === 1 ? '' : 's'})`,
          check: {
            name: ctx.names.claim(['ollama', 'ollama-api'], 'ollama'),
            kind: 'ollama',
            notes: [
              `Ollama at ${endpoint.display}; the models pulled when init looked are required (remove the ones you do not need)`,
              ...(endpoint.authorization ? ['OLLAMA_HOST holds credentials: add them back as ${VAR} in host (from .env), never literally'] : []),
            ],
            params,
            heal: [],
            dependsOn: [],
          },
          pids: [],
          logs: [],
          ports: [],
          ollamaPort: port,
        },
      ],
    };
  },
};
