import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { recordReceived } from '../artefacts.js';

/**
 * A local Ollama server for tests of the LLM layer, written from Ollama's
 * public API docs (docs/api.md): POST /api/chat, streamed as NDJSON lines
 * `{model, created_at, message, done:false}` ending with a `done:true` line
 * carrying done_reason and timings, or answered as one JSON object;
 * GET /api/tags and /api/version; `{"error": ...}` bodies with Ollama's
 * status codes (404 for a model that is not pulled). Each /api/chat request
 * takes the next scripted reply (a valid diagnosis answer when none is
 * queued) and every request is recorded for assertions on the prompt.
 */

/** What the next /api/chat request gets. */
export type ScriptedReply =
  /** A normal answer whose message content is this text. */
  | { content: string }
  /** The same, named for readability: content that is not JSON. */
  | { garbage: string }
  /** No answer at all; with `afterChunks`, a streamed answer that stops after that many content lines. */
  | { hang: true; afterChunks?: number }
  /** An Ollama error body with this status. */
  | { status: number; error: string };

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined for GET or a body that is not JSON). */
  body: unknown;
  /** The body as received. */
  raw: string;
  /** True once the connection closed before the answer was complete: the client aborted, or close() ended a hanging request. */
  closedEarly: boolean;
}

export interface FakeOllamaOptions {
  /** Pulled models, listed by /api/tags; /api/chat answers 404 for any other. */
  models?: string[];
  /** Content lines a streamed answer is split into (at least 1). */
  streamChunks?: number;
}

/** A valid answer to llmAnswerSchema: what /api/chat says when nothing else is queued. */
export const DEFAULT_ANSWER = {
  rootCause: 'postgres refuses connections: its data disk is full (No space left on device in its log).',
  whyItCascades: 'api depends on postgres and returns 503 while it cannot connect; worker polls api and fails in turn.',
  whatToCheck: ['df -h /var/lib/postgresql', 'journalctl -u postgresql -n 50', 'du -sh /var/lib/postgresql/*/main/pg_wal'],
  fix: { kind: 'command', command: 'sudo journalctl --vacuum-size=200M', verify: 'pg_isready -h 127.0.0.1' },
  confidence: 'medium',
} as const;

const OLLAMA_VERSION = '0.9.6';

/** A running fake on 127.0.0.1 (port 0); `url` is its base URL. Call close() when done. */
export class FakeOllamaServer {
  private readonly server: Server;
  private readonly script: ScriptedReply[] = [];
  private readonly log: RecordedRequest[] = [];
  private models: string[];
  private readonly streamChunks: number;

