import { parseListen } from '../../config/load.js';
import { probeHttp } from '../http-probe.js';
import type { Listener, ProcessInfo } from '../machine.js';
import type { FoundThing, Source, SourceContext } from '../types.js';

/** Daemons of the operating system, not of the stack: their ports are not proposed. */
const SYSTEM_DAEMONS = new Set([
  'sshd',
  'systemd',
  'systemd-resolve',
  'systemd-resolved',
  'systemd-network',
  'systemd-networkd',
  'systemd-timesyn',
  'init',
  'cupsd',
  'cups-browsed',
  'avahi-daemon',
  'chronyd',
  'ntpd',
  'dnsmasq',
  'rpcbind',
  'rpc.statd',
  'rpc.mountd',
  'exim4',
  'master',
  'sendmail',
  'smbd',
  'nmbd',
  'containerd',
  'dockerd',
  'tailscaled',
  'NetworkManager',
  'xrdp',
  'xrdp-sesman',
  'colord',
  'dhclient',
  'kdeconnectd',
]);
/** Ports of system services, skipped when their owner is not visible (another user's process). */
const SYSTEM_PORTS = new Set([22, 25, 53, 111, 139, 445, 631, 5353]);
/** Servers known not to speak HTTP: they get a tcp check without being sent a GET. */
const NOT_HTTP = new Set(['postgres', 'redis-server', 'mysqld', 'mariadbd', 'mongod', 'memcached', 'rabbitmq-server', 'beam.smp', 'epmd', 'nats-server']);

interface Port {
  port: number;
  listener: Listener;
  process: ProcessInfo | undefined;
  owner: FoundThing | undefined;
}

/**
 * Listening TCP ports (/proc/net/tcp and tcp6) and the processes that hold
 * them. A port owned by a pm2 app, a unit or a container becomes that
 * thing's readiness check (`<name>-http` or `<name>-port`, depending on it);
 * one that answers `GET /` with any HTTP status gets an `http` check, any
 * other a `tcp` check. Nightshift's own port, Ollama's (the ollama source
 * has it) and the system's daemons are left out.
 */
export const portsSource: Source = {
  id: 'ports',
  noun: ['listening port', 'listening ports'],
  async look(ctx) {
    const listeners = ctx.machine.listeners();
    if (ctx.machine.problem) return { things: [], problem: `ports: ${ctx.machine.problem}` };
    const ownPort = parseListen(ctx.env.NIGHTSHIFT_HTTP || '127.0.0.1:8787')?.port;
    const ollama = ctx.earlier.find((thing) => thing.ollamaPort !== undefined);

    const ports = new Map<number, Port>();
    // IPv4 first: a service on both 0.0.0.0 and :: is one port, probed over IPv4.
    for (const listener of [...listeners].sort((a, b) => a.port - b.port || a.family - b.family)) {
      if (listener.port === ownPort || ports.has(listener.port)) continue;
      const lineage = listener.pid === undefined ? [] : ctx.machine.lineage(listener.pid);
      ports.set(listener.port, { port: listener.port, listener, process: lineage[0], owner: ownerOf(ctx, listener, lineage) });
    }

    const kept: Port[] = [];
    for (const port of ports.values()) {
      if (ollama && port.port === ollama.ollamaPort) {
        // Ollama's own port is its check; whoever runs the server is what that check needs.
        if (port.owner && port.owner !== ollama && !ollama.check.dependsOn.some((d) => d.name === port.owner!.check.name)) {
          ollama.check.dependsOn.push({ name: port.owner.check.name });
          ollama.check.notes.push(`${port.owner.check.name} runs the server (it holds port ${port.port})`);
        }
        continue;
      }
      const comm = port.process?.comm;
      if (!port.owner && comm !== undefined && (SYSTEM_DAEMONS.has(comm) || comm === 'docker-proxy')) continue;
      if (!port.owner && comm === undefined && SYSTEM_PORTS.has(port.port)) continue;
      kept.push(port);
    }

    const probed = await Promise.all(
      kept.map(async (port) => {
        const host = probeHost(port.listener.address);
        const status = port.process && NOT_HTTP.has(port.process.comm) ? undefined : await probeHttp(host, port.port);
        return { ...port, host, status };
      }),
    );

    const perOwner = new Map<FoundThing, number>();
    for (const port of probed) if (port.owner) perOwner.set(port.owner, (perOwner.get(port.owner) ?? 0) + 1);

    const things: FoundThing[] = [];
    for (const port of probed) {
      const owner = port.owner;
      const comm = port.process?.comm;
      const http = port.status !== undefined;
      const suffix = http ? 'http' : 'port';
      const several = owner !== undefined && (perOwner.get(owner) ?? 0) > 1;
      const candidates = owner
        ? [several ? `${owner.check.name}-${suffix}-${port.port}` : `${owner.check.name}-${suffix}`]
        : [comm ? `${comm}-${port.port}` : `port-${port.port}`, `port-${port.port}`];
      const name = ctx.names.claim(candidates, `port-${port.port}`);
      const where = `${urlHost(port.listener.address)}:${port.port}`;
      const heldBy = owner ? owner.check.name : comm ? `${comm} (pid ${port.process!.pid})` : 'a process this user cannot see';
      const notes = [`${heldBy} listens on ${where}${http ? ` and answered GET / with HTTP ${port.status}` : ''}`];
      const params: Record<string, unknown> = {};
      if (http) {
        params.url = `http://${urlHost(port.host)}:${port.port}/`;
        if (port.status! < 200 || port.status! > 399) {
          params.expectStatus = port.status;
          notes.push(`expectStatus: what / answers now; better point url at a health route and drop it`);
        }
      } else {
        if (port.host !== '127.0.0.1') params.host = port.host;
        params.port = port.port;
      }
      if (owner) {
        owner.ports.push(port.port);
        const ownerParams = owner.check.params;
        if ((owner.check.kind === 'pm2' || owner.check.kind === 'systemd') && ownerParams.ready === undefined && port.host === '127.0.0.1') {
          ownerParams.ready = { port: port.port };
        }
      }
      things.push({
        label: `${port.port} (${owner ? owner.check.name : (comm ?? 'unknown owner')})`,
        check: {
          name,
          kind: http ? 'http' : 'tcp',
          notes,
          params,
          heal: [],
          dependsOn: owner ? [{ name: owner.check.name }] : [],
        },
        pids: port.process ? [port.process.pid] : [],
        logs: [],
        ports: [port.port],
      });
    }
    return { things };
  },
};

/** The thing (pm2 app, unit, container) whose process, or an ancestor of it, holds the socket. */
function ownerOf(ctx: SourceContext, listener: Listener, lineage: ProcessInfo[]): FoundThing | undefined {
  for (const info of lineage) {
    const byPid = ctx.earlier.find((thing) => thing.pids.includes(info.pid));
    if (byPid) return byPid;
  }
  const unit = lineage.find((info) => info.unit !== undefined)?.unit;
  if (unit) {
    const byUnit = ctx.earlier.find((thing) => thing.unit === unit);
    if (byUnit) return byUnit;
  }
  if (lineage.length === 0 || lineage[0]!.comm === 'docker-proxy') {
    return ctx.earlier.find((thing) => thing.publishedPorts?.includes(listener.port));
  }
  return undefined;
}

/** Where to connect to reach a socket bound to `address`: loopback for the wildcard addresses. */
function probeHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
