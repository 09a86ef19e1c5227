import { readdirSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CheckKindName } from '../../checks/index.js';
import { ollamaEndpoint } from '../../checks/ollama.js';
import type { CheckConfig } from '../../checks/types.js';
import { errorMessage } from '../../errors.js';
import { forKind, paramsOf, readyEndpointOf, urlEndpoint } from './facts.js';
import { commandLine } from './proc-files.js';
import { parseListeningSockets } from '../../util/proc-net.js';
import type { GatherTool, Look, LookContext, LookResult } from './types.js';

/** Ports of one check looked at, at most. */
const MAX_PORTS = 4;
/** Owners named per port; forked workers sharing one socket can be many. */
const MAX_OWNERS = 4;
/** The owner search runs this long at most without letting other work run. */
const SLICE_MS = 5;

/** A port a check names and the host it names it on (undefined: this machine, as a child's PORT means). */
interface Endpoint {
  host?: string;
  port: number;
}

/**
 * Who listens on the TCP ports the check names (an HTTP or Ollama URL's
 * port, a tcp check's port, `ready.port`, a supervised child's PORT): from
 * /proc/net/tcp and tcp6, the owner found through /proc/<pid>/fd. What
 * explains EADDRINUSE, and a service that is up but listening elsewhere.
 * Ports of other machines are not looked at: only this machine's table is here.
 */
export const portsTool: GatherTool = {
  name: 'ports',
  plan: ({ check }) => portsOf(check).map((port): Look => ({ target: `port ${port}`, run: (ctx) => lookAtPort(port, ctx) })),
};

const endpointFinders: Partial<Record<CheckKindName, (check: CheckConfig) => Endpoint[]>> = {
  http: (check) => urlEndpoints(paramsOf(check, 'http')?.url),
  ollama: (check) => {
    const p = paramsOf(check, 'ollama');
    return p ? urlEndpoints(ollamaEndpoint(p.host).baseUrl) : [];
  },
  tcp: (check) => {
    const p = paramsOf(check, 'tcp');
    return p ? [{ host: p.host, port: p.port }] : [];
  },
  process: (check) => {
    const port = paramsOf(check, 'process')?.env?.PORT?.trim();
    return port && /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535 ? [{ port: Number(port) }] : [];
  },
};

function portsOf(check: CheckConfig): number[] {
  const ready = readyEndpointOf(check);
  const endpoints = [...(forKind(endpointFinders, check.kind)?.(check) ?? []), ...(ready ? [ready] : [])];
  const local = endpoints.filter((e) => e.host === undefined || isThisMachine(e.host)).map((e) => e.port);
  return [...new Set(local)].slice(0, MAX_PORTS);
}

function urlEndpoints(url: string | undefined): Endpoint[] {
  const endpoint = url === undefined ? undefined : urlEndpoint(url);
  return endpoint ? [endpoint] : [];
}

/** Loopback, the wildcard, this machine's name or one of its interfaces' addresses. No name is resolved: that would be a network call. */
function isThisMachine(host: string): boolean {
  const name = host.toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost') || name === hostname().toLowerCase()) return true;
  if (isIP(name) === 4 && (name.startsWith('127.') || name === '0.0.0.0')) return true;
  if (name === '::1' || name === '::') return true;
  return Object.values(networkInterfaces()).some((addresses) => addresses?.some((a) => a.address.toLowerCase() === name));
}

/** A listening socket from /proc/net/tcp{,6}. */
interface ListeningSocket {
  inode: string;
  address: string;
  uid: number;
}

