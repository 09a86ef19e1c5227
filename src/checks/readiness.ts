import { connect } from 'node:net';
import { z } from 'zod';
import { maskUrlSecrets } from '../log/redact.js';
import { sleep, within } from '../util/abort.js';
import { formatDuration, timerDuration } from '../util/duration.js';
import { describeNetworkError, isHttpUrl } from '../util/network.js';
import { TELLING_LINE_CHARS, tellingLine } from '../util/telling-line.js';
import { clipAtWord } from '../util/text.js';

/**
 * When a freshly (re)started service counts as started: once it stayed up
 * its start grace, or as soon as its readiness probe answers while it is
 * still up, whichever comes first. Shared by the process, pm2 and systemd
 * kinds, so a restart that dies in its first second is a failed heal and a
 * run inside the grace waits for the truth: a service that did not start is
 * never reported as recovered.
 */

/** `startGrace`: how long a freshly started service must stay up to count as started. */
export const startGraceParam = timerDuration.default(1000);

const portReadiness = z.strictObject({
  /** TCP port that accepts a connection once the service is ready. */
  port: z.number().int().min(1).max(65535),
  /** Where the port is probed: the loopback address unless the operator names another host. */
  host: z.string().min(1).default('127.0.0.1'),
});

const httpReadiness = z.strictObject({
  /** URL that answers 2xx once the service is ready; redirects are not followed (a probe goes nowhere else). */
  http: z
    .string()
    .refine(isHttpUrl, 'expected an http:// or https:// URL such as http://127.0.0.1:8080/health')
    .refine((url) => !hasUserinfo(url), 'a readiness URL cannot carry credentials (user:pass@)'),
});

/** `ready`: `{ port, host? }` or `{ http }`; absent, the start grace alone decides. */
export const readyParam = z
  .union([portReadiness, httpReadiness], { error: 'expected { port: 8080 } (host optional) or { http: "http://127.0.0.1:8080/health" }' })
  .optional();

export type Readiness = z.output<typeof portReadiness> | z.output<typeof httpReadiness>;

/** Each readiness probe gives up after this long: a hanging port must not hold up the grace. */
const READY_PROBE_TIMEOUT_MS = 1000;

/** What one readiness probe found. */
export type ReadinessAnswer = { ready: true } | { ready: false; why: string };

/** One bounded probe: the port accepts a connection, or the URL answers 2xx (without following a redirect). */
export async function probeReadiness(ready: Readiness, signal?: AbortSignal, timeoutMs = READY_PROBE_TIMEOUT_MS): Promise<ReadinessAnswer> {
  const bounded = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  return 'port' in ready ? probePort(ready.host, ready.port, bounded) : probeHttp(ready.http, bounded);
}

function probePort(host: string, port: number, signal: AbortSignal): Promise<ReadinessAnswer> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ ready: false, why: 'aborted' });
    const socket = connect({ host, port });
    const finish = (answer: ReadinessAnswer) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(answer);
    };
    const onAbort = () => finish({ ready: false, why: `no connection to ${host}:${port} in time` });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ ready: true }));
    // `on`, not `once`: an error after the answer must still have a listener, or it would crash the bot.
    socket.on('error', (err) => finish({ ready: false, why: describeNetworkError(err).message }));
  });
}

async function probeHttp(url: string, signal: AbortSignal): Promise<ReadinessAnswer> {
  try {
    const response = await fetch(url, { redirect: 'manual', signal });
    // The body is not needed; cancelling it frees the connection at once.
    await response.body?.cancel().catch(() => undefined);
    return response.status >= 200 && response.status <= 299 ? { ready: true } : { ready: false, why: `HTTP ${response.status}` };
  } catch (err) {
    return { ready: false, why: signal.aborted ? 'no answer in time' : describeNetworkError(err).message };
  }
}

/** What a start-up watch found. */
export type StartupVerdict<Gone> =
  /** Stayed up its whole grace, or its readiness answered first while it was up. */
  | { state: 'started'; via: 'grace' | 'ready'; upMs: number }
  /** No longer the same running service before it counted as started; `gone` says what became of it. */
  | { state: 'gone'; gone: Gone; upMs: number }
  /** The caller's signal fired first: nothing is known yet. */
  | { state: 'starting'; upMs: number };

