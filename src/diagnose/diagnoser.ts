import cron, { type ScheduledTask } from 'node-cron';
import type { OutgoingMessage } from '../chat/channel.js';
import type { Invoker } from '../chat/roles.js';
import type { Clock } from '../clock.js';
import type { CheckConfig } from '../checks/types.js';
import type { Consent } from '../consent/consent.js';
import type { ConsentQuestions } from '../consent/questions.js';
import type { ConsentState } from '../consent/transitions.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Redactor } from '../log/redact.js';
import type { IncidentUpdate } from '../patrol/incidents.js';
import type { RunOutcome } from '../patrol/patrol.js';
import type { Db } from '../store/database.js';
import { FailureLog } from '../store/failure-log.js';
import type { DiagnosisStore, ProposalRow } from '../store/diagnoses.js';
import type { ProposalDecision, Proposals } from './proposals.js';
import type { EventLog } from '../store/events.js';
import type { IncidentStore } from '../store/incidents.js';
import { analyzeFailureLog } from './causal.js';
import { explain, renderLlmSection, type LlmAnswer } from './llm.js';
import { failureSignature } from './signature.js';
import type { CausalAnalysis } from './types.js';

export interface DiagnoserOptions {
  db: Db;
  checks: readonly CheckConfig[];
  events: EventLog;
  incidents: IncidentStore;
  store: DiagnosisStore;
  consent: Consent;
  consentQuestions: ConsentQuestions;
  proposals: Proposals;
  /** Where fixes may be applied, told to the model so a fix names one. */
  repairTargets: Array<{ name: string; checks: string[] }>;
  clock: Clock;
  log: Logger;
  redactor: Redactor;
  timezone: string;
  notify: (message: OutgoingMessage) => void;
  /** The local model; null: deterministic diagnoses only. */
  llm: { host: string; model: string; timeoutMs: number; maxPromptChars: number } | null;
  /** A failure signature opening this many incidents within the window triggers a diagnosis. */
  recurrence: { count: number; windowMs: number };
  /** Critical failure events before the analysis consent is asked. */
  askAnalysisAfter: number;
  /** How far back a diagnosis looks. */
  lookbackMs: number;
  /** Weekly diagnosis, a cron expression in `timezone`; null: off. */
  weekly: string | null;
}

export type DiagnosisTrigger = 'recurrence' | 'weekly' | 'command';

/** What asking for a diagnosis gave. */
export type DiagnoseOutcome =
  /** Analysis is not granted: Nightshift does not analyse error patterns. */
  | { kind: 'not-granted'; state: ConsentState }
  /** The same diagnosis is running; its result is posted when it is done. */
  | { kind: 'already-running' }
  /** The causal analysis itself failed. */
  | { kind: 'failed'; error: string }
  /** Made and posted on every channel; with the fix it proposes, waiting for approval. */
  | { kind: 'made'; diagnosisId: number; title: string; proposal?: ProposalRow };

/** What /diagnose, /proposals, /approve and /reject may do. */
export interface DiagnosisService {
  /** A diagnosis now (of one check, or of everything), only while analysis is granted. */
  diagnoseNow(check: string | undefined): Promise<DiagnoseOutcome>;
  /** Recent proposals, newest first. */
  proposals(): ProposalRow[];
  /** Approves or rejects a proposal, by answering its question. */
  decideProposal(id: string, approve: boolean, by: Invoker): ProposalDecision;
}

/**
 * Level 2. Asks the analysis consent once, after repeated critical failures;
 * while it is granted, diagnoses a failure signature that keeps coming back
 * (at once), the week's events (weekly) and whatever /diagnose asks. A
 * diagnosis is the deterministic causal analysis, explained by the local
 * model when it answers in time with a valid answer; a fix it proposes is
 * posted for approval, and the auto-repair consent is asked once after the
 * first such proposal.
 */
export class Diagnoser implements DiagnosisService {
  private readonly opened = new Map<string, number[]>();
  private readonly running = new Map<string, Promise<DiagnoseOutcome>>();
  private criticalFailures: number | undefined;
  private analysisAsked = false;
  private weeklyTask: ScheduledTask | undefined;
  /** The analysis's reads of the event log, prepared once for every diagnosis. */
  private readonly failureLog: FailureLog;

  constructor(private readonly options: DiagnoserOptions) {
    this.failureLog = new FailureLog(options.db);
  }

  start(): void {
    if (!this.options.weekly) return;
    this.weeklyTask = cron.schedule(
      this.options.weekly,
      () => {
        // Like every trigger, only while the operator allows analysis.
        if (this.options.consent.granted('analysis'))
          this.diagnose('weekly', { lookbackMs: 7 * 86_400_000 }).catch((err: unknown) => this.options.log.error({ err }, 'the weekly diagnosis failed'));
      },
      { timezone: this.options.timezone, name: 'weekly-diagnosis', noOverlap: true },
    );
  }