async function lookAtPort(port: number, ctx: LookContext): Promise<LookResult> {
  const sockets = await listeningSockets(port, ctx.signal);
  if (sockets === undefined) return { ok: false, text: 'cannot read /proc/net/tcp (no /proc on this system?)' };
  if (sockets.length === 0) return { ok: true, text: `port ${port}: nothing listens` };
  const search = await findOwners(new Set(sockets.map((s) => s.inode)), ctx);
  const addresses = [...new Set(sockets.map((s) => s.address))].join(' and ');
  const owners = await describeOwners(search.owners, ctx);
  if (search.more > 0) owners.push(`${search.more} more`);
  const lines = [`port ${port}: listened on by ${owners.length > 0 ? owners.join(', ') : unseenOwner(sockets)}, on ${addresses}`];
  if (!search.complete) lines.push(`(the search for its owner stopped after ${search.scanned} of ${search.total} processes: out of time)`);
  else if (owners.length === 0 && search.unreadable > 0)
    lines.push(`(${search.unreadable} processes' descriptors could not be read by this user; run as that uid or root to see the owner)`);
  return { ok: true, text: lines.join('\n') };
}

/** The listening sockets on a port, IPv4 and IPv6; undefined when neither table can be read. */
async function listeningSockets(port: number, signal: AbortSignal): Promise<ListeningSocket[] | undefined> {
  const found: ListeningSocket[] = [];
  let tablesRead = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, { encoding: 'utf8', signal });
    } catch (err) {
      // A kernel without IPv6 has no tcp6: the other table still tells.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    tablesRead++;
    for (const row of parseListeningSockets(text, table.endsWith('6') ? 6 : 4))
      if (row.port === port) found.push({ inode: String(row.inode), address: row.address, uid: row.uid });
  }
  return tablesRead > 0 ? found : undefined;
}

interface OwnerSearch {
  owners: Set<number>;
  /** Owners found beyond MAX_OWNERS. */
  more: number;
  scanned: number;
  total: number;
  unreadable: number;
  complete: boolean;
}

/**
 * The processes holding these socket inodes, from their /proc/<pid>/fd
 * links. Read synchronously (a readlink of /proc takes microseconds) in
 * slices of SLICE_MS, and stopped with time to spare before the look's own
 * deadline, so a machine with thousands of processes yields a partial answer
 * rather than none. Processes whose descriptors this user cannot read are counted.
 */
async function findOwners(inodes: Set<string>, ctx: LookContext): Promise<OwnerSearch> {
  const links = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  const stopAt = ctx.deadline - Math.min(200, Math.max(0, ctx.deadline - performance.now()) / 4);
  const search: OwnerSearch = { owners: new Set(), more: 0, scanned: 0, total: pids.length, unreadable: 0, complete: true };
  let sliceStart = performance.now();
  for (const pid of pids) {
    if (performance.now() - sliceStart > SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
    if (ctx.signal.aborted || performance.now() > stopAt) {
      search.complete = false;
      break;
    }
    search.scanned++;
    const holds = holdsAny(pid, links);
    if (holds === undefined) search.unreadable++;
    else if (holds && search.owners.size < MAX_OWNERS) search.owners.add(Number(pid));
    else if (holds) search.more++;
  }
  return search;
}

/** Whether the process holds one of these links; undefined when its descriptors cannot be read (another user's, gone). */
function holdsAny(pid: string, links: Set<string>): boolean | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  return fds.some((fd) => {
    try {
      return links.has(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Closed while we looked.
      return false;
    }
  });
}

/** "pid 4242 (postgres -D /old/data)", with "Nightshift itself" when the owner is this very process. */
async function describeOwners(owners: Set<number>, ctx: LookContext): Promise<string[]> {
  return Promise.all(
    [...owners].map(async (pid) => {
      let command: string;
      try {
        command = await commandLine(pid, ctx.redact);
      } catch (err) {
        command = `command unreadable: ${errorMessage(err)}`;
      }
      return `pid ${pid} (${command})${pid === process.pid ? ' — Nightshift itself' : ''}`;
    }),
  );
}

function unseenOwner(sockets: ListeningSocket[]): string {
  const uids = [...new Set(sockets.map((s) => s.uid))].join(', ');
  return `a process of uid ${uids} (socket inode ${sockets[0]?.inode ?? '?'})`;
}
