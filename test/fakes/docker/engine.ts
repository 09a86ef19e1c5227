import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';

/**
 * A stand-in Docker daemon for tests, written from the Engine API reference:
 * an HTTP server on a unix socket answering GET|HEAD /_ping (text "OK" with
 * the Api-Version header), and under a /v1.xx prefix (or none, meaning the
 * newest) GET /containers/json (the ContainerSummary list: running ones, all
 * with ?all=true), GET /containers/{id}/json (ContainerInspectResponse),
 * POST /containers/{id}/restart?t=N (204) and GET /containers/{id}/logs
 * (the multiplexed stream, or raw for a TTY container), with the
 * documented {"message": "..."} error bodies: 404 "No such container: x",
 * 400 for an API version outside the daemon's range. Containers are held
 * in memory and steered by the test: their state, health, exit code,
 * restart count, and what a restart leads to.
 */

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** What `POST /restart` leads to. */
export type RestartOutcome =
  /** It runs again; with a healthcheck, its health turns `becomes` after `afterMs` (healthy after 100 ms by default). */
  | { runs: true; health?: { becomes: 'healthy' | 'unhealthy'; afterMs: number; output?: string } }
  /** It starts, then exits with `exitCode` after `afterMs` (at once by default), printing `stderr` first; `error` is the daemon's State.Error. */
  | { exits: number; afterMs?: number; stderr?: string[]; error?: string; oomKilled?: boolean }
  /** The daemon refuses: HTTP `status` with `message`, and nothing changes. */
  | { refuses: number; message: string };

export interface FakeContainerSpec {
  name: string;
  status?: ContainerStatus;
  exitCode?: number;
  oomKilled?: boolean;
  error?: string;
  /** How long ago the current (or last) run started / finished. */
  startedAgoMs?: number;
  finishedAgoMs?: number;
  restartCount?: number;
  /** Set: the container has a healthcheck in this state, its last results' `outputs` (all failing when unhealthy); unset: it has none. */
  health?: { status: 'starting' | 'healthy' | 'unhealthy'; failingStreak?: number; outputs?: string[] };
  tty?: boolean;
  /** Lines the container printed in its current run. */
  stderr?: string[];
  stdout?: string[];
  env?: string[];
  onRestart?: RestartOutcome;
  /** Published ports (host port -> container port), listed by GET /containers/json. */
  ports?: Array<{ publicPort: number; privatePort: number }>;
}

interface HealthEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

interface LogLine {
  stream: 1 | 2;
  at: number;
  text: string;
}

interface FakeContainer {
  id: string;
  name: string;
  created: number;
  status: ContainerStatus;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  pid: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  restartCount: number;
  health: { status: string; failingStreak: number; log: HealthEntry[] } | undefined;
  tty: boolean;
  logs: LogLine[];
  env: string[];
  onRestart: RestartOutcome;
  ports: Array<{ publicPort: number; privatePort: number }>;
}

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** The path as sent, version prefix and query included. */
  url: string;
}

export interface FakeEngineOptions {
  /** The newest API version the daemon speaks (sent as Api-Version on /_ping). */
  apiVersion?: string;
  /** The oldest it accepts; Docker 29 refuses anything before 1.44. */
  minApiVersion?: string;
}

const DOCKER_ZERO_TIME = '0001-01-01T00:00:00Z';
/** Docker keeps the last five health check results. */
const HEALTH_LOG_KEPT = 5;
let nextPid = 4000;

