/**
 * The LLM layer of a diagnosis. The deterministic causal analysis is the
 * diagnosis; a local Ollama model only explains it and may propose a fix.
 * Whatever the model does (garbage, silence, absence), `explain` returns a
 * reason instead of throwing, and the deterministic diagnosis goes out alone.
 *
 * In four parts: llm/schema.ts (what the model must answer), llm/prompt.ts
 * (what it is told, scrubbed by llm/scrub.ts and kept within a budget),
 * llm/client.ts (asking Ollama) and llm/render.ts (the answer as message
 * lines). This module is their public face.
 */
export { llmAnswerFormat, llmAnswerSchema, type LlmAnswer } from './llm/schema.js';
export {
  buildPrompt,
  DEFAULT_MAX_PROMPT_CHARS,
  type BuiltPrompt,
  type LlmCheckConfig,
  type LlmIncident,
  type LlmInput,
  type PromptOptions,
} from './llm/prompt.js';
export { DEFAULT_LLM_TIMEOUT_MS, explain, type ExplainOptions, type ExplainResult } from './llm/client.js';
export { renderLlmSection, renderLlmUnavailable } from './llm/render.js';
