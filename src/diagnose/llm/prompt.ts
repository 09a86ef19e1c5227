/**
 * The prompt of a diagnosis: what of the causal analysis, the incidents, the
 * checks' configuration and their log tails the model gets, scrubbed and kept
 * within a size budget.
 */
import type { Redactor } from '../../log/redact.js';
import { clip } from '../../util/text.js';
import type { CausalAnalysis, CausalChain, ChainNode } from '../types.js';
import { safeParams, stripAnsi } from './scrub.js';

/** An open incident as the diagnosis sees it. Only critical ones reach the model. */
export interface LlmIncident {
  check: string;
  severity: 'critical' | 'optional';
  message: string;
  /** ms since epoch. */
  openedAt: number;
  failures: number;
}

/** The configuration of one check, as written (secrets are removed before it reaches a prompt). */
export interface LlmCheckConfig {
  name: string;
  kind: string;
  severity: 'critical' | 'optional';
  dependsOn: string[];
  params: Record<string, unknown>;
}

/** Everything a prompt may be built from; buildPrompt picks what concerns the critical incidents. */
export interface LlmInput {
  analysis: CausalAnalysis;
  incidents: LlmIncident[];
  /** Recent log lines by check name, oldest first. */
  logTails?: Record<string, string>;
  checkConfigs: LlmCheckConfig[];
  /** Where a command or diff may be applied (repair.targets): a fix must name one. */
  repairTargets?: Array<{ name: string; checks: string[] }>;
}

/** A prompt ready for /api/chat. `truncated` is true when parts were left out to respect the size bound. */
export interface BuiltPrompt {
  system: string;
  user: string;
  truncated: boolean;
}

export interface PromptOptions {
  /** Upper bound of system + user, in characters (default 12 000, at least 2 000). */
  maxPromptChars?: number;
  redactor: Redactor;
}

export const DEFAULT_MAX_PROMPT_CHARS = 12_000;
const MIN_PROMPT_CHARS = 2_000;

/** Per-field caps, applied whatever the budget: one runaway line must not crowd out the rest. */
const MESSAGE_CHARS = 400;
const SUMMARY_CHARS = 1_200;
const PARAMS_CHARS = 600;
const LOG_LINE_CHARS = 400;
const LOG_LINES_PER_CHECK = 200;
/** Below this, log tails are left out altogether rather than shown as a few useless fragments. */
const MIN_LOG_BUDGET = 300;
const CUT_MARK = '…';
const HARD_CUT_NOTE = 'the end of the text above (cut at the size limit)';

const SYSTEM_PROMPT = [
  'You are the diagnosis assistant of Nightshift, a bot that watches the services and AI agents on one machine, restarts what fails, and alerts its operator.',
  'You receive a deterministic analysis of recent failures: the critical incidents, causal chains built from the dependency graph and the order in time (root cause, then immediate effects, then the cascade, then symptoms such as log error spikes), the configuration of the checks involved, and the last lines of their logs.',
  'Secrets were replaced by [redacted] markers; never guess them and never ask for them.',
  '',
  'Explain the failure to the operator in one JSON object with these fields:',
  '- rootCause: what is broken at the root, in one to three sentences, citing the evidence (error messages, log lines).',
  '- whyItCascades: why the root failure makes the other checks fail; say so plainly when nothing cascades.',
  '- whatToCheck: 1 to 8 concrete things the operator should look at, most useful first (a command to run, a file, a setting).',
  '- fix (optional, only when the evidence supports one): {"kind":"steps","steps":[...]}, or {"kind":"command","command":"...","verify":"a command that shows it worked","repository":"the repair target it runs in"}, or {"kind":"diff","repository":"the name of a repair target","diff":"a unified diff with paths relative to that target (a/... b/...)","regression":"a command, run in the target, that failed before the fix and passes after it"}.',
  'A command or diff can only be applied inside a repair target listed in the input; name one exactly, or propose steps.',
  '- confidence: "low", "medium" or "high".',
  'Trust the root cause of the analysis unless the evidence contradicts it; then say why. Do not invent services, files or log lines that are not in the input. Answer with the JSON object only.',
].join('\n');

