/**
 * The useful part of a socket-level error: "connect ECONNREFUSED 127.0.0.1:5"
 * and its code. Unwraps fetch's TypeError('fetch failed', { cause }) and the
 * AggregateError Node raises when it tried several addresses of one host.
 */
export function describeNetworkError(err: unknown): { message: string; code: string | undefined } {
  let current: unknown = err;
  // fetch wraps the socket error once (sometimes twice); the depth bound keeps a cyclic cause chain finite.
  for (let depth = 0; depth < 5; depth++) {
    if (current instanceof AggregateError && current.errors.length > 0) {
      current = current.errors[0];
      continue;
    }
    if (current instanceof Error && current.message === 'fetch failed' && current.cause !== undefined) {
      current = current.cause;
      continue;
    }
    break;
  }
  if (current instanceof Error) {
    const code = (current as NodeJS.ErrnoException).code;
    return { message: current.message || code || current.name, code: typeof code === 'string' ? code : undefined };
  }
  return { message: String(current), code: undefined };
}

/** Whether a text is an http:// or https:// URL (an unparseable one is not). */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
