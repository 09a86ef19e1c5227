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
import { explain, type LlmAnswer } from './llm.js';
import { renderFullDiagnosis, renderScreenDiagnosis, type DiagnosisText, type DiagnosisTrigger } from './render.js';
import { failureSignature } from './signature.js';
import { describeGathered, gatherEvidence, type Gathered } from './gather/index.js';
import { tellingLine } from '../util/telling-line.js';
import { upstreamOf } from '../util/graph.js';
import { clip } from '../util/text.js';
import type { CheckStateStore } from '../store/check-state.js';
import type { HealEnd } from '../notify/composer.js';
import type { CausalAnalysis } from './types.js';

export interface DiagnoserOptions {
  db: Db;
  /** Where supervised children's logs are (the evidence gathering reads them). */
  dataDir: string;
  /** The checks' latest run details (pids, log files): where the evidence gathering looks. */
  checkState: CheckStateStore;
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

export type { DiagnosisTrigger } from './render.js';

/** A root incident whose dependencies are not all checked since is counted anyway after this long (a dependency on a slow interval). */
const SETTLE_MAX_MS = 5 * 60_000;
/** The evidence gathering looks at this many of the top roots: the ones the diagnosis is about. */
const GATHERED_ROOTS = 5;

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
  /** A diagnosis made earlier, whole (the chat message is its one-screen summary); undefined when there is none. */
  diagnosis(id: number): { id: number; at: number; text: string } | undefined;
  /** The newest diagnosis's id, or undefined before the first. */
  latestDiagnosisId(): number | undefined;
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
  /** Root incidents not yet counted toward their signature's recurrence: they may still be re-filed as symptoms. */
  private readonly unsettled = new Map<number, { check: CheckConfig; signature: string; since: number }>();
  private byName = new Map<string, CheckConfig>();
  /** Each check's dependencies, direct and transitive. */
  private upstream = new Map<string, Set<string>>();
  /** The checks configured now (a reload replaces them). */
  private checks: readonly CheckConfig[] = [];
  private readonly running = new Map<string, Promise<DiagnoseOutcome>>();
  private criticalFailures: number | undefined;
  private analysisAsked = false;
  private weeklyTask: ScheduledTask | undefined;
  /** The analysis's reads of the event log, prepared once for every diagnosis. */
  private readonly failureLog: FailureLog;

  constructor(private readonly options: DiagnoserOptions) {
    this.failureLog = new FailureLog(options.db);
    this.replaceChecks(options.checks);
  }

