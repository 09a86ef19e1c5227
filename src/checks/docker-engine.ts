import { request, type IncomingHttpHeaders } from 'node:http';
import { formatDuration } from '../util/duration.js';
import { formatBytes } from '../util/format.js';
import { describeNetworkError } from '../util/network.js';
import { clipAtWord } from '../util/text.js';
import type { CheckResult } from './types.js';

/**
 * The Docker Engine API over the daemon's unix socket, for the docker check
 * and `nightshift init`: one bounded request per connection, the API version
 * negotiated, every failure worded with what to do about it.
 */

/** An inspect answer of a container with many mounts, labels and networks is tens of KiB; 1 MiB is a bound, never a limit met. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** How long one inspect, ping or log read may take when the caller's own timeout is longer (it usually is not). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** "/run/user/1000/docker.sock" from "unix:///run/user/1000/docker.sock" or the path itself. */
export function socketPathOf(socket: string): string {
  return socket.startsWith('unix://') ? socket.slice('unix://'.length) : socket;
}

/** One answer of the daemon: status, headers and the whole (bounded) body. */
export interface EngineAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * HTTP over the daemon's unix socket. Without a pinned version it asks
 * /_ping (unversioned, as Docker's own client does) for the newest version
 * the daemon speaks, once, and again after the daemon could not be reached
 * or refused the version (it may have been upgraded meanwhile).
 */
export class EngineClient {
  private negotiated: string | undefined;

  constructor(
    readonly socketPath: string,
    private readonly pinnedVersion: string | undefined,
  ) {}

  /** The evidence every result carries about where it asked. */
  details(): Record<string, unknown> {
    const apiVersion = this.pinnedVersion ?? this.negotiated;
    return apiVersion ? { socket: this.socketPath, apiVersion } : { socket: this.socketPath };
  }

  /** A versioned request; a failure to get any answer is already the result to report. */
  async call(method: string, path: string, signal: AbortSignal, timeoutMs: number): Promise<EngineAnswer | { failure: CheckResult }> {
    const prefix = await this.versionPrefix(signal);
    if (typeof prefix !== 'string') return prefix;
    const answer = await this.exchange(method, `${prefix}${path}`, signal, timeoutMs);
    if ('failure' in answer) {
      this.negotiated = undefined;
      return answer;
    }
    if (answer.status === 400 && /client version .* is too (old|new)/i.test(errorText(answer.body))) this.negotiated = undefined;
    return answer;
  }

  /** A failure of an HTTP status other than the one expected, with the daemon's own message. */
  httpFailure(answer: EngineAnswer, doing: string): CheckResult {
    const text = errorText(answer.body);
    const said = text ? `: ${clipAtWord(text, 300)}` : '';
    const version = /client version .* is too (old|new)/i.test(text) ? ' (set apiVersion to one it supports, or leave it out to use the newest it offers)' : '';
    return { ok: false, message: `Docker answered HTTP ${answer.status} ${doing}${said}${version}`, details: { ...this.details(), httpStatus: answer.status } };
  }

  private async versionPrefix(signal: AbortSignal): Promise<string | { failure: CheckResult }> {
    const version = this.pinnedVersion ?? this.negotiated;
    if (version) return `/v${version}`;
    const answer = await this.exchange('GET', '/_ping', signal, REQUEST_TIMEOUT_MS);
    if ('failure' in answer) return answer;
    if (answer.status !== 200) return { failure: this.httpFailure(answer, 'to /_ping') };
    const offered = answer.headers['api-version'];
    // A daemon that names no version (none does; a proxy might strip it) gets unversioned paths: its own newest version.
    if (typeof offered !== 'string' || !/^\d+\.\d+$/.test(offered)) return '';
    this.negotiated = offered;
    return `/v${offered}`;
  }

  private async exchange(method: string, path: string, signal: AbortSignal, timeoutMs: number): Promise<EngineAnswer | { failure: CheckResult }> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await exchange(this.socketPath, method, path, AbortSignal.any([signal, timeout]));
    } catch (err) {
      const latencyMs = Math.round(performance.now() - started);
      const where = `Docker at ${this.socketPath}`;
      if (signal.aborted)
        return {
          failure: {
            ok: false,
            message: `no answer from ${where} after ${latencyMs} ms (aborted)`,
            details: { ...this.details(), latencyMs, errorCode: 'ABORTED' },
          },
        };
      if (timeout.aborted) {
        return {
          failure: {
            ok: false,
            message: `no answer from ${where} within ${formatDuration(timeoutMs)}`,
            details: { ...this.details(), latencyMs, errorCode: 'ETIMEDOUT' },
          },
        };
      }
      const { message, code } = describeNetworkError(err);
      return {
        failure: {
          ok: false,
          message: `cannot reach ${where}: ${describeSocketError(code, message)}`,
          details: { ...this.details(), latencyMs, errorCode: code },
        },
      };
    }
  }
}

/** What an operator does about a socket error: the hint names the usual cause. */
function describeSocketError(code: string | undefined, message: string): string {
  if (code === 'ENOENT') return 'no such socket (is the Docker daemon running? rootless Docker listens on $XDG_RUNTIME_DIR/docker.sock)';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (add the user running Nightshift to the docker group)';
  if (code === 'ECONNREFUSED') return 'connection refused (nothing listens on it: is the Docker daemon running?)';
  if (code === 'ENOTSOCK') return 'not a socket';
  if (code === 'EANSWERTOOBIG') return message;
  if (code === 'ECONNRESET' || message === 'socket hang up') return 'the connection closed before an answer';
  return message;
}

/** One request on a fresh connection (no pooled socket outlives it); rejects on any failure to get the whole answer. */
function exchange(socketPath: string, method: string, path: string, signal: AbortSignal): Promise<EngineAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, agent: false, signal, headers: { host: 'docker', accept: 'application/json' } });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          const error = Object.assign(new Error(`the answer was over ${formatBytes(MAX_ANSWER_BYTES)}`), { code: 'EANSWERTOOBIG' });
          reject(error);
          res.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The daemon's {"message": "..."} error body, or the text itself when it is not that shape. */
export function errorText(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // Not Docker's JSON error shape (a proxy's page): its first line is all there is.
  }
  return text.split('\n')[0] ?? '';
}