export interface StartupWatch<Gone> {
  graceMs: number;
  /** The readiness probe, when declared (and worth trusting: see the process kind). */
  ready?: Readiness | undefined;
  /** How long the service had already been up when the watch began. */
  upForMs: number;
  /** Undefined while the same service is still up; what became of it once it is not. */
  stillUp: () => Gone | undefined | Promise<Gone | undefined>;
  /** Time between two looks (stillUp, then the readiness probe). */
  pollMs: number;
  /** Settles when the service is known to have ended (a child's exit event): the wait between looks ends at once. */
  wake?: Promise<unknown>;
  signal: AbortSignal;
}

/**
 * Watches a freshly started service until it counts as started, is gone, or
 * `signal` fires. Time is measured on the monotonic clock: a grace is a real
 * wait for a real process, whatever the injected clock says. Never rejects
 * unless `stillUp` does.
 */
export async function watchStartup<Gone>(watch: StartupWatch<Gone>): Promise<StartupVerdict<Gone>> {
  const origin = performance.now() - watch.upForMs;
  const upMs = () => Math.round(performance.now() - origin);
  for (;;) {
    const gone = await watch.stillUp();
    if (gone !== undefined) return { state: 'gone', gone, upMs: upMs() };
    if (upMs() >= watch.graceMs) return { state: 'started', via: 'grace', upMs: upMs() };
    if (watch.signal.aborted) return { state: 'starting', upMs: upMs() };
    if (watch.ready) {
      const left = watch.graceMs - upMs();
      const answer = await probeReadiness(watch.ready, watch.signal, Math.min(READY_PROBE_TIMEOUT_MS, Math.max(50, left)));
      if (answer.ready) {
        // The answer only counts for this service if it is still the one that is up.
        const goneMeanwhile = await watch.stillUp();
        if (goneMeanwhile !== undefined) return { state: 'gone', gone: goneMeanwhile, upMs: upMs() };
        return { state: 'started', via: 'ready', upMs: upMs() };
      }
    }
    const wait = Math.max(1, Math.min(watch.pollMs, watch.graceMs - upMs()));
    if (watch.wake) await within(watch.wake, wait, watch.signal);
    else await sleep(wait, watch.signal);
  }
}

/** Where readiness is probed, as a result says it: "on :8080", "on db.local:5432", "at http://127.0.0.1:8080/health". */
export function describeReadiness(ready: Readiness): string {
  if ('port' in ready) return `on ${ready.host === '127.0.0.1' || ready.host === 'localhost' ? '' : ready.host}:${ready.port}`;
  const url = new URL(ready.http);
  maskUrlSecrets(url, '***', 'drop');
  return `at ${url.toString()}`;
}

/** How a service that counted as started is described: "up 1s", "ready on :8080". */
export function describeStarted(verdict: { via: 'grace' | 'ready'; upMs: number }, ready: Readiness | undefined): string {
  return verdict.via === 'ready' && ready ? `ready ${describeReadiness(ready)}` : `up ${formatDuration(verdict.upMs)}`;
}

/** "still starting (up 4s of a 10s start grace)": whole seconds rounded down, so it never claims the whole grace. */
export function describeStillStarting(upMs: number, graceMs: number): string {
  const shown = upMs >= 1000 ? Math.floor(upMs / 1000) * 1000 : upMs;
  return `still starting (up ${formatDuration(shown)} of a ${formatDuration(graceMs)} start grace)`;
}

/** "inside its 1s start grace". */
export function insideGrace(graceMs: number): string {
  return `inside its ${formatDuration(graceMs)} start grace`;
}

/** The keys every result of a kind with a start grace carries. */
export function graceDetails(graceMs: number, ready: Readiness | undefined): { startGraceMs: number; ready?: 'port' | 'http' } {
  return ready ? { startGraceMs: graceMs, ready: 'port' in ready ? 'port' : 'http' } : { startGraceMs: graceMs };
}

/**
 * The line of a dying service's stderr that best says why (see
 * util/telling-line.ts: a FATAL or panic line, a traceback's exception,
 * an error line), else its last line; clipped. Empty when there is no output.
 */
export function mostTellingLine(stderr: string): string {
  const telling = tellingLine({ stderr });
  if (telling) return telling.line;
  const last = stderr
    .split('\n')
    .map((line) => line.trim())
    .findLast((line) => line !== '');
  return clipAtWord(last ?? '', TELLING_LINE_CHARS);
}

function hasUserinfo(value: string): boolean {
  try {
    const url = new URL(value);
    return url.username !== '' || url.password !== '';
  } catch {
    // Not a URL: the scheme check reports it.
    return false;
  }
}
