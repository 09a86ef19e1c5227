import { randomInt } from 'node:crypto';
import cron, { type ScheduledTask } from 'node-cron';
import { describeIdentity, type Identity, type OutgoingMessage } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { CheckConfig } from '../checks/types.js';
import type { Consent } from '../consent/consent.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Redactor } from '../log/redact.js';
import type { IncidentUpdate } from '../patrol/incidents.js';
import type { RunOutcome } from '../patrol/patrol.js';
import type { Questions } from '../questions/questions.js';
import type { Db } from '../store/database.js';
import type { DiagnosisStore, ProposalRow } from '../store/diagnoses.js';
import type { EventLog } from '../store/events.js';
import type { IncidentStore } from '../store/incidents.js';
import { analyzeCausality } from './causal.js';
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
  questions: Questions;
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
  proposalTtlMs: number;
}

export type DiagnosisTrigger = 'recurrence' | 'weekly' | 'command';

/**
 * Level 2. Asks the analysis consent once, after repeated critical failures;
 * while it is granted, diagnoses a failure signature that keeps coming back
 * (at once), the week's events (weekly) and whatever /diagnose asks. A
 * diagnosis is the deterministic causal analysis, explained by the local
 * model when it answers in time with a valid answer; a fix it proposes is
 * posted for approval, and the auto-repair consent is asked once after the
 * first such proposal.
 */
export class Diagnoser {
  private readonly opened = new Map<string, number[]>();
  private readonly running = new Map<string, Promise<string>>();
  private criticalFailures: number | undefined;
  private analysisAsked = false;
  private weeklyTask: ScheduledTask | undefined;