interface PromptPlan {
  /** Characters of log content allowed in all; undefined = every (capped) line. 0 = no logs. */
  logBudget: number | undefined;
  unexplained: boolean;
  cascade: 'full' | 'names' | 'none';
}

interface LogTail {
  check: string;
  lines: string[];
  /** Lines in the tail as received, before the per-check cap. */
  totalLines: number;
}

interface PromptParts {
  window: string;
  incidents: string[];
  chains: CausalChain[];
  unexplained: ChainNode[];
  configs: string[];
  targets: string[];
  logs: LogTail[];
  redact: (text: string) => string;
}

/**
 * The prompt for the critical incidents of `input`: their causal chains, the
 * failures nothing explains among them, the configuration and log tails of
 * the checks involved. Optional incidents and uninvolved checks are left out.
 * Every string passes `redactor.redact` (check params also lose header and
 * environment values and URL credentials). When the whole exceeds
 * `maxPromptChars`, older log lines go first, then the unexplained failures,
 * then the cascade detail, and the prompt says what was left out.
 * Deterministic: the same input gives the same prompt.
 */
export function buildPrompt(input: LlmInput, options: PromptOptions): BuiltPrompt {
  const maxChars = options.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS;
  if (!Number.isFinite(maxChars) || maxChars < MIN_PROMPT_CHARS) throw new RangeError(`maxPromptChars must be at least ${MIN_PROMPT_CHARS} (got ${maxChars})`);
  const parts = collectParts(input, options.redactor);
  const room = maxChars - SYSTEM_PROMPT.length;
  const fits = (text: string) => text.length <= room;

  const full = composeUser(renderUser(parts, { logBudget: undefined, unexplained: true, cascade: 'full' }));
  if (fits(full)) return { system: SYSTEM_PROMPT, user: full, truncated: false };

  // Older log lines go first: find the largest log budget that fits (a few rounds: headers and notes shift a little).
  const logChars = parts.logs.reduce((sum, tail) => sum + tail.lines.reduce((s, line) => s + line.length + 1, 0), 0);
  let budget = logChars - (full.length - room);
  for (let round = 0; round < 8 && budget >= MIN_LOG_BUDGET; round++) {
    const user = composeUser(renderUser(parts, { logBudget: budget, unexplained: true, cascade: 'full' }));
    if (fits(user)) return { system: SYSTEM_PROMPT, user, truncated: true };
    budget -= user.length - room;
  }

  const plans: PromptPlan[] = [
    { logBudget: 0, unexplained: true, cascade: 'full' },
    { logBudget: 0, unexplained: false, cascade: 'full' },
    { logBudget: 0, unexplained: false, cascade: 'names' },
    { logBudget: 0, unexplained: false, cascade: 'none' },
  ];
  let rendered: RenderedUser = { body: '', leftOut: [] };
  for (const plan of plans) {
    rendered = renderUser(parts, plan);
    const user = composeUser(rendered);
    if (fits(user)) return { system: SYSTEM_PROMPT, user, truncated: true };
  }
  // Still too big (many chains, long configs): cut the end of the body; the root causes come first, so they survive.
  const notes = composeUser({ body: '', leftOut: [...rendered.leftOut, HARD_CUT_NOTE] });
  return { system: SYSTEM_PROMPT, user: rendered.body.slice(0, Math.max(0, room - notes.length)) + notes, truncated: true };
}

interface RenderedUser {
  body: string;
  /** What the plan left out, said at the end of the prompt. */
  leftOut: string[];
}

function composeUser({ body, leftOut }: RenderedUser): string {
  return leftOut.length === 0 ? body : `${body}\n\n## Left out to fit the prompt size limit\n${leftOut.map((item) => `- ${item}`).join('\n')}`;
}

