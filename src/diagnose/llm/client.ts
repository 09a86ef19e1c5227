/** Asking the local Ollama model to explain a diagnosis; never throws, a failure is a reason for the operator. */
import type { ChatRequest, ChatResponse } from 'ollama';
import { ollamaEndpoint } from '../../checks/ollama.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { formatDuration } from '../../util/duration.js';
import { describeNetworkError } from '../../util/network.js';
import { clip } from '../../util/text.js';
import { buildPrompt, type BuiltPrompt, type LlmInput, type PromptOptions } from './prompt.js';
import { llmAnswerFormat, parseAnswer, type LlmAnswer } from './schema.js';

export interface ExplainOptions extends PromptOptions {
  /** Ollama's address, as OLLAMA_HOST is written. */
  host: string;
  /** The model, as OLLAMA_MODEL is written ("qwen2.5:7b"). */
  model: string;
  /** The request is aborted after this long (default 60 000). */
  timeoutMs?: number;
  log: Logger;
  /** Ask for a streamed answer (NDJSON); the answer is the same, assembled. */
  stream?: boolean;
}

/** The model's explanation, or why there is none (the deterministic diagnosis then goes out alone). */
export type ExplainResult = { ok: true; answer: LlmAnswer; model: string; durationMs: number } | { ok: false; reason: string };

export const DEFAULT_LLM_TIMEOUT_MS = 60_000;

/**
 * Asks the model to explain the critical incidents of `input`. Never throws:
 * server down, unknown model, no answer within `timeoutMs` (the request is
 * aborted), an answer that is not JSON or does not match llmAnswerSchema, all
 * give `{ ok: false, reason }` with a short reason for the operator.
 */
export async function explain(input: LlmInput, options: ExplainOptions): Promise<ExplainResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LLM_TIMEOUT_MS;
  const started = performance.now();
  const fail = (reason: string): ExplainResult => {
    options.log.warn(
      { model: options.model, reason, durationMs: Math.round(performance.now() - started) },
      'LLM explanation unavailable; the deterministic diagnosis goes out alone',
    );
    return { ok: false, reason };
  };
  // Not a failure of the LLM: optional incidents are never sent (filter first, then diagnose).
  if (!input.incidents.some((incident) => incident.severity === 'critical')) return { ok: false, reason: 'no critical incident to explain' };

  let endpoint: ReturnType<typeof ollamaEndpoint>;
  let prompt: BuiltPrompt;
  try {
    endpoint = ollamaEndpoint(options.host);
    prompt = buildPrompt(input, options);
  } catch (err) {
    return fail(`cannot ask Ollama: ${errorMessage(err)}`);
  }

  // ollama-js passes no signal on non-streamed requests, so every request goes through a fetch bound to our deadline.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const boundFetch: typeof fetch = (resource, init) =>
    fetch(resource, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal });
  const request: ChatRequest = {
    model: options.model,
    messages: [
      { role: 'system', content: prompt.system },
      { role: 'user', content: prompt.user },
    ],
    format: llmAnswerFormat,
    options: { temperature: 0 },
  };

  let content = '';
  let doneReason: string | undefined;
  try {
    // Loaded on the first question to the model: ollama-js costs about 5 MiB of memory to a bot that never asks one.
    const { Ollama } = await import('ollama');
    const client = new Ollama({
      host: endpoint.baseUrl,
      fetch: boundFetch,
      ...(endpoint.authorization ? { headers: { Authorization: endpoint.authorization } } : {}),
    });
    if (options.stream) {
      const parts = await client.chat({ ...request, stream: true });
      for await (const part of parts) {
        content += part.message?.content ?? '';
        if (part.done) doneReason = part.done_reason;
      }
    } else {
      const response: ChatResponse = await client.chat({ ...request, stream: false });
      content = response.message?.content ?? '';
      doneReason = response.done_reason;
    }
  } catch (err) {
    if (deadline.signal.aborted) return fail(`no answer within ${formatDuration(timeoutMs)}`);
    return fail(describeRequestError(err, endpoint.display, options.model));
  } finally {
    clearTimeout(timer);
    // Also ends a stream the loop left early (an error line), so no socket outlives the call.
    deadline.abort();
  }

  const parsed = parseAnswer(content, doneReason);
  if (!parsed.ok) return fail(parsed.reason);
  const durationMs = Math.round(performance.now() - started);
  options.log.info(
    { model: options.model, durationMs, promptChars: prompt.system.length + prompt.user.length, truncated: prompt.truncated },
    'LLM explanation received',
  );
  // The model never saw a secret, but what goes to chat passes the redactor whatever its origin.
  return { ok: true, answer: options.redactor.redactValue(parsed.answer), model: options.model, durationMs };
}

function describeRequestError(err: unknown, host: string, model: string): string {
  const status = responseStatus(err);
  if (status === 404) return `model ${model} is not available on Ollama at ${host}: ${clip(errorMessage(err), 200)} (ollama pull ${model})`;
  if (status !== undefined) return `Ollama at ${host} refused the request (HTTP ${status}): ${clip(errorMessage(err), 200)}`;
  const network = describeNetworkError(err);
  if (network.code !== undefined) return `Ollama not reachable at ${host} (${network.message})`;
  return `Ollama request failed: ${clip(network.message, 200)}`;
}

/** The HTTP status of ollama-js's ResponseError (not exported by the package, recognised by shape). */
function responseStatus(err: unknown): number | undefined {
  if (err instanceof Error && err.name === 'ResponseError') {
    const status = (err as Error & { status_code?: unknown }).status_code;
    if (typeof status === 'number') return status;
  }
  return undefined;
}
