/** Cutting and bounding text (no I/O). */

/** A deep copy of a JSON-like value with every string clipped to `max` characters (what is stored stays bounded). */
export function clipStrings<T>(value: T, max: number): T {
  if (typeof value === 'string') return clipAtWord(value, max) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => clipStrings(v, max)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = clipStrings(v, max);
    return out as T;
  }
  return value;
}

/**
 * Cutting text that may hold a secret must not cut the secret: half a token
 * no longer looks like one, so the redactor would let it through. These cut
 * at a boundary (whitespace, quotes, brackets, commas) and drop the partial
 * word instead. Text with no boundary at all (one long blob) is cut hard:
 * showing nothing of it would hide the evidence.
 */
const BOUNDARY = /[\s"'`,;()[\]{}<>|]/;

/** The start of `text`, at most `max` characters, ended at a boundary with `mark` when cut. */
export function clipAtWord(text: string, max: number, mark = '…'): string {
  if (text.length <= max) return text;
  const room = Math.max(0, max - mark.length);
  let end = room;
  if (!BOUNDARY.test(text[room] ?? ' ')) {
    for (let i = room - 1; i >= 0; i--) {
      if (BOUNDARY.test(text[i]!)) {
        end = i + 1;
        break;
      }
    }
  }
  return text.slice(0, end).trimEnd() + mark;
}

/** The end of `text`, at most `max` characters, started at a boundary with `mark` when cut. */
export function tailAtWord(text: string, max: number, mark = '…'): string {
  if (text.length <= max) return text;
  return mark + dropPartialFirstWord(text.slice(text.length - Math.max(0, max - mark.length)));
}

/** Text whose start was cut off elsewhere (a rolling buffer): the first, partial word goes (unless it is all there is). */
export function dropPartialFirstWord(text: string): string {
  const boundary = text.search(BOUNDARY);
  return boundary < 0 ? text : text.slice(boundary + 1);
}

/**
 * The start of `text`, at most `max` UTF-16 units, ended with `mark` when cut;
 * never splits a surrogate pair. For display limits (a platform's field size)
 * on text that is already redacted: it cuts where the limit falls.
 */
export function clip(text: string, max: number, mark = '…'): string {
  if (text.length <= max) return text;
  if (max <= mark.length) return text.slice(0, Math.max(0, max));
  let cut = max - mark.length;
  if (/[\uD800-\uDBFF]/.test(text[cut - 1] ?? '')) cut -= 1;
  return `${text.slice(0, cut)}${mark}`;
}

/** Cuts a long text into pieces of at most `max` characters, at a line break where one is near (a table is not cut mid-line). */
export function splitText(text: string, max: number): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > max) {
    // Prefer a line break, so a table in a long /status reply is not cut mid-line.
    const newline = rest.lastIndexOf('\n', max);
    let cut = newline > max / 2 ? newline : max;
    if (/[\uD800-\uDBFF]/.test(rest[cut - 1] ?? '')) cut -= 1;
    chunks.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^\n/, '');
  }
  chunks.push(rest);
  return chunks;
}