function collectParts(input: LlmInput, redactor: Redactor): PromptParts {
  const redact = (text: string) => redactor.redact(text);
  const critical = input.incidents.filter((incident) => incident.severity === 'critical');
  const criticalChecks = new Set(critical.map((incident) => incident.check));
  const chains = input.analysis.chains.filter((chain) => chainNodes(chain).some((node) => criticalChecks.has(node.check)));
  const unexplained = input.analysis.unexplained.filter((node) => criticalChecks.has(node.check));

  // Involved checks in the order a reader meets them: chain by chain, root first; then the unexplained; then the rest of the incidents.
  const involved: string[] = [];
  const involve = (name: string) => {
    if (!involved.includes(name)) involved.push(name);
  };
  for (const chain of chains) chainNodes(chain).forEach((node) => involve(node.check));
  unexplained.forEach((node) => involve(node.check));
  critical.forEach((incident) => involve(incident.check));

  const configsByName = new Map(input.checkConfigs.map((config) => [config.name, config]));
  const configs: string[] = [];
  for (const name of involved) {
    const config = configsByName.get(name);
    if (!config) continue;
    const params = clip(redact(JSON.stringify(safeParams(config.params, redactor))), PARAMS_CHARS);
    const needs = config.dependsOn.length > 0 ? `, depends on ${config.dependsOn.map(redact).join(', ')}` : '';
    configs.push(`- ${redact(config.name)}: kind ${redact(config.kind)}, ${config.severity}${needs}; params ${params}`);
  }

  const logs: LogTail[] = [];
  for (const name of involved) {
    const text = input.logTails?.[name];
    if (!text) continue;
    // Redacted before any cut, so a cut can never leave half a token that no pattern recognises.
    const all = redact(stripAnsi(text))
      .split('\n')
      .map((line) => line.replace(/\s+$/, ''))
      .filter((line) => line.length > 0);
    if (all.length > 0) logs.push({ check: name, lines: all.slice(-LOG_LINES_PER_CHECK).map((line) => clip(line, LOG_LINE_CHARS)), totalLines: all.length });
  }

  const { analysis } = input;
  return {
    window: `${isoTime(analysis.from)} to ${isoTime(analysis.to)}, ${analysis.totalFailures} failed check runs in all`,
    incidents: critical.map(
      (incident) =>
        `- ${redact(incident.check)}: open since ${isoTime(incident.openedAt)}, ${incident.failures} failed run${incident.failures === 1 ? '' : 's'}: ${clip(redact(incident.message), MESSAGE_CHARS)}`,
    ),
    chains,
    unexplained,
    configs,
    targets: (input.repairTargets ?? []).map((t) => `- ${redact(t.name)}: serves ${t.checks.map(redact).join(', ')}`),
    logs,
    redact,
  };
}

