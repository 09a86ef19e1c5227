/** The answer the model must give: its zod schema, the JSON Schema sent to Ollama, and the check of what came back. */
import { z } from 'zod';
import { clip } from '../../util/text.js';

const nonEmpty = z.string().min(1);

/**
 * The proposed fix: plain steps, one command (with its own check), or a
 * unified diff. `repository` names a repair target (repair.targets); a
 * diff's `regression` is a command that reproduces the original failure and
 * must pass once the fix is in.
 */
const fixSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('steps'), steps: z.array(nonEmpty).min(1).max(12) }),
  z.object({ kind: z.literal('command'), command: nonEmpty, verify: nonEmpty.optional(), repository: nonEmpty.optional() }),
  z.object({ kind: z.literal('diff'), repository: nonEmpty, diff: nonEmpty, regression: nonEmpty.optional() }),
]);

/** What the model must answer; validated after the fact, whatever the server claims to enforce. */
export const llmAnswerSchema = z.object({
  rootCause: nonEmpty,
  whyItCascades: nonEmpty,
  whatToCheck: z.array(nonEmpty).min(1).max(8),
  fix: fixSchema.optional(),
  confidence: z.enum(['low', 'medium', 'high']),
});

/** A validated answer of the model. */
export type LlmAnswer = z.output<typeof llmAnswerSchema>;

/**
 * The `format` sent to Ollama: plain draft-07 JSON Schema of llmAnswerSchema
 * (no `$schema` key), which Ollama turns into a sampling grammar.
 */
export const llmAnswerFormat: Record<string, unknown> = (() => {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(llmAnswerSchema, { target: 'draft-07' });
  return schema;
})();

/** Parses and validates the model's text; the reason is short enough for a chat line. */
export function parseAnswer(content: string, doneReason: string | undefined): { ok: true; answer: LlmAnswer } | { ok: false; reason: string } {
  // Some models wrap JSON in a Markdown fence even when a format is set.
  const text = content.trim().replace(/^```(?:json)?\s*\n([\s\S]*?)\n?```$/, '$1');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // The parser's position is noise; what the operator needs is what the model sent.
    if (doneReason === 'length') return { ok: false, reason: 'the answer was cut off at the token limit (incomplete JSON)' };
    return { ok: false, reason: text ? `the answer is not JSON: ${JSON.stringify(clip(text, 80))}` : 'the answer was empty' };
  }
  const result = llmAnswerSchema.safeParse(document);
  if (result.success) return { ok: true, answer: result.data };
  const problems = result.error.issues.slice(0, 3).map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(answer)'}: ${issue.message}`);
  const more = result.error.issues.length > 3 ? ` (+${result.error.issues.length - 3} more)` : '';
  return { ok: false, reason: `the answer does not match the schema: ${problems.join('; ')}${more}` };
}
