import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { StatusSummary } from '../patrol/summary.js';

/**
 * Prometheus metrics on their own registry (no global state). Gauges are
 * computed from the status summary at scrape time; counters are bumped by
 * the patrol as runs happen.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly runs: Counter<'check' | 'result'>;

  /** The summary for the scrape in progress: built once per scrape, not once per gauge. */
  private current: StatusSummary | undefined;

  constructor(
    private readonly buildSummary: () => StatusSummary,
    healsByCheck: () => Map<string, number> = () => new Map(),
  ) {
    const summary = () => (this.current ??= this.buildSummary());
    // Event-loop delay sampled every 100 ms, not prom-client's 10 ms: a timer 100 times a second was a third of an idle bot's CPU.
    collectDefaultMetrics({ register: this.registry, prefix: 'nightshift_process_', eventLoopMonitoringPrecision: 100 });
    this.runs = new Counter({ name: 'nightshift_check_runs_total', help: 'Check runs by result', labelNames: ['check', 'result'], registers: [this.registry] });
    new Gauge({
      name: 'nightshift_check_up',
      help: '1 when the check last passed, 0 when failing, -1 before its first run',
      labelNames: ['check', 'kind', 'severity'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const d of summary().details)
          this.set({ check: d.name, kind: d.kind, severity: d.severity }, d.status === 'ok' ? 1 : d.status === 'failing' ? 0 : -1);
      },
    });
    new Gauge({
      name: 'nightshift_check_stale',
      help: '1 when the check has not run within two intervals',
      labelNames: ['check'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const d of summary().details) this.set({ check: d.name }, d.stale ? 1 : 0);
      },
    });
    new Gauge({
      name: 'nightshift_check_duration_seconds',
      help: 'Duration of the last run of each check',
      labelNames: ['check'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const d of summary().details) if (d.lastDurationMs !== null) this.set({ check: d.name }, d.lastDurationMs / 1000);
      },
    });
    new Gauge({
      name: 'nightshift_patrol_last_run_timestamp_seconds',
      help: 'When the patrol loop last woke',
      registers: [this.registry],
      collect() {
        const at = summary().lastPatrolAt;
        if (at !== null) this.set(at / 1000);
      },
    });
    new Gauge({
      name: 'nightshift_check_heals_24h',
      help: 'Heal attempts per check in the last 24 hours',
      labelNames: ['check'],
      registers: [this.registry],
      collect() {
        this.reset();
        const counts = healsByCheck();
        for (const d of summary().details) this.set({ check: d.name }, counts.get(d.name) ?? 0);
      },
    });
    new Gauge({
      name: 'nightshift_escalations_24h',
      help: 'Escalations to the operator in the last 24 hours',
      registers: [this.registry],
      collect() {
        this.set(summary().escalations24h);
      },
    });
    new Gauge({
      name: 'nightshift_up',
      help: '2 OK, 1 DEGRADED, 0 DOWN',
      registers: [this.registry],
      collect() {
        const state = summary().state;
        this.set(state === 'OK' ? 2 : state === 'DEGRADED' ? 1 : 0);
      },
    });
  }

  /** The Prometheus text of every metric. */
  async render(): Promise<string> {
    try {
      return await this.registry.metrics();
    } finally {
      this.current = undefined;
    }
  }

  countRun(check: string, ok: boolean): void {
    this.runs.inc({ check, result: ok ? 'ok' : 'failed' });
  }

  /** A check a reload removed: its run counters go (a series that never moves again would read as a live check). */
  forgetCheck(check: string): void {
    this.runs.remove({ check, result: 'ok' });
    this.runs.remove({ check, result: 'failed' });
  }
}