function renderUser(parts: PromptParts, plan: PromptPlan): RenderedUser {
  const { redact } = parts;
  const out: string[] = [];
  const leftOut: string[] = [];
  out.push(`Analysed window: ${parts.window}.`, '', `## Critical incidents (${parts.incidents.length})`, ...parts.incidents);

  out.push('', '## Causal chains (deterministic analysis, the chain explaining most failures first)');
  if (parts.chains.length === 0) out.push('None: the dependency graph links none of these incidents to a root cause.');
  let droppedDownstream = 0;
  parts.chains.forEach((chain, index) => {
    out.push('', `### Chain ${index + 1}: root cause ${redact(chain.root.check)} (explains ${chain.explainedFailures} failed runs)`);
    out.push(`Summary: ${clip(redact(chain.summary), SUMMARY_CHARS)}`);
    out.push(`Root: ${renderNode(chain.root, redact)}`);
    const groups: Array<[string, ChainNode[]]> = [
      ['Immediate effects', chain.effects],
      ['Cascade', chain.cascade],
      ['Symptoms (log error spikes, not causes)', chain.symptoms],
    ];
    for (const [title, nodes] of groups) {
      if (nodes.length === 0) continue;
      if (plan.cascade === 'full') out.push(`${title}:`, ...nodes.map((node) => `- ${renderNode(node, redact)}`));
      else if (plan.cascade === 'names') out.push(`${title}: ${nodes.map((node) => `${redact(node.check)} (${node.failures})`).join(', ')}`);
      else droppedDownstream += nodes.length;
    }
  });
  if (plan.cascade === 'names') leftOut.push('the evidence of effects, cascade and symptoms (only their names and failure counts are shown)');
  if (droppedDownstream > 0) leftOut.push(`the effects, cascade and symptoms of every chain (${droppedDownstream} checks)`);

  if (parts.unexplained.length > 0) {
    if (plan.unexplained)
      out.push('', '## Failures the dependency graph does not explain', ...parts.unexplained.map((node) => `- ${renderNode(node, redact)}`));
    else leftOut.push(`${parts.unexplained.length} failure${parts.unexplained.length === 1 ? '' : 's'} the dependency graph does not explain`);
  }

  if (parts.configs.length > 0) out.push('', '## Configuration of the checks involved', ...parts.configs);
  out.push('', '## Repair targets (where a command or diff may be applied)', ...(parts.targets.length > 0 ? parts.targets : ['None: propose steps only.']));

  if (parts.logs.length > 0) {
    const kept = keepNewestLines(parts.logs, plan.logBudget);
    const shown = kept.filter((tail) => tail.lines.length > 0);
    if (shown.length > 0) {
      out.push('', '## Log tails (oldest line first)');
      for (const tail of shown) {
        const count = tail.lines.length < tail.totalLines ? ` (newest ${tail.lines.length} of ${tail.totalLines} lines)` : '';
        out.push('', `### ${redact(tail.check)}${count}`, '```', ...tail.lines, '```');
      }
    }
    const shortened = kept.filter((tail) => tail.lines.length > 0 && tail.lines.length < tail.totalLines).map((tail) => tail.check);
    const dropped = kept.filter((tail) => tail.lines.length === 0).map((tail) => tail.check);
    if (plan.logBudget !== undefined && shortened.length > 0) leftOut.push(`older log lines of ${shortened.map(redact).join(', ')}`);
    if (dropped.length > 0) leftOut.push(`the log tails of ${dropped.map(redact).join(', ')}`);
  }

  return { body: out.join('\n'), leftOut };
}

/**
 * Splits `budget` characters among the tails so that short tails stay whole
 * and long ones share the rest equally, keeping each tail's newest lines.
 */
function keepNewestLines(tails: LogTail[], budget: number | undefined): LogTail[] {
  if (budget === undefined) return tails;
  const size = (lines: string[]) => lines.reduce((sum, line) => sum + line.length + 1, 0);
  const allowance = new Map<LogTail, number>();
  let remaining = Math.max(0, budget);
  const bySize = [...tails].sort((a, b) => size(a.lines) - size(b.lines));
  bySize.forEach((tail, index) => {
    const share = Math.min(size(tail.lines), Math.floor(remaining / (bySize.length - index)));
    allowance.set(tail, share);
    remaining -= share;
  });
  return tails.map((tail) => {
    let room = allowance.get(tail) ?? 0;
    const kept: string[] = [];
    for (let i = tail.lines.length - 1; i >= 0; i--) {
      const line = tail.lines[i]!;
      if (line.length + 1 > room) {
        // Nothing fits yet: the end of the newest line says more than nothing.
        if (kept.length === 0 && room > 40) kept.push(CUT_MARK + line.slice(line.length - (room - 2)));
        break;
      }
      kept.push(line);
      room -= line.length + 1;
    }
    return { ...tail, lines: kept.reverse() };
  });
}

function renderNode(node: ChainNode, redact: (text: string) => string): string {
  const span = node.firstSeen === node.lastSeen ? `at ${isoTime(node.firstSeen)}` : `${isoTime(node.firstSeen)} to ${isoTime(node.lastSeen)}`;
  // The sample message, not the signature: the model reads a real error better than its folded pattern.
  return `${redact(node.check)} [${redact(node.kind)}]: ${node.failures} failed run${node.failures === 1 ? '' : 's'}, ${span}: ${clip(redact(node.sampleMessage), MESSAGE_CHARS)}`;
}

function chainNodes(chain: CausalChain): ChainNode[] {
  return [chain.root, ...chain.effects, ...chain.cascade, ...chain.symptoms];
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : 'unknown time';
}
