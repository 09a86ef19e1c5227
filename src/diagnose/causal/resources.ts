/**
 * The host resources a check's configuration names: the endpoints it talks
 * to (host:port) and the folders it works in. Checks that fail together and
 * all use one of them point at it ("all use 127.0.0.1:5432"), which is worth
 * more to the operator than the bare coincidence.
 */
import { dirname } from 'node:path';

/** What a configured check uses, read from its params as written (unknown shapes are ignored). */
export function resourcesOf(kind: string, params: Record<string, unknown> | undefined): string[] {
  if (!params) return [];
  const found = new Set<string>();
  for (const key of ['url', 'host'] as const) {
    const value = params[key];
    if (typeof value !== 'string') continue;
    const endpoint = endpointOf(value, params.port);
    if (endpoint) found.add(endpoint);
  }
  const ready = params.ready as { port?: unknown; host?: unknown } | undefined;
  if (ready && typeof ready.port === 'number') found.add(`${typeof ready.host === 'string' ? ready.host : '127.0.0.1'}:${ready.port}`);
  if (typeof params.cwd === 'string') found.add(params.cwd);
  // A disk check's path is the file system itself; a file, log or lock file lives in its folder.
  if (typeof params.path === 'string') found.add(kind === 'disk' ? params.path : dirname(params.path));
  return [...found];
}

/** "127.0.0.1:5432" from a URL or a bare host with a port; null when there is no port to name. */
function endpointOf(value: string, port: unknown): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      const implied = url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '';
      const p = url.port || implied;
      return p ? `${url.hostname}:${p}` : url.hostname;
    } catch {
      return null;
    }
  }
  return typeof port === 'number' ? `${value}:${port}` : null;
}

/** The resource every member uses (the first in the first member's order), or null. */
export function sharedResource(members: ReadonlyArray<readonly string[]>): string | null {
  const [first, ...rest] = members;
  if (!first || rest.length === 0) return null;
  return first.find((r) => rest.every((m) => m.includes(r))) ?? null;
}
