/** What a check's configuration and its last run name for the tools to look at, read without casts. */
import { z } from 'zod';
import { checkKinds, type CheckKindName } from '../../checks/index.js';
import type { CheckConfig, CheckKind } from '../../checks/types.js';

type ParamsOf<K extends CheckKindName> = (typeof checkKinds)[K] extends CheckKind<infer P> ? P : never;

/**
 * The check's params read by its own kind's schema (defaults filled in, as
 * the probe sees them), or undefined when the check is of another kind or its
 * params no longer parse (a config written for an older version).
 */
export function paramsOf<K extends CheckKindName>(check: CheckConfig, kind: K): ParamsOf<K> | undefined {
  if (check.kind !== kind) return undefined;
  const schema: z.ZodType<ParamsOf<K>, Record<string, unknown>> = (checkKinds[kind] as CheckKind<ParamsOf<K>>).params;
  const parsed = schema.safeParse(check.params);
  return parsed.success ? parsed.data : undefined;
}

/**
 * `ready` as the process, pm2 and systemd kinds declare it (src/checks/readiness.ts): `{ port, host? }` or
 * `{ http }`. Read loosely, so a kind that adds it (or a shape that grows a key) needs nothing here.
 */
const readyParam = z.object({
  ready: z.union([z.object({ port: z.number().int().min(1).max(65535), host: z.string().min(1).optional() }), z.object({ http: z.string().min(1) })]),
});

/** The host (loopback unless named) and port of the check's readiness probe, or undefined when it has none. */
export function readyEndpointOf(check: CheckConfig): { host: string; port: number } | undefined {
  const parsed = readyParam.safeParse(check.params);
  if (!parsed.success) return undefined;
  const { ready } = parsed.data;
  if ('port' in ready) return { host: ready.host ?? '127.0.0.1', port: ready.port };
  return urlEndpoint(ready.http);
}

/** An http(s) URL's host (IPv6 without brackets) and port, the scheme's default when none is written. */
export function urlEndpoint(url: string): { host: string; port: number } | undefined {
  try {
    const parsed = new URL(url);
    const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
    return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port };
  } catch {
    // The config validated it; a URL that no longer parses names no port.
    return undefined;
  }
}

/** A non-empty string field of the last details. */
export function detailString(details: Record<string, unknown> | null, key: string): string | undefined {
  const value = details?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Largest pid Linux hands out is 2^22; anything else is not a process. */
const MAX_PID = 2 ** 22;

function isPid(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_PID;
}

/** How many pids of one check are looked at (a pm2 cluster lists one per instance). */
const MAX_PIDS = 4;

/**
 * The pids the last run named: `pid` (process, pm2, systemd's MainPID,
 * a lock file's owner), `mainPid`/`MainPID` as systemd spells it, and a pm2
 * cluster's `pids`. MainPID 0 (no main process) names none.
 */
export function detailPids(details: Record<string, unknown> | null): number[] {
  if (!details) return [];
  const listed: unknown[] = Array.isArray(details.pids) ? details.pids : [];
  const candidates: unknown[] = [details.pid, details.mainPid, details.MainPID, ...listed];
  return [...new Set(candidates.filter(isPid))].slice(0, MAX_PIDS);
}

/** The entry of a per-kind table for a check's kind (a renamed or unknown kind has none). */
export function forKind<T>(table: Readonly<Partial<Record<CheckKindName, T>>>, kind: string): T | undefined {
  const byName: Readonly<Record<string, T | undefined>> = table;
  return Object.hasOwn(byName, kind) ? byName[kind] : undefined;
}
