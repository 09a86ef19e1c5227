import { z } from 'zod';
import { ageDuration } from '../util/duration.js';
import { LiteralSecrets, maskUrlSecrets } from '../log/redact.js';
import type { CheckKind, CheckResult } from './types.js';
import { clipAtWord } from '../util/text.js';
import { formatBytes } from '../util/format.js';
import { describeNetworkError, isHttpUrl } from '../util/network.js';
import { requestFollowingRedirects, type HttpAnswer } from './http-request.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const statusCode = z.number().int().min(100).max(599);
const COMPARISONS = ['equals', 'lt', 'gt', 'between'] as const;

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
      // Checked here so the request never throws at run time with a message that quotes the (secret) value.
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
  /** The body must be JSON with this field, and the field must pass the one comparison given (if any). */
  jsonField: z
    .strictObject({
      /**
       * Where the field is: dotted ("queue.workers.0.lag", every part a key or an array index) or a JSON path
       * starting with `$` ("$.queue.depth", "$.workers[0].lag", "$.workers[-1]", "$['odd key']").
       */
      path: z
        .string()
        .min(1)
        .superRefine((path, ctx) => {
          const parsed = parseFieldPath(path);
          if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
        }),
      /** The field equals this, type included: the number 0 is not the string "0". */
      equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
      /** The field is a number (or a string holding one, such as "1520") below this. */
      lt: z.number().optional(),
      /** The field is a number (or a string holding one) above this. */
      gt: z.number().optional(),
      /** The field is a number (or a string holding one) from min to max, both included. */
      between: z
        .tuple([z.number(), z.number()])
        .refine(([min, max]) => min <= max, { message: 'between is [min, max] with min <= max' })
        .optional(),
    })
    .superRefine((field, ctx) => {
      const given = COMPARISONS.filter((key) => field[key] !== undefined);
      if (given.length > 1) {
        ctx.addIssue({
          code: 'custom',
          path: [given[1]!],
          message: `jsonField takes one comparison, found ${given.join(' and ')} (for a range use between: [min, max])`,
        });
      }
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
/** Stateless between calls; like fetch's text(), it drops a byte order mark. */
const UTF8 = new TextDecoder();

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
    // Lower-cased names: a user's "Authorization" is the one the Basic auth line below must not overwrite.
    const headers: Record<string, string> = Object.fromEntries(Object.entries(p.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
    const secrets = Object.values(p.headers ?? {});
    if (target.username || target.password) {
      const user = decodeUserinfo(target.username);
      const password = decodeUserinfo(target.password);
      secrets.push(password, target.password);
      // The usual meaning of user:pass@ is Basic auth; the credentials are then taken out of the URL that is requested and shown.
      headers.authorization ??= `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      target.username = '';
      target.password = '';
    }
    secrets.push(...Object.values(headers));
    // Values shorter than 3 characters are too common to mask.
    const literals = new LiteralSecrets(secrets, 3);
    const scrub = (text: string) => literals.redact(text);
    const reportedUrl = safeUrl(target);
    const method = p.method.toUpperCase();
    const jsonField = p.jsonField ? { ...p.jsonField, steps: fieldPathSteps(p.jsonField.path) } : undefined;
    return {
      async run(ctx): Promise<CheckResult> {
        const started = performance.now();
        const elapsed = () => Math.round(performance.now() - started);
        let response: HttpAnswer;
        try {
          response = await requestFollowingRedirects(target, { method, headers, signal: ctx.signal, maxBodyBytes: p.maxBodyBytes });
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
        const text = UTF8.decode(response.bytes);
        const details: Record<string, unknown> = { httpStatus: response.status, latencyMs, bytes: response.bytes.length, url: reportedUrl };
        if (response.truncated) details.truncated = true;
        if (response.redirected) details.finalUrl = safeUrl(response.finalUrl);
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
          return fail(`${summary}, body lacks ${JSON.stringify(p.bodyContains)}${response.truncated ? ` in its first ${formatBytes(p.maxBodyBytes)}` : ''}`);
        }
        if (jsonField) {
          const outcome = checkJsonField(text, jsonField, response.truncated);
          if (outcome.found) details.jsonValue = evidenceOf(outcome.value, scrub);
          if (outcome.problem) return fail(`${summary}, ${outcome.problem}`);
        }
        if (p.maxLatency !== undefined && latencyMs > p.maxLatency) {
          return fail(`slow: ${latencyMs} ms > ${p.maxLatency} ms`);
        }
        return { ok: true, message: `${summary} (${formatBytes(response.bytes.length)})`, details };
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

function statusAccepted(status: number, expected: number | number[] | undefined): boolean {
  if (expected === undefined) return status >= 200 && status <= 399;
  return Array.isArray(expected) ? expected.includes(status) : status === expected;
}

function describeExpected(expected: number | number[] | undefined): string {
  if (expected === undefined) return '200-399';
  return Array.isArray(expected) ? expected.join(' or ') : String(expected);
}

type JsonField = NonNullable<HttpParams['jsonField']> & { steps: PathStep[] };

/** What the JSON field check found: the value (when the field exists) and why it fails, if it does. */
function checkJsonField(text: string, field: JsonField, truncated: boolean): { found: boolean; value?: unknown; problem?: string } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // The parse error's position is noise to an operator; what matters is that the body is not JSON.
    return { found: false, problem: truncated ? 'body is not JSON (truncated at maxBodyBytes)' : 'body is not JSON' };
  }
  const lookup = followPath(document, field.steps);
  if (!lookup.found) return { found: false, problem: `JSON field ${field.path} is missing` };
  const { value } = lookup;
  const is = `JSON field ${field.path} is ${shortJson(value)}`;
  if (field.equals !== undefined && value !== field.equals) {
    return { found: true, value, problem: `${is}, expected ${JSON.stringify(field.equals)}` };
  }
  const bound = describeBound(field);
  if (bound === undefined) return { found: true, value };
  const number = numericValue(value);
  if (number === undefined) return { found: true, value, problem: `${is}, expected a number ${bound}` };
  const inRange =
    (field.lt === undefined || number < field.lt) &&
    (field.gt === undefined || number > field.gt) &&
    (field.between === undefined || (number >= field.between[0] && number <= field.between[1]));
  return inRange ? { found: true, value } : { found: true, value, problem: `${is}, expected ${bound}` };
}

/** "< 1000", "> 0", "between 10 and 20"; undefined when no numeric comparison is asked for. */
function describeBound(field: JsonField): string | undefined {
  if (field.lt !== undefined) return `< ${field.lt}`;
  if (field.gt !== undefined) return `> ${field.gt}`;
  if (field.between !== undefined) return `between ${field.between[0]} and ${field.between[1]}`;
  return undefined;
}

/** A JSON number, exactly as JSON writes one: APIs that quote their numbers ("1520") say it this way. */
const NUMERIC_TEXT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** The field as a number: a JSON number, or a string holding exactly one; anything else is not a number. */
function numericValue(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && NUMERIC_TEXT.test(value)) {
    const number = Number(value);
    return Number.isFinite(number) ? number : undefined;
  }
  return undefined;
}

/** The found value as evidence: scalars as they are, text scrubbed and clipped, objects as short JSON. */
function evidenceOf(value: unknown, scrub: (text: string) => string): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return scrub(clipAtWord(value, SNIPPET_CHARS));
  return scrub(shortJson(value));
}

/**
 * One step of a field path. `own` is a part of the dotted form: a key of an object or an index of an array,
 * whichever the value has. `member` and `index` are the JSON path's: a key only of an object, an index only of
 * an array (negative counts from the end).
 */
type PathStep = { own: string } | { member: string } | { index: number };

const PATH_HELP = "supported: $.name, $['any key'], $[0], $[-1]; no wildcards, filters, slices or ..";
/** A name after a dot in a JSON path; anything else is written in brackets. */
const SHORTHAND_NAME = /^[^\s.[\]'"*?@,:()]+/;

/** The steps of a path already accepted by the schema. */
function fieldPathSteps(path: string): PathStep[] {
  const parsed = parseFieldPath(path);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed.steps;
}

/**
 * Parses a field path. A path is a JSON path when it is "$" or starts with "$." or "$["; anything else
 * (including a key such as "$schema.id") is the dotted form, split at every dot as before.
 */
function parseFieldPath(path: string): { steps: PathStep[] } | { problem: string } {
  if (!(path === '$' || path.startsWith('$.') || path.startsWith('$['))) {
    return { steps: path.split('.').map((own) => ({ own })) };
  }
  const steps: PathStep[] = [];
  const problem = (what: string, at: number) => ({ problem: `JSON path ${JSON.stringify(path)}: ${what} at character ${at + 1} (${PATH_HELP})` });
  let at = 1;
  while (at < path.length) {
    const char = path[at];
    if (char === '.') {
      const rest = path.slice(at + 1);
      if (rest.startsWith('.')) return problem('recursive descent (..) is not supported', at);
      if (rest.startsWith('*')) return problem('wildcards are not supported', at + 1);
      const name = SHORTHAND_NAME.exec(rest)?.[0];
      if (name === undefined) return problem("expected a name after '.' (write other keys as ['key'])", at + 1);
      steps.push({ member: name });
      at += 1 + name.length;
    } else if (char === '[') {
      const inner = path[at + 1];
      if (inner === "'" || inner === '"') {
        const quoted = readQuoted(path, at + 1);
        if ('problem' in quoted) return problem(quoted.problem, quoted.at);
        if (path[quoted.end] !== ']') return problem("expected ']' after the quoted key", quoted.end);
        steps.push({ member: quoted.text });
        at = quoted.end + 1;
      } else {
        const index = /^-?\d+/.exec(path.slice(at + 1))?.[0];
        const after = at + 1 + (index?.length ?? 0);
        if (inner === '*') return problem('wildcards are not supported', at + 1);
        if (inner === '?') return problem('filters are not supported', at + 1);
        if (index === undefined) return problem("expected an array index or a quoted key after '['", at + 1);
        if (path[after] === ':') return problem('slices are not supported', after);
        if (path[after] === ',') return problem('unions are not supported', after);
        if (path[after] !== ']') return problem("expected ']' after the index", after);
        steps.push({ index: Number(index) });
        at = after + 1;
      }
    } else {
      return problem(`unexpected ${JSON.stringify(char)}; expected '.' or '['`, at);
    }
  }
  return { steps };
}

/** A quoted key starting at `start` (its quote): JSON-style escapes \\, \', \" and \uXXXX are understood. */
function readQuoted(path: string, start: number): { text: string; end: number } | { problem: string; at: number } {
  const quote = path[start];
  let text = '';
  let at = start + 1;
  while (at < path.length) {
    const char = path[at]!;
    if (char === quote) return { text, end: at + 1 };
    if (char === '\\') {
      const next = path[at + 1];
      if (next === '\\' || next === "'" || next === '"' || next === '/') {
        text += next;
        at += 2;
        continue;
      }
      const hex = next === 'u' ? /^[0-9a-fA-F]{4}/.exec(path.slice(at + 2))?.[0] : undefined;
      if (hex === undefined) return { problem: 'unknown escape in the quoted key', at };
      text += String.fromCharCode(parseInt(hex, 16));
      at += 6;
      continue;
    }
    text += char;
    at++;
  }
  return { problem: 'the quoted key is not closed', at: start };
}

function followPath(document: unknown, steps: PathStep[]): { found: true; value: unknown } | { found: false } {
  let value: unknown = document;
  for (const step of steps) {
    if ('index' in step) {
      if (!Array.isArray(value)) return { found: false };
      const index = step.index < 0 ? value.length + step.index : step.index;
      if (index < 0 || index >= value.length) return { found: false };
      value = value[index];
      continue;
    }
    const key = 'own' in step ? step.own : step.member;
    if (value === null || typeof value !== 'object') return { found: false };
    if ('member' in step && Array.isArray(value)) return { found: false };
    if (!Object.prototype.hasOwnProperty.call(value, key)) return { found: false };
    value = (value as Record<string, unknown>)[key];
  }
  return { found: true, value };
}

function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