  private constructor(options: FakeOllamaOptions) {
    this.models = options.models ?? ['qwen2.5:7b'];
    this.streamChunks = Math.max(1, options.streamChunks ?? 4);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // A bug in the fake must show up as a 500 in the test, not as a hung request.
        if (!res.headersSent) sendJson(res, 500, { error: `fake ollama: ${String(err)}` });
        else res.destroy();
      });
    });
  }

  /** Starts a fake on an ephemeral port of 127.0.0.1. */
  static async start(options: FakeOllamaOptions = {}): Promise<FakeOllamaServer> {
    const fake = new FakeOllamaServer(options);
    fake.server.listen(0, '127.0.0.1');
    await once(fake.server, 'listening');
    return fake;
  }

  /** Base URL such as http://127.0.0.1:41234, as OLLAMA_HOST would be written. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Queues replies for the next /api/chat requests, in order. */
  respondWith(...replies: ScriptedReply[]): void {
    this.script.push(...replies);
  }

  /** Replaces the pulled models from now on (a model pulled or deleted): /api/tags and /api/chat see the new list. */
  setModels(models: string[]): void {
    this.models = [...models];
  }

  /** Every request received so far, oldest first. */
  requests(): RecordedRequest[] {
    return [...this.log];
  }

  /** /api/chat requests received so far, oldest first. */
  chatRequests(): RecordedRequest[] {
    return this.log.filter((request) => request.path === '/api/chat');
  }

  /** Stops listening and ends every connection, hanging requests included. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const record: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body: parseJson(raw), raw, closedEarly: false };
    this.log.push(record);
    if (raw) recordReceived('ollama', raw);
    res.on('close', () => {
      if (!res.writableFinished) record.closedEarly = true;
    });

    if (req.method === 'GET' && path === '/api/version') return sendJson(res, 200, { version: OLLAMA_VERSION });
    if (req.method === 'GET' && path === '/api/tags') return sendJson(res, 200, { models: this.models.map(describeModel) });
    if (path === '/api/chat') {
      if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' });
      return this.chat(record.body, res);
    }
    sendJson(res, 404, { error: '404 page not found' });
  }

  private async chat(body: unknown, res: ServerResponse): Promise<void> {
    if (!body || typeof body !== 'object') return sendJson(res, 400, { error: 'invalid request body' });
    const request = body as { model?: unknown; messages?: unknown; stream?: unknown; format?: unknown };
    if (typeof request.model !== 'string' || request.model === '') return sendJson(res, 400, { error: 'model is required' });
    if (request.messages !== undefined && !Array.isArray(request.messages)) return sendJson(res, 400, { error: 'messages must be an array' });
    if (request.format !== undefined && request.format !== 'json' && (typeof request.format !== 'object' || request.format === null)) {
      return sendJson(res, 400, { error: 'invalid format: expected "json" or a JSON schema' });
    }
    const model = this.resolveModel(request.model);
    if (!model) return sendJson(res, 404, { error: `model "${request.model}" not found, try pulling it first` });
    const reply = this.script.shift() ?? { content: JSON.stringify(DEFAULT_ANSWER) };
    if ('status' in reply) return sendJson(res, reply.status, { error: reply.error });
    // Ollama streams unless told otherwise.
    const stream = request.stream !== false;
    if ('hang' in reply && (!stream || reply.afterChunks === undefined)) return; // Never answers; close() or the client ends it.
    const content = 'content' in reply ? reply.content : 'garbage' in reply ? reply.garbage : JSON.stringify(DEFAULT_ANSWER);
    const createdAt = new Date().toISOString();
    const final = {
      model,
      created_at: createdAt,
      message: { role: 'assistant', content: stream ? '' : content },
      done_reason: 'stop',
      done: true,
      total_duration: 1_234_567_890,
      load_duration: 12_345_678,
      prompt_eval_count: 812,
      prompt_eval_duration: 456_789_012,
      eval_count: 154,
      eval_duration: 765_432_109,
    };
    if (!stream) return sendJson(res, 200, final);

    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const pieces = splitInto(content, this.streamChunks);
    const stopAfter = 'hang' in reply ? reply.afterChunks : undefined;
    for (const [index, piece] of pieces.entries()) {
      if (stopAfter !== undefined && index >= stopAfter) return; // Stalls mid-stream, connection left open.
      const line = `${JSON.stringify({ model, created_at: createdAt, message: { role: 'assistant', content: piece }, done: false })}\n`;
      // Half a line per write, so the client has to join lines split across chunks.
      const half = Math.floor(line.length / 2);
      res.write(line.slice(0, half));
      await nextTurn();
      if (res.destroyed) return;
      res.write(line.slice(half));
      await nextTurn();
      if (res.destroyed) return;
    }
    if (stopAfter !== undefined) return;
    res.end(`${JSON.stringify(final)}\n`);
  }

  /** Ollama's lookup: an exact name, or "name" meaning "name:latest". */
  private resolveModel(name: string): string | undefined {
    return this.models.find((pulled) => pulled === name || (!name.includes(':') && pulled === `${name}:latest`));
  }
}

/** An /api/tags entry in Ollama's shape. */
function describeModel(name: string) {
  const family = name.split(/[.:]/)[0] ?? name;
  return {
    name,
    model: name,
    modified_at: '2025-06-01T09:30:00.000000000+02:00',
    size: 4_683_087_332,
    digest: createHash('sha256').update(name).digest('hex'),
    details: { parent_model: '', format: 'gguf', family, families: [family], parameter_size: '7.6B', quantization_level: 'Q4_K_M' },
  };
}

/** At most `count` pieces of about equal length (fewer when the text is shorter). */
function splitInto(text: string, count: number): string[] {
  if (text.length === 0) return [''];
  const size = Math.ceil(text.length / count);
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += size) pieces.push(text.slice(start, start + size));
  return pieces;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    // Recorded as raw text only; /api/chat answers 400 for it.
    return undefined;
  }
}
