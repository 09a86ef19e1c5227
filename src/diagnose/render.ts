/**
 * A diagnosis as the operator reads it, twice: the full text (every chain,
 * the model's whole answer, what was looked at), kept in the store and shown
 * by `/diagnosis <id>`, and the screen: what fits one phone screen (the
 * summary, the top chain with its evidence, what was looked at, the model's
 * root cause and the proposed fix in one line each), posted on every channel.
 * Adapters cut messages near 4,096 characters (Discord's content 2,000); the
 * screen stays far below that, so every channel shows it whole.
 */
import { clip } from '../util/text.js';
import { renderLlmSection, type LlmAnswer } from './llm.js';
import type { CausalAnalysis } from './types.js';

export type DiagnosisTrigger = 'recurrence' | 'weekly' | 'command';

/** The screen's body at most: about 25 lines of a phone; the proposal's lines come on top of it (PROPOSAL_CHARS). */
export const SCREEN_CHARS = 1_600;
/** Room left for the proposal the approval question adds under the screen. */
export const PROPOSAL_CHARS = 600;
/** A patch up to this long is shown on the screen itself; a longer one is behind /diagnosis. */
const SCREEN_DIFF_CHARS = 500;

export interface DiagnosisText {
  trigger: DiagnosisTrigger;
  input: { signature?: string; check?: string };
  analysis: CausalAnalysis;
  llm: LlmAnswer | null;
  /** Why the model gave no answer (null when it did, or none is configured and this says so). */
  llmUnavailable: string | null;
  model: string | undefined;
  /** The looks taken before the model was asked: what each was, and what it showed. */
  lookedAt: Array<{ what: string; saw: string | null }>;
}

function why(d: DiagnosisText): string {
  return d.trigger === 'recurrence'
    ? `recurring failure: ${d.input.signature}`
    : d.trigger === 'weekly'
      ? "weekly, over the week's events"
      : `on request: /diagnose${d.input.check ? ` ${d.input.check}` : ''}`;
}

/** Everything: the causal chains first, what was looked at, the model's explanation (or why there is none) after. */
export function renderFullDiagnosis(d: DiagnosisText): string {
  const { analysis, llm } = d;
  const lines = [`(${why(d)})`, analysis.summary];
  for (const chain of analysis.chains.slice(0, 10)) lines.push('', chain.summary);
  if (analysis.chains.length > 10) lines.push('', `${analysis.chains.length - 10} smaller chains are left out.`);
  if (analysis.unexplained.length > 0) lines.push('', `Not explained by any dependency: ${analysis.unexplained.map((n) => n.check).join(', ')}.`);
  if (analysis.totalFailures === 0) return lines.join('\n');
  if (d.lookedAt.length > 0) lines.push('', 'Looked at (read only):', ...d.lookedAt.map((l) => `- ${l.what}${l.saw ? `: ${l.saw}` : ''}`));
  lines.push('');
  if (llm) lines.push(`Explanation by ${d.model}:`, ...renderLlmSection(llm));
  else lines.push(`Deterministic diagnosis only: ${d.llmUnavailable ?? 'the model did not answer'}.`);
  return lines.join('\n');
}

/**
 * What fits one screen: the summary, the top chain (its evidence line is in
 * it), what was looked at in one line, the model's root cause and fix in
 * short, and where the rest is. Each part is clipped to its share, so the
 * top chain is never crowded out by a long summary.
 */
export function renderScreenDiagnosis(d: DiagnosisText, diagnosisId: number): string {
  const { analysis, llm } = d;
  const parts: string[] = [`(${why(d)})`, clip(analysis.summary, 420)];
  const [top] = analysis.chains;
  if (top) parts.push(clip(`Top chain: ${top.summary}`, 760));
  if (analysis.totalFailures === 0) return parts.join('\n');
  if (d.lookedAt.length > 0) parts.push(clip(`Looked at: ${d.lookedAt.map((l) => l.what).join('; ')}`, 220));
  if (llm) {
    parts.push(clip(`${d.model} (${llm.confidence} confidence): ${llm.rootCause}`, 300));
    const fix = llm.fix;
    if (fix?.kind === 'diff' && fix.diff.length <= SCREEN_DIFF_CHARS) parts.push(`Proposed patch to ${fix.repository}:`, fix.diff.replace(/\n+$/, ''));
    else if (fix?.kind === 'diff') parts.push(`Proposed patch to ${fix.repository}: ${fix.diff.split('\n').length} lines, shown by /diagnosis ${diagnosisId}.`);
    // A command is named by the proposal line under the screen.
    else if (fix?.kind === 'steps') parts.push(clip(`Proposed fix: ${fix.steps.map((s, i) => `${i + 1}. ${s}`).join(' ')}`, 260));
  } else {
    parts.push(clip(`Deterministic diagnosis only: ${d.llmUnavailable ?? 'the model did not answer'}.`, 200));
  }
  const more = analysis.chains.length > 1 ? `${analysis.chains.length - 1} more chain${analysis.chains.length === 2 ? '' : 's'}, ` : '';
  parts.push(`All of it (${more}every piece of evidence): /diagnosis ${diagnosisId}`);
  return fitScreen(parts);
}

/** Joins the parts; over the budget, the middle parts are cut hardest and the pointer to the full text always stays. */
function fitScreen(parts: string[]): string {
  const text = parts.join('\n');
  if (text.length <= SCREEN_CHARS) return text;
  const last = parts.at(-1)!;
  return `${clip(parts.slice(0, -1).join('\n'), SCREEN_CHARS - last.length - 1)}\n${last}`;
}
