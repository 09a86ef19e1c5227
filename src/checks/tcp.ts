import { connect } from 'node:net';
import { z } from 'zod';
import { describeNetworkError } from '../util/network.js';
import type { CheckKind, CheckResult } from './types.js';

const params = z.strictObject({
  /** Host name or address to connect to. */
  host: z.string().min(1).default('127.0.0.1'),
  /** TCP port that must accept a connection. */
  port: z.number().int().min(1).max(65535),
});

/** A port accepts TCP connections: the connection is opened, then closed at once without sending anything. */
export const tcpCheck: CheckKind<z.output<typeof params>> = {
  kind: 'tcp',
  description: 'a TCP port accepts connections',
  params,
  create(p) {
    return {
      run: (ctx) => probeTcp(p.host, p.port, ctx.signal),
    };
  },
};

function probeTcp(host: string, port: number, signal: AbortSignal): Promise<CheckResult> {
  const target = `${host}:${port}`;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, message: `aborted before connecting to ${target}`, details: { host, port, latencyMs: 0, errorCode: 'ABORTED' } });
      return;
    }
    const socket = connect({ host, port });
    let settled = false;
    const finish = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => {
      const latencyMs = elapsed();
      finish({ ok: false, message: `no connection to ${target} after ${latencyMs} ms (aborted)`, details: { host, port, latencyMs, errorCode: 'ABORTED' } });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      const latencyMs = elapsed();
      finish({ ok: true, message: `${target} accepted a connection in ${latencyMs} ms`, details: { host, port, latencyMs } });
    });
    // `on`, not `once`: an error after the result is settled must still have a listener, or it would crash the bot.
    socket.on('error', (err) => {
      const { message, code } = describeNetworkError(err);
      finish({ ok: false, message, details: { host, port, latencyMs: elapsed(), errorCode: code } });
    });
  });
}
