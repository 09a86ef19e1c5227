/**
 * Error signatures: what stays the same between occurrences of one failure.
 *
 * Two failed runs of a check are "the same failure" when their messages differ
 * only in what changes from run to run: counts, pids, latencies, timestamps,
 * ids, ports of the moment, temporary paths, quoted values. `normalizeError`
 * folds those into placeholders and keeps what carries meaning:
 *
 * - HTTP status codes stay ("HTTP 503" and "HTTP 502" are different failures),
 *   when written as `HTTP 503`, `HTTP/1.1 503`, `status 503` or `status code 503`.
 * - Exit codes stay ("exit 1" is not "exit 137", which is a SIGKILL, often the
 *   OOM killer), when written as `exit 1`, `exit code 1`, `exited with code 1`
 *   or `exit status 1`. Signal names (SIGKILL) and errno names (ECONNREFUSED)
 *   have no digits and stay anyway.
 * - Digits inside words stay (`worker3`, `sha256`, `ipv4`); a number after a
 *   dash is a number (`api-1` → `api-<n>`, `-1` → `-<n>`).
 *
 * Folded, in this order of precedence at any one position:
 *   uuid → `<id>`; ISO date-time or clock time → `<time>`; IPv4 address → `<ip>`;
 *   a path under /tmp, /var/tmp or /dev/shm → `<tmp>`; quoted text → `"…"`;
 *   0x-hex and bare hex runs of 8+ with a digit and a letter → `<id>`;
 *   durations (`123ms`, `1.5 s`, `3m 12s`, `2 minutes`) → `<duration>`;
 *   sizes (`12.5 MiB`, `300 bytes`) → `<size>`; any other number → `<n>`.
 * Whitespace runs become one space; the result is trimmed and cut at 400
 * characters (a long stderr tail differing only at its end is the same failure).
 *
 * The function is pure, has no state and is idempotent:
 * normalizeError(normalizeError(m)) === normalizeError(m).
 */

/** Longest signature kept; longer normalised messages are cut (with "…"). */
export const MAX_SIGNATURE_LENGTH = 400;

const DURATION_UNIT = String.raw`(?:ms|milliseconds?|µs|us|ns|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)`;
const ONE_DURATION = String.raw`\d+(?:\.\d+)?\s?${DURATION_UNIT}(?![A-Za-z0-9_])`;

/**
 * The alternatives of one pass over the message, in precedence order: at
 * each position the first that matches wins, so a protected status code is
 * seen before the generic number. `keep` marks meaningful numbers, kept as
 * written (with their spacing normalised).
 */
const ALTERNATIVES: Array<{ source: string; placeholder?: string; keep?: true }> = [
  { source: String.raw`\bHTTP(?:\/\d(?:\.\d)?)?\s+[1-5]\d\d\b|\b[Ss]tatus(?:\s+[Cc]ode)?\s*[:=]?\s*[1-5]\d\d\b`, keep: true },
  { source: String.raw`\b[Ee]xit(?:ed)?(?:\s+with)?(?:\s+(?:code|status))?\s*[:=]?\s*-?\d{1,3}\b`, keep: true },
  { source: String.raw`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`, placeholder: '<id>' },
  {
    source: String.raw`\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b`,
    placeholder: '<time>',
  },
  { source: String.raw`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`, placeholder: '<ip>' },
  { source: String.raw`(?:\/private)?\/(?:tmp|var\/tmp|dev\/shm)(?:\/[^\s"'\x60,;:()\[\]{}<>]*)?`, placeholder: '<tmp>' },
  // A single quote after a letter is an apostrophe ("can't"), not an opening quote.
  { source: String.raw`"[^"\n]*"|(?<![A-Za-z0-9])'[^'\n]*'(?![A-Za-z0-9])|\x60[^\x60\n]*\x60`, placeholder: '"…"' },
  { source: String.raw`\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b`, placeholder: '<id>' },
  { source: String.raw`(?<![A-Za-z0-9_.])${ONE_DURATION}(?:[\s,]+${ONE_DURATION})*`, placeholder: '<duration>' },
  { source: String.raw`(?<![A-Za-z0-9_.])\d+(?:\.\d+)?\s?(?:[KMGTP]i?B|B|bytes?)(?![A-Za-z0-9_])`, placeholder: '<size>' },
  { source: String.raw`(?<![A-Za-z_.\d])\d+(?:[.,]\d+)*(?![A-Za-z_\d])`, placeholder: '<n>' },
  { source: String.raw`\s{2,}|[\t\r\n\f\v]`, placeholder: ' ' },
];

/** Each alternative is one capturing group (everything inside them is non-capturing), so the replacer knows which matched. */
const TOKEN = new RegExp(ALTERNATIVES.map((a) => `(${a.source})`).join('|'), 'g');

function replaceToken(match: string, ...groups: unknown[]): string {
  for (let i = 0; i < ALTERNATIVES.length; i++) {
    if (groups[i] === undefined) continue;
    const alternative = ALTERNATIVES[i]!;
    return alternative.keep ? match.replace(/\s+/g, ' ') : (alternative.placeholder ?? match);
  }
  return match;
}

/** The message with what varies between occurrences of one failure folded into placeholders (see the file comment). */
export function normalizeError(message: string): string {
  const folded = message.replace(TOKEN, replaceToken).trim();
  if (folded.length <= MAX_SIGNATURE_LENGTH) return folded;
  return `${folded.slice(0, MAX_SIGNATURE_LENGTH - 1).trimEnd()}…`;
}

/** The key of "the same failure coming back": the check and its normalised error. */
export function failureSignature(check: string, message: string): string {
  return `${check}: ${normalizeError(message)}`;
}