  async stop(): Promise<void> {
    await this.weeklyTask?.stop();
    await Promise.allSettled(this.running.values());
  }

  /** Called with every patrol result and what it did to the incident. */
  onResult(outcome: RunOutcome, update: IncidentUpdate): void {
    if (outcome.result.ok) return;
    if (outcome.check.severity === 'critical') this.countCriticalFailure(outcome);
    if (update.kind !== 'opened' || update.rootCheck !== null) return;
    const signature = failureSignature(outcome.check.name, outcome.result.message);
    const now = this.options.clock.now();
    const times = (this.opened.get(signature) ?? []).filter((t) => now - t <= this.options.recurrence.windowMs);
    times.push(now);
    this.opened.set(signature, times);
    if (times.length < this.options.recurrence.count || !this.options.consent.granted('analysis')) return;
    const last = this.options.store.lastFor(signature);
    if (last !== undefined && now - last <= this.options.recurrence.windowMs) return;
    this.diagnose('recurrence', { signature, check: outcome.check.name }).catch((err: unknown) =>
      this.options.log.error({ err, signature }, 'a recurrence diagnosis failed'),
    );
  }

  /**
   * Makes a diagnosis and posts it; resolves to what it did. A diagnosis
   * already running for the same signature (or check) is not started twice.
   */
  diagnose(trigger: DiagnosisTrigger, input: { signature?: string; check?: string; lookbackMs?: number } = {}): Promise<DiagnoseOutcome> {
    const key = input.signature ?? `${trigger}:${input.check ?? '*'}`;
    const running = this.running.get(key);
    if (running) return running.then((): DiagnoseOutcome => ({ kind: 'already-running' }));
    const run = this.run(trigger, input).finally(() => this.running.delete(key));
    this.running.set(key, run);
    return run;
  }

  diagnoseNow(check: string | undefined): Promise<DiagnoseOutcome> {
    const analysis = this.options.consent.get('analysis');
    if (analysis.state !== 'granted') return Promise.resolve({ kind: 'not-granted', state: analysis.state });
    return this.diagnose('command', check ? { check } : {});
  }

  proposals(): ProposalRow[] {
    return this.options.proposals.list();
  }

  decideProposal(id: string, approve: boolean, by: Invoker): ProposalDecision {
    return this.options.proposals.decide(id, approve, by);
  }

  private async run(trigger: DiagnosisTrigger, input: { signature?: string; check?: string; lookbackMs?: number }): Promise<DiagnoseOutcome> {
    const { checks, store, clock, log, events } = this.options;
    const to = clock.now();
    const from = to - (input.lookbackMs ?? this.options.lookbackMs);
    let analysis: CausalAnalysis;
    try {
      analysis = analyzeFailureLog(this.failureLog, checks, {
        from,
        to,
        redact: (text) => this.options.redactor.redact(text),
        ...(input.check ? { check: input.check } : {}),
      });
    } catch (err) {
      log.error({ err }, 'causal analysis failed');
      return { kind: 'failed', error: errorMessage(err) };
    }
    let llm: LlmAnswer | null = null;
    let llmError: string | null = null;
    if (this.options.llm && analysis.totalFailures > 0) {
      const critical = this.options.incidents.allOpen().filter((i) => i.severity === 'critical');
      const involved = new Set(analysis.chains.flatMap((c) => [c.root, ...c.effects, ...c.cascade, ...c.symptoms].map((n) => n.check)));
      const outcome = await explain(
        {
          analysis,
          incidents: critical.map((i) => ({ check: i.checkName, severity: i.severity, message: i.lastMessage, openedAt: i.openedAt, failures: i.failures })),
          // Every check's config: the prompt builder keeps the ones involved in critical incidents.
          checkConfigs: checks.map((c) => ({ name: c.name, kind: c.kind, severity: c.severity, dependsOn: c.dependsOn, params: c.params })),
          repairTargets: this.options.repairTargets,
          logTails: this.logTails(
            critical.map((i) => i.checkName),
            involved,
          ),
        },
        {
          host: this.options.llm.host,
          model: this.options.llm.model,
          timeoutMs: this.options.llm.timeoutMs,
          maxPromptChars: this.options.llm.maxPromptChars,
          redactor: this.options.redactor,
          log,
        },
      );
      if (outcome.ok) llm = outcome.answer;
      else llmError = outcome.reason;
    }
    const llmState = this.options.llm === null ? 'off' : llm ? 'answered' : 'unavailable';
    const text = renderDiagnosis(
      trigger,
      input,
      analysis,
      llm,
      llmState === 'off' ? 'no local model is configured (OLLAMA_MODEL)' : llmError,
      this.options.llm?.model,
    );
    const diagnosisId = store.add({
      at: to,
      trigger,
      signature: input.signature ?? null,
      subject: input.check ?? null,
      analysis,
      llm,
      llmError,
      message: text,
    });
    events.append(clock.now(), 'diagnosis.made', input.check ?? 'diagnosis', 'info', {
      diagnosisId,
      trigger,
      signature: input.signature ?? null,
      chains: analysis.chains.length,
      llm: llmState,
      ...(llmError ? { llmError } : {}),
    });
    const title = `Diagnosis #${diagnosisId}: ${headline(analysis)}`;
    const fix = llm?.fix;
    // The diagnosis itself goes to every channel; whoever asked for it gets a pointer to it.
    if (!fix) {
      this.options.notify({ severity: analysis.totalFailures > 0 ? 'warning' : 'info', title, body: text });
      return { kind: 'made', diagnosisId, title };
    }
    const proposal = await this.options.proposals.propose(diagnosisId, fix, title, text, input.signature ?? null);
    // Asked about applying fixes only once there is one that could be applied.
    if (proposal.status === 'proposed') this.options.consentQuestions.askOnce('auto-repair');
    return { kind: 'made', diagnosisId, title, proposal };
  }

