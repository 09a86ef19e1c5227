import { z } from 'zod';
import { ageDuration } from '../util/duration.js';
import { LiteralSecrets, maskUrlSecrets } from '../log/redact.js';
import type { CheckKind, CheckResult } from './types.js';
import { clipAtWord } from '../util/text.js';
import { formatBytes } from '../util/format.js';
import { describeNetworkError, isHttpUrl } from '../util/network.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const statusCode = z.number().int().min(100).max(599);

const params = z.strictObject({
  /** http:// or https:// address; userinfo ("user:pass@") is sent as Basic auth and never reported. */
  url: z.string().refine(isHttpUrl, { message: 'expected an http:// or https:// URL' }),
  method: z
    .string()
    .regex(/^[A-Za-z]+$/, { message: 'expected an HTTP method such as GET' })
    .default('GET'),
  /** Request headers; values may hold secrets from the environment, so they never appear in results. */
  headers: z
    .record(z.string(), z.string())
    .superRefine((headers, ctx) => {
      // Checked here so fetch never throws at run time with a message that quotes the (secret) value.
      for (const [name, value] of Object.entries(headers)) {
        if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'not a valid HTTP header name' });
        else if (!HEADER_VALUE.test(value))
          ctx.addIssue({ code: 'custom', path: [name], message: 'header value has a line break, control or non-Latin-1 character' });
      }
    })
    .optional(),
  /** Accepted status codes; any 200-399 when absent. */
  expectStatus: z.union([statusCode, z.array(statusCode).min(1)]).optional(),
  /** The body must contain this text. */
  bodyContains: z.string().min(1).optional(),
  /** The body must be JSON with this field ("a.b.0.c"), equal to `equals` when given. */
  jsonField: z
    .strictObject({
      path: z.string().min(1),
      equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    })
    .optional(),
  /** Slower than this (request sent to body read) is a failure. */
  maxLatency: ageDuration.optional(),
  /** At most this many bytes of the body are read. */
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
});

type HttpParams = z.output<typeof params>;

const SNIPPET_CHARS = 200;

/**
 * An HTTP endpoint answers as expected: status, optional body text or JSON
 * field, optional latency bound. Redirects are followed. Header values and
 * URL credentials are treated as secrets: they are scrubbed from every
 * message and detail, including an echo of them in the response body.
 */
