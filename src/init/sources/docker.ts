import { existsSync } from 'node:fs';
import { request } from 'node:http';
import type { FoundThing, Source } from '../types.js';

const DEFAULT_SOCKET = '/var/run/docker.sock';
const REQUEST_TIMEOUT_MS = 3_000;
/** A container list is small; a bound keeps a confused socket from filling memory. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** The fields of a ContainerSummary (GET /containers/json) init reads. */
interface ContainerSummary {
  Names?: unknown;
  State?: unknown;
  Image?: unknown;
  Ports?: Array<{ PublicPort?: unknown; PrivatePort?: unknown; Type?: unknown }>;
}

/** Running Docker containers, through the Engine API on the daemon's unix socket: a `docker` check with the restart heal each. */
export const dockerSource: Source = {
  id: 'docker',
  noun: ['Docker container', 'Docker containers'],
  async look(ctx) {
    const host = ctx.env.DOCKER_HOST;
    if (host && !host.startsWith('unix://')) return { things: [], problem: `docker: DOCKER_HOST is not a unix socket (only unix:// is supported)` };
    const socket = host ? host.slice('unix://'.length) : DEFAULT_SOCKET;
    if (!existsSync(socket)) return { things: [], problem: `docker: no socket at ${socket}` };
    const ping = await get(socket, '/_ping');
    if ('problem' in ping) return { things: [], problem: `docker: ${socket}: ${ping.problem}` };
    const listed = await get(socket, '/containers/json');
    if ('problem' in listed) return { things: [], problem: `docker: ${socket}: ${listed.problem}` };
    let containers: ContainerSummary[];
    try {
      const value: unknown = JSON.parse(listed.body);
      if (!Array.isArray(value)) throw new Error('not a list');
      containers = value as ContainerSummary[];
    } catch {
      return { things: [], problem: `docker: ${socket}: /containers/json did not answer a JSON list` };
    }
    const things: FoundThing[] = [];
    for (const container of containers) {
      const names = Array.isArray(container.Names) ? container.Names.filter((n): n is string => typeof n === 'string') : [];
      const containerName = names[0]?.replace(/^\//, '');
      if (!containerName || /nightshift/i.test(containerName) || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerName)) continue;
      const published = [...new Set((container.Ports ?? []).map((p) => p.PublicPort).filter((p): p is number => typeof p === 'number' && p > 0 && p < 65536))];
      const params: Record<string, unknown> = { container: containerName };
      if (socket !== DEFAULT_SOCKET) params.socket = socket;
      const image = typeof container.Image === 'string' ? ` (${container.Image})` : '';
      things.push({
        label: containerName,
        check: {
          name: ctx.names.claim([containerName, `${containerName}-container`], 'container'),
          kind: 'docker',
          notes: [`container ${containerName}${image}, ${typeof container.State === 'string' ? container.State : 'running'}`],
          params,
          heal: ['restart'],
          dependsOn: [],
        },
        pids: [],
        publishedPorts: published,
        logs: [],
        ports: [],
      });
    }
    return { things };
  },
};

/** One GET over the unix socket; a 2xx body, or why not. */
function get(socketPath: string, path: string): Promise<{ body: string } | { problem: string }> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path, method: 'GET', headers: { host: 'docker' }, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_BODY_BYTES) req.destroy(new Error('answer too large'));
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve({ body });
        else resolve({ problem: `GET ${path} answered ${status}` });
      });
      res.on('error', (err) => resolve({ problem: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EACCES' ? 'permission denied (add this user to the docker group)' : err.code === 'ECONNREFUSED' ? 'connection refused' : err.message;
      resolve({ problem: why });
    });
    req.end();
  });
}
