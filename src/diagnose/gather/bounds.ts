/** Keeping gathered text within its byte cap, and naming what was looked at briefly. */
import { isAbsolute, relative } from 'node:path';
import { stripAnsi } from '../llm/scrub.js';

const MARK = '…';

/** A bounded text and whether anything was left out. */
interface Bounded {
  text: string;
  truncated: boolean;
}

/**
 * The end of `text` within `maxBytes` of UTF-8, for log tails: whole lines
 * are dropped from the front first; a last line longer than the cap keeps
 * its end. Only for text that is already redacted (a cut may fall anywhere).
 */
export function keepEnd(text: string, maxBytes: number): Bounded {
  if (Buffer.byteLength(text) <= maxBytes) return { text, truncated: false };
  const lines = text.split('\n');
  let bytes = Buffer.byteLength(text);
  while (lines.length > 1 && bytes > maxBytes) bytes -= Buffer.byteLength(lines.shift()!) + 1;
  const kept = lines.join('\n');
  if (bytes <= maxBytes) return { text: kept, truncated: true };
  const room = Math.max(0, maxBytes - Buffer.byteLength(MARK));
  const buffer = Buffer.from(kept);
  // Starting the slice mid-character decodes to U+FFFD: drop those.
  return {
    text:
      MARK +
      buffer
        .subarray(buffer.length - room)
        .toString('utf8')
        .replace(/^\uFFFD+/, ''),
    truncated: true,
  };
}

/** The start of `text` within `maxBytes` of UTF-8, ended with a mark when cut. Only for text that is already redacted. */
export function keepStart(text: string, maxBytes: number): Bounded {
  if (Buffer.byteLength(text) <= maxBytes) return { text, truncated: false };
  const room = Math.max(0, maxBytes - Buffer.byteLength(MARK));
  return {
    text:
      Buffer.from(text)
        .subarray(0, room)
        .toString('utf8')
        .replace(/\uFFFD+$/, '') + MARK,
    truncated: true,
  };
}

/** A path as the operator reads it: relative to the bot's folder when inside it ("data/logs/db.log"), else absolute. */
export function displayPath(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside !== '' && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
}

/** Control characters other than tab and newline (a NUL hole after copytruncate, a CR of CRLF, a terminal bell), as a pattern built from codes. */
const CONTROL = new RegExp(
  `[${String.fromCharCode(0)}-${String.fromCharCode(8)}${String.fromCharCode(11)}-${String.fromCharCode(31)}${String.fromCharCode(127)}]+`,
  'g',
);

/** Text fit to show: terminal escapes and control characters out (they would also hide a token from the redactor's patterns). */
export function printable(text: string): string {
  return stripAnsi(text).replace(CONTROL, '');
}