  constructor(private readonly options: DiagnoserOptions) {
    const { questions } = options;
    questions.onAnswer('consent.analysis', (_q, answer, from) => this.decideConsent('analysis', answer, from));
    questions.onAnswer('consent.auto-repair', (_q, answer, from) => this.decideConsent('auto-repair', answer, from));
    questions.onAnswer('proposal', (q, answer, from) => this.decideProposal(q.id, answer, from));
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
   * Makes a diagnosis and posts it; resolves to its text. A diagnosis
   * already running for the same signature (or check) is not started twice.
   */
  diagnose(trigger: DiagnosisTrigger, input: { signature?: string; check?: string; lookbackMs?: number } = {}): Promise<string> {
    const key = input.signature ?? `${trigger}:${input.check ?? '*'}`;
    const running = this.running.get(key);
    if (running) return running.then(() => 'A diagnosis of this is already running; its result is posted when it is done.');
    const run = this.run(trigger, input).finally(() => this.running.delete(key));
    this.running.set(key, run);
    return run;
  }

  private async run(trigger: DiagnosisTrigger, input: { signature?: string; check?: string; lookbackMs?: number }): Promise<string> {
    const { db, checks, store, clock, log, events } = this.options;
    const to = clock.now();
    const from = to - (input.lookbackMs ?? this.options.lookbackMs);
    let analysis: CausalAnalysis;
    try {
      analysis = analyzeCausality(db, checks, {
        from,
        to,
        redact: (text) => this.options.redactor.redact(text),
        ...(input.check ? { check: input.check } : {}),
      });
    } catch (err) {
      log.error({ err }, 'causal analysis failed');
      return `The causal analysis failed: ${errorMessage(err)}`;
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
      return `${title} (posted on every channel).`;
    }
    const proposal = this.propose(diagnosisId, fix, title, text);
    if (this.options.consent.get('auto-repair').state === 'unasked') this.askOnce('auto-repair');
    return `${title} (posted on every channel); proposed fix ${proposal.id} waits for approval: ${proposal.summary}`;
  }

  private propose(diagnosisId: number, fix: NonNullable<LlmAnswer['fix']>, title: string, text: string): ProposalRow {
    const { store, questions, clock, events } = this.options;
    const id = this.newProposalId();
    const summary = fix.kind === 'steps' ? fix.steps.join('; ') : fix.kind === 'command' ? `run: ${fix.command}` : `apply a patch to ${fix.repository}`;
    const detail = fix.kind === 'diff' ? `\n${fix.diff.split('\n').slice(0, 40).join('\n')}` : '';
    const now = clock.now();
    return this.options.db.transaction(() => {
      const question = questions.ask({
        kind: 'proposal',
        subject: id,
        title: `${title} — proposed fix ${id}`,
        body: `${text}\n\nProposed fix ${id} (${fix.kind}): ${summary}${detail}\nApprove or reject (/approve ${id}, /reject ${id}).`,
        ttlMs: this.options.proposalTtlMs,
        severity: 'warning',
      });
      store.addProposal({ id, diagnosisId, kind: fix.kind, content: fix, summary, questionId: question.id, createdAt: now, expiresAt: question.expiresAt });
      events.append(now, 'proposal.made', id, 'info', { proposalId: id, diagnosisId, kind: fix.kind });
      return store.proposal(id)!;
    })();
  }

  /** /approve and /reject: answers the proposal's question, so the first answer wins wherever it comes from. */
  answerProposal(id: string, approve: boolean, from: Identity): string {
    const proposal = this.options.store.proposal(id);
    if (!proposal) return `No such proposal: ${id}. /proposals lists them.`;
    return this.options.questions.answer({ questionId: proposal.questionId }, approve ? 'yes' : 'no', from).text;
  }

  /** Expired proposal questions expire their proposals. */
  expire(questionIds: string[]): void {
    for (const qid of questionIds) {
      const proposal = this.options.store.proposalForQuestion(qid);
      if (proposal && this.options.store.decide(proposal.id, 'expired', 'nightshift', this.options.clock.now())) {
        this.options.events.append(this.options.clock.now(), 'proposal.decided', proposal.id, 'info', {
          proposalId: proposal.id,
          status: 'expired',
          by: 'nightshift',
          channel: 'nightshift',
        });
      }
    }
  }

  /** An admin changes a consent (/consent analysis on). */
  setConsent(name: 'analysis' | 'auto-repair', on: boolean, by: string, channel: string): string {
    const changed = this.options.consent.apply(name, on ? 'admin-on' : 'admin-off', by, channel);
    return changed ? `${name}: ${on ? 'granted' : 'declined'}.` : `${name} is already ${this.options.consent.get(name).state}.`;
  }

  private decideConsent(name: 'analysis' | 'auto-repair', answer: 'yes' | 'no', from: Identity): string {
    const ok = this.options.consent.apply(name, answer === 'yes' ? 'grant' : 'decline', describeIdentity(from), from.channel);
    if (!ok) return `(${name} is already ${this.options.consent.get(name).state}; nothing changed.)`;
    return answer === 'yes'
      ? name === 'analysis'
        ? 'Analysis allowed: recurring failures now trigger a diagnosis.'
        : 'Auto-repair allowed for approved fixes.'
      : `${name === 'analysis' ? 'Analysis' : 'Auto-repair'} declined; Nightshift will not ask again (/consent shows it; an admin can change it).`;
  }

  private decideProposal(questionId: string, answer: 'yes' | 'no', from: Identity): string {
    const { store, clock, events } = this.options;
    const proposal = store.proposalForQuestion(questionId);
    if (!proposal) return '';
    const status = answer === 'yes' ? 'approved' : 'rejected';
    const who = describeIdentity(from);
    if (!store.decide(proposal.id, status, who, clock.now())) return `Proposal ${proposal.id} was already ${store.proposal(proposal.id)?.status}.`;
    events.append(clock.now(), 'proposal.decided', proposal.id, 'info', { proposalId: proposal.id, status, by: who, channel: from.channel });
    return status === 'approved' ? `Proposal ${proposal.id} approved. It stays approved until repairs can be applied.` : `Proposal ${proposal.id} rejected.`;
  }

  /** Counts critical failures until the analysis consent is asked, then asks it once. */
  private countCriticalFailure(outcome: RunOutcome): void {
    const { consent, db } = this.options;
    // Once asked, it stays asked: no store read on every critical failure from then on.
    if (this.analysisAsked) return;
    if (consent.get('analysis').state !== 'unasked') {
      this.analysisAsked = true;
      return;
    }
    this.criticalFailures ??=
      (db.prepare("SELECT count(*) AS n FROM events WHERE type = 'check.failed' AND severity = 'critical'").get() as { n: number }).n - 1;
    this.criticalFailures++;
    if (this.criticalFailures < this.options.askAnalysisAfter) return;
    this.askOnce('analysis', `${this.criticalFailures} critical failures so far, the latest: ${outcome.check.name}: ${outcome.result.message}.`);
  }

  /** Moves the consent to "asked" and asks, in one transaction: a crash never leaves it asked without a question, or asks twice. */
  private askOnce(name: 'analysis' | 'auto-repair', context = ''): void {
    const model = this.options.llm ? `the local model ${this.options.llm.model}` : 'a local model, once one is configured';
    const asked =
      name === 'analysis'
        ? {
            title: 'May Nightshift analyse its error patterns?',
            body: `${context} If you allow it, a failure that keeps coming back triggers a diagnosis: a causal analysis of the event log (which failure caused which), explained by ${model} on this machine, secrets redacted. Asked once; /consent shows the answer.`,
            yesLabel: 'Allow analysis',
            noLabel: 'Decline',
          }
        : {
            title: 'May approved fixes be applied automatically?',
            body: 'Nightshift just proposed its first fix. If you allow it, a fix you approve is applied with a git backup, verified, and rolled back if verification fails. Each fix still needs your approval. Asked once; /disable-surgery stops everything at any time.',
            yesLabel: 'Allow auto-repair',
            noLabel: 'Decline',
          };
    this.options.consent.apply(name, 'ask', 'nightshift', 'nightshift', () => {
      this.options.questions.ask({ kind: `consent.${name}`, subject: `consent.${name}`, ...asked, ttlMs: 7 * 86_400_000 });
    });
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

  private newProposalId(): string {
    for (;;) {
      const id = `p${randomInt(10, 10_000)}`;
      if (!this.options.store.proposal(id)) return id;
    }
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