  /** A reload: the evidence gathering and the dependency walk use `next` from now on. */
  replaceChecks(next: readonly CheckConfig[]): void {
    this.checks = next;
    this.byName = new Map(next.map((c) => [c.name, c]));
    const dependsOnOf = (name: string) => this.byName.get(name)?.dependsOn ?? [];
    this.upstream = new Map(next.map((c) => [c.name, upstreamOf(c.name, dependsOnOf)]));
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

  /**
   * Called with every patrol result and what it did to the incident. A new
   * root incident counts toward its signature's recurrence only once it is
   * known to be a root: its dependencies run concurrently and, when one of
   * them turns out to be failing, the incident is re-filed as its symptom
   * (about a patrol later). So it is judged once every dependency has run
   * since it began failing (or after SETTLE_MAX_MS), and dropped if it was
   * re-filed by then: a symptom's recurrences trigger nothing.
   */
  onResult(outcome: RunOutcome, update: IncidentUpdate): void {
    if (!outcome.result.ok) {
      if (outcome.check.severity === 'critical') this.countCriticalFailure(outcome);
      if (update.kind === 'opened' && update.rootCheck === null) {
        this.unsettled.set(update.incident.id, {
          check: outcome.check,
          signature: failureSignature(outcome.check.name, outcome.result.message),
          since: outcome.state.lastChangeAt ?? this.options.clock.now(),
        });
      }
    }
    if (this.unsettled.size > 0) this.settleRoots();
  }

  /**
   * A heal of a root incident that did not bring its check back (a restart
   * whose service died again inside its start grace) is the failure coming
   * back too: a crash loop is one long incident, and without this it would
   * never count as recurring.
   */
  healEnded(end: HealEnd): void {
    if (end.ok) return;
    const incident = this.options.incidents.get(end.incidentId);
    if (!incident || incident.rootId !== null) return;
    this.countRecurrence(failureSignature(end.check, incident.lastMessage), end.check, this.options.clock.now());
  }

  /** Counts the incidents now known to be roots; drops those re-filed as symptoms. */
  private settleRoots(): void {
    const now = this.options.clock.now();
    for (const [incidentId, pending] of this.unsettled) {
      const incident = this.options.incidents.get(incidentId);
      if (!incident || incident.rootId !== null) {
        this.unsettled.delete(incidentId);
        continue;
      }
      const upstream = this.upstream.get(pending.check.name) ?? new Set<string>();
      const waiting = [...upstream].some((dep) => (this.options.checkState.get(dep)?.lastRunAt ?? -Infinity) < pending.since);
      if (waiting && now - pending.since < SETTLE_MAX_MS) continue;
      this.unsettled.delete(incidentId);
      this.countRecurrence(pending.signature, pending.check.name, now);
    }
  }

  private countRecurrence(signature: string, check: string, now: number): void {
    const times = (this.opened.get(signature) ?? []).filter((t) => now - t <= this.options.recurrence.windowMs);
    times.push(now);
    this.opened.set(signature, times);
    if (times.length < this.options.recurrence.count || !this.options.consent.granted('analysis')) return;
    const last = this.options.store.lastFor(signature);
    if (last !== undefined && now - last <= this.options.recurrence.windowMs) return;
    this.diagnose('recurrence', { signature, check }).catch((err: unknown) => this.options.log.error({ err, signature }, 'a recurrence diagnosis failed'));
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

  diagnosis(id: number): { id: number; at: number; text: string } | undefined {
    const row = this.options.store.get(id);
    return row ? { id: row.id, at: row.at, text: row.message } : undefined;
  }

  latestDiagnosisId(): number | undefined {
    return this.options.store.latestId();
  }

  private async run(trigger: DiagnosisTrigger, input: { signature?: string; check?: string; lookbackMs?: number }): Promise<DiagnoseOutcome> {
    const { store, clock, log, events } = this.options;
    const { checks } = this;
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
    // Read-only looks at the failing roots (their log, process, ports, disk) before anyone explains them.
    const gathered = analysis.totalFailures > 0 ? await this.gather(analysis) : [];
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
            gathered,
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
    const rendered: DiagnosisText = {
      trigger,
      input,
      analysis,
      llm,
      llmUnavailable: llmState === 'off' ? 'no local model is configured (OLLAMA_MODEL)' : llmError,
      model: this.options.llm?.model,
      lookedAt: gathered.map(lookedAt),
    };
    const text = renderFullDiagnosis(rendered);
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
    // One screen goes to every channel (the whole text is behind /diagnosis <id>); whoever asked gets a pointer to it.
    const screen = renderScreenDiagnosis(rendered, diagnosisId);
    if (!fix) {
      this.options.notify({ severity: analysis.totalFailures > 0 ? 'warning' : 'info', title, body: screen });
      return { kind: 'made', diagnosisId, title };
    }
    const proposal = await this.options.proposals.propose(diagnosisId, fix, title, screen, input.signature ?? null);
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

  /** What the gathering tools see of the top roots now; never rejects (a failed gathering leaves the diagnosis without it). */
  private async gather(analysis: CausalAnalysis): Promise<Gathered[]> {
    const targets = analysis.chains
      .slice(0, GATHERED_ROOTS)
      .map((c) => this.byName.get(c.root.check))
      .filter((check): check is CheckConfig => check !== undefined)
      .map((check) => ({ check, lastDetails: this.options.checkState.get(check.name)?.lastDetails ?? null }));
    if (targets.length === 0) return [];
    try {
      return await gatherEvidence(targets, { dataDir: this.options.dataDir, redact: (text) => this.options.redactor.redact(text) });
    } catch (err) {
      this.options.log.warn({ err }, 'gathering evidence for a diagnosis failed; it goes on without it');
      return [];
    }
  }

  /**
   * The recent stderr/log evidence the checks left in their failure events,
   * then what the gathering saw just now (newest last, so it is kept first
   * when the prompt is cut); redacted again by the prompt builder.
   */
  private logTails(criticalChecks: string[], involved: Set<string>, gathered: Gathered[]): Record<string, string> {
    const tails: Record<string, string> = {};
    const add = (name: string, text: string) => (tails[name] = tails[name] ? `${tails[name]}\n${text}` : text);
    for (const name of new Set([...criticalChecks, ...involved])) {
      const evidence = this.failureLog.latestFailedRun(name)?.evidence;
      const kept = evidence ? [evidence.stderr, evidence.stdout, evidence.log].filter((x): x is string => x !== undefined) : [];
      if (kept.length > 0) add(name, kept.join('\n'));
    }
    for (const g of gathered) if (g.ok && g.text !== '') add(g.check, `[looked at now: ${describeGathered(g)}]\n${g.text}`);
    return tails;
  }
}

/** What a look was, and in a few words what it showed (a log tail: its most telling line); null when it showed nothing to quote. */
function lookedAt(g: Gathered): { what: string; saw: string | null } {
  const what = describeGathered(g);
  if (!g.ok || g.text === '') return { what, saw: null };
  if (g.tool === 'log-tail') return { what, saw: tellingLine({ log: g.text })?.line ?? null };
  return { what, saw: clip(g.text.split('\n', 1)[0]!, 140) };
}

function headline(analysis: CausalAnalysis): string {
  if (analysis.totalFailures === 0) return 'no failures in the window';
  const [first] = analysis.chains;
  if (!first) return `${analysis.totalFailures} failures, no root cause found`;
  return analysis.chains.length === 1 ? `root cause ${first.root.check}` : `${analysis.chains.length} independent problems, biggest: ${first.root.check}`;
}
