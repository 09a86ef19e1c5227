import { z } from 'zod';
import type { CheckKind, CheckResult } from './types.js';
import { clipAtWord } from '../util/text.js';
import { describeNetworkError } from '../util/network.js';

const params = z.strictObject({
  /** Ollama's address, as OLLAMA_HOST is written: "http://127.0.0.1:11434", "127.0.0.1:11434", ":11434". */
  host: z.string().min(1).refine(isOllamaHost, { message: 'expected an Ollama address such as http://127.0.0.1:11434' }).default('http://127.0.0.1:11434'),
  /** Models that must be pulled: "qwen2.5:7b"; a name without a tag means ":latest". */
  models: z.array(z.string().min(1)).default([]),
});

type OllamaParams = z.output<typeof params>;

/** How many model names a failure message lists before "+N more". */
const LISTED_NAMES = 5;

/**
 * Ollama answers on /api/tags and every configured model is pulled. The
 * address's credentials (a reverse proxy's user:pass@) are sent as Basic
 * auth and never reported.
 */
export const ollamaCheck: CheckKind<OllamaParams> = {
  kind: 'ollama',
  description: 'the Ollama server answers and the configured models are pulled (/api/tags)',
  params,
  create(p) {
    const endpoint = ollamaEndpoint(p.host);
    const tagsUrl = `${endpoint.baseUrl}/api/tags`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (endpoint.authorization) headers.authorization = endpoint.authorization;
    return {
      async run(ctx): Promise<CheckResult> {
        const started = performance.now();
        const elapsed = () => Math.round(performance.now() - started);
        const base = { host: endpoint.display };
        let response: Response;
        let text: string;
        try {
          response = await fetch(tagsUrl, { headers, signal: ctx.signal });
          text = await response.text();
        } catch (err) {
          const latencyMs = elapsed();
          if (ctx.signal.aborted) {
            return {
              ok: false,
              message: `no answer from Ollama at ${endpoint.display} after ${latencyMs} ms (aborted)`,
              details: { ...base, latencyMs, errorCode: 'ABORTED' },
            };
          }
          const { message, code } = describeNetworkError(err);
          return { ok: false, message, details: { ...base, latencyMs, errorCode: code } };
        }
        const latencyMs = elapsed();
        const details: Record<string, unknown> = { ...base, httpStatus: response.status, latencyMs };
        if (response.status !== 200) {
          return { ok: false, message: `HTTP ${response.status} from ${endpoint.display}/api/tags${describeErrorBody(text)}`, details };
        }
        const names = modelNames(text);
        if (!names) return { ok: false, message: `${endpoint.display}/api/tags did not answer with a model list (is this Ollama?)`, details };
        const missing = p.models.filter((wanted) => !names.some((name) => sameModel(wanted, name)));
        Object.assign(details, { models: names, missing });
        if (missing.length > 0) {
          const subject = missing.length === 1 ? `model ${missing[0]}` : `models ${missing.join(', ')}`;
          return { ok: false, message: `${subject} missing (have: ${listNames(names)})`, details };
        }
        const count = `${names.length} model${names.length === 1 ? '' : 's'}`;
        const present = p.models.length > 0 ? ` (${p.models.map((m) => `${m} ok`).join(', ')})` : '';
        return { ok: true, message: `Ollama up, ${count}${present}`, details };
      },
    };
  },
};

/** Where to reach an Ollama server, what to show of it, and the Basic auth its address carried. */
export interface OllamaEndpoint {
  /** scheme://host:port[/path], no credentials, no trailing slash: what requests go to. */
  baseUrl: string;
  /** The same, safe to show in messages and prompts. */
  display: string;
  /** "Basic ..." when the address had user:pass@ in it. */
  authorization?: string;
}

/**
 * Reads an address the way Ollama's own clients read OLLAMA_HOST: no scheme
 * means http and port 11434, ":11434" means localhost. Throws on an address
 * that is not a URL at all.
 */
export function ollamaEndpoint(host: string): OllamaEndpoint {
  let text = host.trim();
  let explicitScheme = text.includes('://');
  if (text.startsWith(':')) {
    text = `http://127.0.0.1${text}`;
    explicitScheme = true;
  }
  if (!explicitScheme) text = `http://${text}`;
  const url = new URL(text);
  if (!url.port && !explicitScheme) url.port = '11434';
  let authorization: string | undefined;
  if (url.username || url.password) {
    authorization = `Basic ${Buffer.from(`${decodeUserinfo(url.username)}:${decodeUserinfo(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  url.search = '';
  url.hash = '';
  const baseUrl = url.toString().replace(/\/+$/, '');
  return authorization ? { baseUrl, display: baseUrl, authorization } : { baseUrl, display: baseUrl };
}

/** A configured model name matches a pulled one exactly, or "name" matches "name:latest". */
export function sameModel(wanted: string, pulled: string): boolean {
  if (wanted === pulled) return true;
  return !wanted.includes(':') && pulled === `${wanted}:latest`;
}

function isOllamaHost(value: string): boolean {
  try {
    const { protocol } = new URL(ollamaEndpoint(value).baseUrl);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    // Not parseable as an address at all: the same answer as a wrong scheme.
    return false;
  }
}

function decodeUserinfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Malformed escape such as "50%off": the user meant the characters literally.
    return text;
  }
}

/** The names in an /api/tags answer, or undefined when the body is not that shape. */
function modelNames(text: string): string[] | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // The caller reports "not a model list"; the parse position says nothing to an operator.
    return undefined;
  }
  if (!document || typeof document !== 'object') return undefined;
  const models = (document as { models?: unknown }).models;
  if (!Array.isArray(models)) return undefined;
  const names: string[] = [];
  for (const entry of models) {
    if (entry && typeof entry === 'object') {
      const { name, model } = entry as { name?: unknown; model?: unknown };
      if (typeof name === 'string') names.push(name);
      else if (typeof model === 'string') names.push(model);
    }
  }
  return names;
}

/** ": model ... not found" from Ollama's {"error": ...} body; nothing when the body says nothing useful. */
function describeErrorBody(text: string): string {
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof error === 'string' && error) return `: ${clipAtWord(error, 200)}`;
  } catch {
    // Not Ollama's JSON error shape (a proxy's HTML page): the status alone is the message.
  }
  return '';
}

function listNames(names: string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, LISTED_NAMES).join(', ');
  return names.length > LISTED_NAMES ? `${shown}, +${names.length - LISTED_NAMES} more` : shown;
}