  /** Counts critical failures until the analysis consent is asked, then asks it once. */
  private countCriticalFailure(outcome: RunOutcome): void {
    const { consent, events } = this.options;
    // Once asked, it stays asked: no store read on every critical failure from then on.
    if (this.analysisAsked) return;
    if (consent.get('analysis').state !== 'unasked') {
      this.analysisAsked = true;
      return;
    }
    // The failure being counted is already stored: the count so far leaves it out, the increment below adds it.
    this.criticalFailures ??= events.criticalFailureCount() - 1;
    this.criticalFailures++;
    if (this.criticalFailures < this.options.askAnalysisAfter) return;
    this.options.consentQuestions.askOnce(
      'analysis',
      `${this.criticalFailures} critical failures so far, the latest: ${outcome.check.name}: ${outcome.result.message}.`,
    );
  }

  /** The recent stderr/log evidence the checks left in their failure events (already redacted by the prompt builder). */
  private logTails(criticalChecks: string[], involved: Set<string>): Record<string, string> {
    const tails: Record<string, string> = {};
    for (const name of new Set([...criticalChecks, ...involved])) {
      const failure = this.options.events
        .forSubject(name, 5)
        .reverse()
        .find((e) => e.type === 'check.failed');
      const context = failure?.context as Record<string, unknown> | undefined;
      const tail = [
        context?.stderrTail,
        context?.stdoutTail,
        Array.isArray(context?.sampleErrors) ? (context.sampleErrors as string[]).join('\n') : undefined,
      ].filter((x): x is string => typeof x === 'string' && x.length > 0);
      if (tail.length > 0) tails[name] = tail.join('\n');
    }
    return tails;
  }
}

function headline(analysis: CausalAnalysis): string {
  if (analysis.totalFailures === 0) return 'no failures in the window';
  const [first] = analysis.chains;
  if (!first) return `${analysis.totalFailures} failures, no root cause found`;
  return analysis.chains.length === 1 ? `root cause ${first.root.check}` : `${analysis.chains.length} independent problems, biggest: ${first.root.check}`;
}

/** The diagnosis as the operator reads it: the causal chain first, the model's explanation (or why there is none) after. */
export function renderDiagnosis(
  trigger: DiagnosisTrigger,
  input: { signature?: string; check?: string },
  analysis: CausalAnalysis,
  llm: LlmAnswer | null,
  llmUnavailable: string | null,
  model: string | undefined,
): string {
  const why =
    trigger === 'recurrence'
      ? `recurring failure: ${input.signature}`
      : trigger === 'weekly'
        ? "weekly, over the week's events"
        : `on request: /diagnose${input.check ? ` ${input.check}` : ''}`;
  const lines = [`(${why})`, analysis.summary];
  for (const chain of analysis.chains.slice(0, 3)) lines.push('', chain.summary);
  if (analysis.unexplained.length > 0) lines.push('', `Not explained by any dependency: ${analysis.unexplained.map((n) => n.check).join(', ')}.`);
  if (analysis.totalFailures === 0) return lines.join('\n');
  lines.push('');
  if (llm) lines.push(`Explanation by ${model}:`, ...renderLlmSection(llm));
  else lines.push(`Deterministic diagnosis only: ${llmUnavailable ?? 'the model did not answer'}.`);
  return lines.join('\n');
}