export const httpCheck: CheckKind<HttpParams> = {
  kind: 'http',
  description: 'an HTTP(S) endpoint answers with the expected status, body or JSON field, fast enough',
  params,
  create(p) {
    const target = new URL(p.url);
    const headers = new Headers(p.headers ?? {});
    const secrets = Object.values(p.headers ?? {});
    if (target.username || target.password) {
      const user = decodeUserinfo(target.username);
      const password = decodeUserinfo(target.password);
      secrets.push(password, target.password);
      // fetch refuses URLs with credentials; the usual meaning of user:pass@ is Basic auth.
      if (!headers.has('authorization')) headers.set('authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
      target.username = '';
      target.password = '';
    }
    secrets.push(...headers.values());
    // Values shorter than 3 characters are too common to mask.
    const literals = new LiteralSecrets(secrets, 3);
    const scrub = (text: string) => literals.redact(text);
    const reportedUrl = safeUrl(target);
    const method = p.method.toUpperCase();
    return {
      async run(ctx): Promise<CheckResult> {
        const started = performance.now();
        const elapsed = () => Math.round(performance.now() - started);
        let response: Response;
        let body: { bytes: Uint8Array; truncated: boolean };
        try {
          response = await fetch(target, { method, headers, redirect: 'follow', signal: ctx.signal });
          body = await readLimited(response, p.maxBodyBytes);
        } catch (err) {
          const latencyMs = elapsed();
          if (ctx.signal.aborted) {
            return {
              ok: false,
              message: `no answer from ${reportedUrl} after ${latencyMs} ms (aborted)`,
              details: { url: reportedUrl, latencyMs, errorCode: 'ABORTED' },
            };
          }
          const { message, code } = describeNetworkError(err);
          return { ok: false, message: scrub(message), details: { url: reportedUrl, latencyMs, errorCode: code } };
        }
        const latencyMs = elapsed();
        const text = new TextDecoder().decode(body.bytes);
        const details: Record<string, unknown> = { httpStatus: response.status, latencyMs, bytes: body.bytes.length, url: reportedUrl };
        if (body.truncated) details.truncated = true;
        if (response.redirected) details.finalUrl = safeUrl(new URL(response.url));
        const fail = (message: string): CheckResult => ({
          ok: false,
          message: scrub(message),
          details: { ...details, bodySnippet: scrub(clipAtWord(text, SNIPPET_CHARS)) },
        });

        const summary = `HTTP ${response.status} after ${latencyMs} ms`;
        if (!statusAccepted(response.status, p.expectStatus)) {
          return fail(`${summary} (expected ${describeExpected(p.expectStatus)})`);
        }
        if (p.bodyContains !== undefined && !text.includes(p.bodyContains)) {
          return fail(`${summary}, body lacks ${JSON.stringify(p.bodyContains)}${body.truncated ? ` in its first ${formatBytes(p.maxBodyBytes)}` : ''}`);
        }
        if (p.jsonField) {
          const problem = checkJsonField(text, p.jsonField, body.truncated);
          if (problem) return fail(`${summary}, ${problem}`);
        }
        if (p.maxLatency !== undefined && latencyMs > p.maxLatency) {
          return fail(`slow: ${latencyMs} ms > ${p.maxLatency} ms`);
        }
        return { ok: true, message: `${summary} (${formatBytes(body.bytes.length)})`, details };
      },
    };
  },
};

/** userinfo as typed: percent-escapes decoded, a stray '%' kept as it is. */
function decodeUserinfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Malformed escape such as "50%off": the user meant the characters literally.
    return text;
  }
}

/** The URL as it may be shown: no userinfo, secret-looking query values masked. */
function safeUrl(url: URL): string {
  const copy = new URL(url);
  maskUrlSecrets(copy, '***', 'drop');
  return copy.toString();
}

/** Reads at most `limit` bytes of the body, then cancels the rest of the download. */
async function readLimited(response: Response, limit: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  if (!response.body) return { bytes: new Uint8Array(0), truncated: false };
  // fetch() bodies are byte streams; the DOM typings leave the chunk type open.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = limit - total;
    if (value.length > room) {
      chunks.push(value.subarray(0, room));
      total += room;
      truncated = true;
      await reader.cancel().catch(() => {
        // The connection may already be gone; we have what we came for.
      });
      break;
    }
    chunks.push(value);
    total += value.length;
  }
  return { bytes: Buffer.concat(chunks, total), truncated };
}

function statusAccepted(status: number, expected: number | number[] | undefined): boolean {
  if (expected === undefined) return status >= 200 && status <= 399;
  return Array.isArray(expected) ? expected.includes(status) : status === expected;
}

function describeExpected(expected: number | number[] | undefined): string {
  if (expected === undefined) return '200-399';
  return Array.isArray(expected) ? expected.join(' or ') : String(expected);
}

/** Why the JSON field check fails, or undefined when it passes. */
function checkJsonField(text: string, field: { path: string; equals?: string | number | boolean | undefined }, truncated: boolean): string | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // The parse error's position is noise to an operator; what matters is that the body is not JSON.
    return truncated ? 'body is not JSON (truncated at maxBodyBytes)' : 'body is not JSON';
  }
  let value: unknown = document;
  for (const segment of field.path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, segment)) {
      return `JSON field ${field.path} is missing`;
    }
    value = (value as Record<string, unknown>)[segment];
  }
  if (field.equals !== undefined && value !== field.equals) {
    return `JSON field ${field.path} is ${shortJson(value)}, expected ${JSON.stringify(field.equals)}`;
  }
  return undefined;
}

function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