/** A running fake on `<dir>/docker.sock`. Call close() when done. */
export class FakeDockerEngine {
  readonly socketPath: string;
  private readonly server: Server;
  private readonly containers: FakeContainer[] = [];
  private readonly log: RecordedRequest[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The newest API version this daemon speaks (its /_ping Api-Version header). */
  readonly apiVersion: string;
  private readonly minApiVersion: string;
  private hanging = false;

  private constructor(dir: string, options: FakeEngineOptions) {
    this.socketPath = join(dir, 'docker.sock');
    this.apiVersion = options.apiVersion ?? '1.47';
    this.minApiVersion = options.minApiVersion ?? '1.24';
    this.server = createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (err) {
        // A bug in the fake must show up as a 500 in the test, not as a hung request.
        sendJson(res, 500, { message: `fake docker: ${String(err)}` });
      }
    });
  }

  static async start(dir: string, options: FakeEngineOptions = {}): Promise<FakeDockerEngine> {
    const fake = new FakeDockerEngine(dir, options);
    fake.server.listen(fake.socketPath);
    await once(fake.server, 'listening');
    return fake;
  }

  /** Adds a container (running, no healthcheck, started a minute ago unless told otherwise). */
  add(spec: FakeContainerSpec): void {
    const now = Date.now();
    const status = spec.status ?? 'running';
    const container: FakeContainer = {
      id: createHash('sha256').update(spec.name).update(randomBytes(8)).digest('hex'),
      name: spec.name,
      created: now - 3_600_000,
      status,
      exitCode: spec.exitCode ?? 0,
      oomKilled: spec.oomKilled ?? false,
      error: spec.error ?? '',
      pid: status === 'running' || status === 'paused' ? nextPid++ : 0,
      startedAt: status === 'created' ? undefined : now - (spec.startedAgoMs ?? 60_000),
      finishedAt: spec.finishedAgoMs === undefined ? undefined : now - spec.finishedAgoMs,
      restartCount: spec.restartCount ?? 0,
      health: spec.health ? { status: spec.health.status, failingStreak: spec.health.failingStreak ?? 0, log: [] } : undefined,
      tty: spec.tty ?? false,
      logs: [
        ...(spec.stdout ?? []).map((text) => ({ stream: 1 as const, at: now, text })),
        ...(spec.stderr ?? []).map((text) => ({ stream: 2 as const, at: now, text })),
      ],
      env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      onRestart: spec.onRestart ?? { runs: true },
      ports: spec.ports ?? [],
    };
    if (container.health) {
      const failing = container.health.status === 'unhealthy';
      for (const output of spec.health?.outputs ?? [failing ? 'health check failed' : 'ok']) recordHealth(container, failing ? 1 : 0, output);
      if (spec.health?.failingStreak !== undefined) container.health.failingStreak = spec.health.failingStreak;
    }
    this.containers.push(container);
  }

  /** Changes a container as Docker would show it next; e.g. a crash: { status: 'exited', exitCode: 137, oomKilled: true }. */
  update(name: string, patch: Partial<Pick<FakeContainer, 'status' | 'exitCode' | 'oomKilled' | 'error' | 'restartCount' | 'onRestart'>>): void {
    const container = this.mustFind(name);
    const wasRunning = container.status === 'running';
    Object.assign(container, patch);
    if (wasRunning && patch.status !== undefined && patch.status !== 'running') {
      container.finishedAt = Date.now();
      container.pid = 0;
    }
  }

  /** Docker's restart policy brought the container back: a new run, RestartCount + 1, health starting again. */
  policyRestart(name: string): void {
    const container = this.mustFind(name);
    container.finishedAt = Date.now();
    container.restartCount += 1;
    this.startRun(container);
  }

  /** The health check's next verdict. */
  setHealth(name: string, status: 'healthy' | 'unhealthy', output: string): void {
    const container = this.mustFind(name);
    if (!container.health) throw new Error(`fake docker: ${name} has no healthcheck`);
    recordHealth(container, status === 'healthy' ? 0 : 1, output);
    container.health.status = status;
  }

  /** From now on every request is accepted and never answered (a daemon stuck on a lock). */
  hang(on: boolean): void {
    this.hanging = on;
  }

  /** The container as the daemon holds it now. */
  container(name: string): Readonly<FakeContainer> | undefined {
    return this.containers.find((container) => container.name === name);
  }

  requests(): RecordedRequest[] {
    return [...this.log];
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (!this.server.listening) return;
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }

  private mustFind(name: string): FakeContainer {
    const container = this.container(name);
    if (!container) throw new Error(`fake docker: no container ${name}`);
    return container;
  }

  /** Docker's lookup: a whole id, a name (with or without its "/"), then a unique id prefix. */
  private resolve(ref: string): FakeContainer | undefined {
    const bare = ref.replace(/^\//, '');
    const exact = this.containers.find((container) => container.id === bare || container.name === bare);
    if (exact) return exact;
    const byPrefix = this.containers.filter((container) => container.id.startsWith(bare));
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    this.log.push({ method, url: req.url ?? '/' });
    if (this.hanging) return; // Never answers: the client's signal or close() ends it.
    const url = new URL(req.url ?? '/', 'http://docker');
    let path = url.pathname;
    const versioned = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (versioned) {
      const version = versioned[1]!;
      if (compareVersions(version, this.minApiVersion) < 0) {
        return sendJson(res, 400, {
          message: `client version ${version} is too old. Minimum supported API version is ${this.minApiVersion}, please upgrade your client to a newer version`,
        });
      }
      if (compareVersions(version, this.apiVersion) > 0) {
        return sendJson(res, 400, { message: `client version ${version} is too new. Maximum supported API version is ${this.apiVersion}` });
      }
      path = versioned[2]!;
    }

    if (path === '/_ping' && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'api-version': this.apiVersion,
        'docker-experimental': 'false',
        ostype: 'linux',
        'cache-control': 'no-cache, no-store, must-revalidate',
        pragma: 'no-cache',
      });
      res.end(method === 'GET' ? 'OK' : undefined);
      return;
    }

    if (path === '/containers/json' && method === 'GET') {
      const all = truthy(url.searchParams.get('all'));
      return sendJson(res, 200, this.containers.filter((container) => all || container.status === 'running').map(summaryOf));
    }
    const route = /^\/containers\/([^/]+)\/(json|restart|logs)$/.exec(path);
    if (!route) return sendJson(res, 404, { message: 'page not found' });
    const ref = decodeURIComponent(route[1]!);
    const container = this.resolve(ref);
    const action = route[2]!;
    if (action === 'restart' && method !== 'POST') return sendJson(res, 404, { message: 'page not found' });
    if (action !== 'restart' && method !== 'GET') return sendJson(res, 404, { message: 'page not found' });
    if (!container) return sendJson(res, 404, { message: `No such container: ${ref}` });

    if (action === 'json') return sendJson(res, 200, inspectOf(container));
    if (action === 'logs') return this.sendLogs(container, url.searchParams, res);

    const t = url.searchParams.get('t');
    if (t !== null && !/^-?\d+$/.test(t)) return sendJson(res, 400, { message: `invalid value for t: ${t}` });
    const outcome = container.onRestart;
    if ('refuses' in outcome) return sendJson(res, outcome.refuses, { message: outcome.message });
    if (container.status === 'running') container.finishedAt = Date.now();
    // A manual restart starts the restart policy's count afresh, as dockerd does (ResetRestartManager).
    container.restartCount = 0;
    this.startRun(container);
    if ('exits' in outcome) {
      const exit = () => {
        const at = Date.now();
        for (const text of outcome.stderr ?? []) container.logs.push({ stream: 2, at, text });
        Object.assign(container, {
          status: 'exited',
          exitCode: outcome.exits,
          oomKilled: outcome.oomKilled ?? false,
          error: outcome.error ?? '',
          pid: 0,
          finishedAt: at,
        });
        if (container.health) container.health.status = 'unhealthy';
      };
      if (!outcome.afterMs) exit();
      else this.later(outcome.afterMs, exit);
    } else if (container.health) {
      const verdict = outcome.health ?? { becomes: 'healthy' as const, afterMs: 100 };
      this.later(verdict.afterMs, () => {
        if (container.status !== 'running' || !container.health) return;
        recordHealth(container, verdict.becomes === 'healthy' ? 0 : 1, verdict.output ?? (verdict.becomes === 'healthy' ? 'ok' : 'health check failed'));
        container.health.status = verdict.becomes;
      });
    }
    res.writeHead(204);
    res.end();
  }

  private startRun(container: FakeContainer): void {
    Object.assign(container, { status: 'running', exitCode: 0, oomKilled: false, error: '', pid: nextPid++, startedAt: Date.now(), logs: [] });
    if (container.health) container.health = { status: 'starting', failingStreak: 0, log: [] };
  }

  private later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }

  private sendLogs(container: FakeContainer, query: URLSearchParams, res: ServerResponse): void {
    const wantOut = truthy(query.get('stdout'));
    const wantErr = truthy(query.get('stderr'));
    const since = Number(query.get('since') ?? 0) * 1000;
    const tail = query.get('tail');
    let lines = container.logs.filter((line) => line.at >= since && ((line.stream === 1 && wantOut) || (line.stream === 2 && wantErr)));
    if (tail !== null && tail !== 'all') lines = lines.slice(-Number(tail));
    if (container.tty) {
      res.writeHead(200, { 'content-type': 'application/vnd.docker.raw-stream' });
      res.end(lines.map((line) => `${line.text}\r\n`).join(''));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
    res.end(Buffer.concat(lines.map((line) => frame(line.stream, `${line.text}\n`))));
  }
}

