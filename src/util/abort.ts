/**
 * Waiting that ends early. The one sleep and the one timeout race of the
 * code base: both always clear their timer and never reject, so a caller
 * that stops waiting leaves nothing behind.
 */

/** Resolves true after `ms`, or false as soon as `signal` aborts (at once when it already has). Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const finish = (elapsed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(elapsed);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What `within` gives back when the time ran out (or the signal aborted) first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Settles as `promise` does, or with TIMED_OUT after `ms` or when `signal`
 * aborts, whichever comes first. The promise itself is not cancelled: its
 * owner decides what a late result means.
 */
export async function within<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | typeof TIMED_OUT> {
  const stopWaiting = new AbortController();
  const bound = signal ? AbortSignal.any([signal, stopWaiting.signal]) : stopWaiting.signal;
  try {
    return await Promise.race([promise, sleep(ms, bound).then((): typeof TIMED_OUT => TIMED_OUT)]);
  } finally {
    stopWaiting.abort();
  }
}
