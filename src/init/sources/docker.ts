import { existsSync } from 'node:fs';
import { EngineClient, socketPathOf } from '../../checks/docker-engine.js';
import type { FoundThing, Source } from '../types.js';

const DEFAULT_SOCKET = '/var/run/docker.sock';
/** A local daemon lists its containers in milliseconds; init does not wait for a stuck one. */
const REQUEST_TIMEOUT_MS = 3_000;

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
    const socket = host ? socketPathOf(host) : DEFAULT_SOCKET;
    if (!existsSync(socket)) return { things: [], problem: `docker: no socket at ${socket}` };
    // The check's own client: the version negotiated, the answer bounded, a socket error worded with what to do.
    const answer = await new EngineClient(socket, undefined).call('GET', '/containers/json', AbortSignal.timeout(REQUEST_TIMEOUT_MS), REQUEST_TIMEOUT_MS);
    if ('failure' in answer) return { things: [], problem: `docker: ${answer.failure.message}` };
    if (answer.status !== 200) return { things: [], problem: `docker: ${socket}: GET /containers/json answered ${answer.status}` };
    let containers: ContainerSummary[];
    try {
      const value: unknown = JSON.parse(answer.body.toString('utf8'));
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
