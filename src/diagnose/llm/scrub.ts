/** What is taken out of a check's params and a log tail before they reach a prompt, beyond what the redactor removes. */
import { maskUrlsIn, type Redactor } from '../../log/redact.js';

/** Parameters that map names to values (request headers, a child's environment): their values are masked, their names kept. */
const VALUE_MAPS = new Set(['headers', 'env', 'environment']);

/**
 * A check's params fit for a prompt: the values of header and environment
 * maps become "[redacted]" (their names stay, they help a diagnosis), URLs
 * lose credentials and secret query values; the redactor then removes
 * secret-named keys' values and every token shape.
 */
export function safeParams(params: Record<string, unknown>, redactor: Redactor): unknown {
  const mask = (value: unknown, key: string): unknown => {
    if (typeof value === 'string') return maskUrlsIn(value, 'redacted');
    if (Array.isArray(value)) return value.map((item) => mask(item, key));
    if (value && typeof value === 'object') {
      if (VALUE_MAPS.has(key)) return Object.fromEntries(Object.keys(value).map((name) => [name, '[redacted]']));
      return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, mask(inner, name)]));
    }
    return value;
  };
  return redactor.redactValue(mask(params, ''));
}

/** ESC, written as a code so the pattern below holds no control character of its own (no-control-regex). */
const ESC = String.fromCharCode(0x1b);

/** Terminal colour and cursor sequences ("ESC[31m"): noise to the model, and they hide the text between them from the redactor's patterns. */
const ANSI_ESCAPE = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g');

/** A log tail without its terminal escape sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_ESCAPE, '');
}
