import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseListeningSockets } from '../util/proc-net.js';

/** A listening TCP socket and, when this user may see it, the process that holds it. */
export interface Listener {
  /** The bound address as written in a URL host ("127.0.0.1", "0.0.0.0", "::", "::1"). */
  address: string;
  port: number;
  family: 4 | 6;
  inode: number;
  /** Owning process; undefined when no readable /proc/<pid>/fd holds the socket (another user's process). */
  pid?: number;
}

/** What /proc tells about one process. */
export interface ProcessInfo {
  pid: number;
  comm: string;
  argv: string[];
  ppid: number | undefined;
  /** The systemd unit whose cgroup holds it ("api.service"), if any. */
  unit: string | undefined;
}

/**
 * The machine as /proc shows it: listening sockets with their processes,
 * and each process's name, arguments, parent, unit and environment. Read
 * once per run (listeners are cached); nothing here throws for a process
 * that vanished or is not readable.
 */
export class Machine {
  private listenersCache: Listener[] | undefined;
  /** Set when /proc/net could not be read at all. */
  problem: string | undefined;

  constructor(readonly procRoot = '/proc') {}

  /** Every listening TCP socket (IPv4 and IPv6), each with its owner where it can be seen. */
  listeners(): Listener[] {
    if (this.listenersCache) return this.listenersCache;
    const found: Listener[] = [];
    const problems: string[] = [];
    for (const [file, family] of [
      ['tcp', 4],
      ['tcp6', 6],
    ] as const) {
      let text: string;
      try {
        text = readFileSync(join(this.procRoot, 'net', file), 'utf8');
      } catch (err) {
        problems.push(`${join(this.procRoot, 'net', file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        continue;
      }
      found.push(...parseListeningSockets(text, family).map(({ uid: _, ...listener }) => listener));
    }
    if (problems.length === 2) this.problem = `cannot read ${problems.join(', ')}`;
    const owners = this.socketOwners(new Set(found.map((l) => l.inode)));
    for (const listener of found) {
      const pid = owners.get(listener.inode);
      if (pid !== undefined) listener.pid = pid;
    }
    this.listenersCache = found;
    return found;
  }

  /** socket inode -> pid, from the `socket:[inode]` links in every readable /proc/<pid>/fd. */
  private socketOwners(wanted: Set<number>): Map<number, number> {
    const owners = new Map<number, number>();
    if (wanted.size === 0) return owners;
    for (const pid of this.pids()) {
      let fds: string[];
      try {
        fds = readdirSync(join(this.procRoot, String(pid), 'fd'));
      } catch {
        continue; // another user's process, or gone
      }
      for (const fd of fds) {
        let target: string;
        try {
          target = readlinkSync(join(this.procRoot, String(pid), 'fd', fd));
        } catch {
          continue;
        }
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (!match) continue;
        const inode = Number(match[1]);
        // The lowest pid wins: a forked worker shares its parent's socket.
        if (wanted.has(inode) && !owners.has(inode)) owners.set(inode, pid);
      }
      if (owners.size === wanted.size) break;
    }
    return owners;
  }

  private pids(): number[] {
    try {
      return readdirSync(this.procRoot)
        .filter((name) => /^\d+$/.test(name))
        .map(Number)
        .sort((a, b) => a - b);
    } catch {
      return [];
    }
  }

  /** Name, arguments, parent and unit of a process; undefined when it is gone. */
  process(pid: number): ProcessInfo | undefined {
    const dir = join(this.procRoot, String(pid));
    let stat: string;
    try {
      stat = readFileSync(join(dir, 'stat'), 'utf8');
    } catch {
      return undefined;
    }
    // comm may hold spaces and parentheses: the fields after it start after the last ")".
    const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(afterComm[1]);
    return {
      pid,
      comm: readText(join(dir, 'comm'))?.trim() ?? stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      argv: (readText(join(dir, 'cmdline')) ?? '').split('\0').filter((arg) => arg !== ''),
      ppid: Number.isInteger(ppid) && ppid > 0 ? ppid : undefined,
      unit: unitOfCgroup(readText(join(dir, 'cgroup')) ?? ''),
    };
  }

  /** The process and its ancestors, nearest first (at most 64). */
  lineage(pid: number): ProcessInfo[] {
    const chain: ProcessInfo[] = [];
    for (let current: number | undefined = pid; current !== undefined && current > 1 && chain.length < 64;) {
      const info = this.process(current);
      if (!info) break;
      chain.push(info);
      current = info.ppid;
    }
    return chain;
  }

  /** The process's environment (NAME -> value), for guesses only: values never leave this run. Empty when unreadable. */
  environment(pid: number): Map<string, string> {
    const text = readText(join(this.procRoot, String(pid), 'environ')) ?? '';
    const env = new Map<string, string>();
    for (const entry of text.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return env;
  }

  /** The process's working directory, when readable. */
  cwd(pid: number): string | undefined {
    try {
      return readlinkSync(join(this.procRoot, String(pid), 'cwd'));
    } catch {
      return undefined;
    }
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The innermost "*.service" in a /proc/<pid>/cgroup ("0::/system.slice/api.service" -> "api.service"). */
export function unitOfCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    const services = path.split('/').filter((part) => part.endsWith('.service') && !/^user@\d+\.service$/.test(part));
    if (services.length > 0) return services[services.length - 1];
  }
  return undefined;
}