/** The ContainerSummary of a container (GET /containers/json), in Docker's field names and shapes. */
function summaryOf(container: FakeContainer): unknown {
  return {
    Id: container.id,
    Names: [`/${container.name}`],
    Image: 'node:20-alpine',
    ImageID: `sha256:${createHash('sha256').update('node:20-alpine').digest('hex')}`,
    Command: 'docker-entrypoint.sh node server.js',
    Created: Math.floor(container.created / 1000),
    Ports: container.ports.map((p) => ({ IP: '0.0.0.0', PrivatePort: p.privatePort, PublicPort: p.publicPort, Type: 'tcp' })),
    Labels: { 'com.docker.compose.service': container.name },
    State: container.status,
    Status: container.status === 'running' ? 'Up About an hour' : `Exited (${container.exitCode}) About a minute ago`,
    HostConfig: { NetworkMode: 'bridge' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

/** The ContainerInspectResponse of a container, in Docker's field names and shapes. */
function inspectOf(container: FakeContainer): unknown {
  const status = container.status;
  return {
    Id: container.id,
    Created: new Date(container.created).toISOString(),
    Path: '/usr/local/bin/docker-entrypoint.sh',
    Args: ['node', 'server.js'],
    State: {
      Status: status,
      Running: status === 'running' || status === 'paused' || status === 'restarting',
      Paused: status === 'paused',
      Restarting: status === 'restarting',
      OOMKilled: container.oomKilled,
      Dead: status === 'dead',
      Pid: container.pid,
      ExitCode: container.exitCode,
      Error: container.error,
      StartedAt: dockerTime(container.startedAt),
      FinishedAt: dockerTime(container.finishedAt),
      ...(container.health ? { Health: { Status: container.health.status, FailingStreak: container.health.failingStreak, Log: container.health.log } } : {}),
    },
    Image: `sha256:${createHash('sha256').update('node:20-alpine').digest('hex')}`,
    ResolvConfPath: `/var/lib/docker/containers/${container.id}/resolv.conf`,
    HostnamePath: `/var/lib/docker/containers/${container.id}/hostname`,
    HostsPath: `/var/lib/docker/containers/${container.id}/hosts`,
    LogPath: `/var/lib/docker/containers/${container.id}/${container.id}-json.log`,
    Name: `/${container.name}`,
    RestartCount: container.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: 'docker-default',
    ExecIDs: null,
    HostConfig: { RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 }, NetworkMode: 'bridge', LogConfig: { Type: 'json-file', Config: {} } },
    Mounts: [],
    Config: {
      Hostname: container.id.slice(0, 12),
      Domainname: '',
      User: '',
      Tty: container.tty,
      Env: container.env,
      Cmd: ['node', 'server.js'],
      Image: 'node:20-alpine',
      WorkingDir: '/app',
      Entrypoint: ['docker-entrypoint.sh'],
      Labels: { 'com.docker.compose.service': container.name },
      ...(container.health
        ? { Healthcheck: { Test: ['CMD-SHELL', 'wget -qO- http://127.0.0.1:8080/health || exit 1'], Interval: 30_000_000_000, Retries: 3 } }
        : {}),
    },
    NetworkSettings: { Ports: {}, Networks: {} },
  };
}

function recordHealth(container: FakeContainer, exitCode: number, output: string): void {
  if (!container.health) return;
  const end = new Date();
  container.health.log.push({ Start: new Date(end.getTime() - 40).toISOString(), End: end.toISOString(), ExitCode: exitCode, Output: output });
  container.health.log.splice(0, Math.max(0, container.health.log.length - HEALTH_LOG_KEPT));
  container.health.failingStreak = exitCode === 0 ? 0 : container.health.failingStreak + 1;
}

/** RFC 3339 with nanoseconds, as Docker writes it; its zero time for "never". */
function dockerTime(ms: number | undefined): string {
  if (ms === undefined) return DOCKER_ZERO_TIME;
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1456789Z');
}

/** One frame of the multiplexed stream: [stream, 0, 0, 0, uint32 BE length] + payload. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function truthy(value: string | null): boolean {
  return value === '1' || value === 'true';
}

function compareVersions(a: string, b: string): number {
  const [aMajor, aMinor] = a.split('.').map(Number) as [number, number];
  const [bMajor, bMinor] = b.split('.').map(Number) as [number, number];
  return aMajor - bMajor || aMinor - bMinor;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}
