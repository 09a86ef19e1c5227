/** The model's answer as the lines of a diagnosis message. */
import type { LlmAnswer } from './schema.js';

/** The model's explanation as plain text lines for a chat message: root cause, why it cascades, what to check, proposed fix. */
export function renderLlmSection(answer: LlmAnswer): string[] {
  const lines = [`Root cause (${answer.confidence} confidence): ${answer.rootCause}`, `Why it cascades: ${answer.whyItCascades}`, 'Check:'];
  for (const item of answer.whatToCheck) lines.push(`- ${item}`);
  const fix = answer.fix;
  if (fix?.kind === 'steps') {
    lines.push('Proposed fix:');
    fix.steps.forEach((step, index) => lines.push(`${index + 1}. ${step}`));
  } else if (fix?.kind === 'command') {
    lines.push(`Proposed fix: run ${fix.command}`);
    if (fix.verify) lines.push(`Verify with: ${fix.verify}`);
  } else if (fix?.kind === 'diff') {
    lines.push(`Proposed fix: a patch to ${fix.repository}`, ...fix.diff.replace(/\n+$/, '').split('\n'));
    if (fix.regression) lines.push(`Regression check (fails before the fix, passes after): ${fix.regression}`);
  }
  return lines;
}

/** The line a diagnosis carries when the model gave no usable answer. */
export function renderLlmUnavailable(reason: string): string {
  return `LLM explanation unavailable (${reason}): deterministic diagnosis only.`;
}
