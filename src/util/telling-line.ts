/**
 * The most telling line of a failure's evidence: what a person reading a
 * stderr tail, a log sample or an HTTP body looks for first. A database that
 * exits on `FATAL: could not bind ... EADDRINUSE` is explained by that line,
 * not by "exited with code 1 after 166ms".
 *
 * Ranks, best first (the first line of the best rank wins: later lines of a
 * dying service are mostly the consequences of the first fatal one):
 *  1. fatal: FATAL, PANIC, Go's `panic:`, `Segmentation fault`, `Out of memory`,
 *     `Killed`, and a Python traceback (quoted by its exception line, the
 *     last `SomeError: ...` after `Traceback`, since that is what it says);
 *  2. a line that states an error: it begins with one (`Error: listen
 *     EADDRINUSE ...`, `OSError: ...`, `ERROR ...`, `[error] ...`);
 *  3. a line that mentions one: error, an exception, a Node errno
 *     (EADDRINUSE, ECONNREFUSED, ENOENT...), `denied`, `refused`, `failed`;
 *  4. warning: WARN / WARNING.
 * Stack frames, a runtime's banner, the source line Node prints above a
 * throw and Nightshift's own log lines are never the reason and are skipped. A text with none of these has
 * no telling line (null): the check's own message says what there is to say.
 */

/** Longest telling line kept (one line of a chat message). */
export const TELLING_LINE_CHARS = 160;

export type EvidenceSource = 'stderr' | 'stdout' | 'log' | 'body';

export interface TellingLine {
  line: string;
  from: EvidenceSource;
}

const FATAL = /\b(FATAL|PANIC|panic:|Segmentation fault|core dumped|Out of memory|out of memory|OOM|Killed)\b|^panic:/;
const TRACEBACK = /^Traceback \(most recent call last\)/;
const EXCEPTION_LINE = /^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(:|$)/;
const STATES_ERROR = /^(?:\[?(?:[\w.$]*(?:error|exception)|err|fatal|panic|critical)\b)/i;
/**
 * Lines that are a stack's frames, a runtime's banner, the source line shown
 * above a throw, or Nightshift's own lines in a supervised child's log
 * ("[nightshift …] started pid 12: <command>": they quote the command line).
 */
const NOISE = /^(?:at\s|File\s"|Node\.js v\d|\^+$|throw\s|node:[\w/]+:\d+$|\[nightshift\s)/;
const ERROR =
  /\b(ERROR|Error|error|ERR|Exception|exception|EADDRINUSE|EADDRNOTAVAIL|ECONNREFUSED|ECONNRESET|ENOENT|EACCES|EPERM|ENOSPC|EMFILE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|denied|refused|failed|Failed)\b/;
const WARNING = /\b(WARN|WARNING|Warning)\b/;

/** The best line of one text and its rank (lower is better); null when nothing in it stands out. */
function bestOf(text: string): { line: string; rank: number } | null {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !NOISE.test(l));
  let best: { line: string; rank: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    let rank: number | null = null;
    let quoted = line;
    if (TRACEBACK.test(line)) {
      rank = 1;
      // The exception line closes the traceback: the last one before the next traceback (or the end).
      for (let j = i + 1; j < lines.length && !TRACEBACK.test(lines[j]!); j++) if (EXCEPTION_LINE.test(lines[j]!)) quoted = lines[j]!;
    } else if (FATAL.test(line)) rank = 1;
    else if (STATES_ERROR.test(line)) rank = 2;
    else if (ERROR.test(line)) rank = 3;
    else if (WARNING.test(line)) rank = 4;
    if (rank !== null && (!best || rank < best.rank)) best = { line: quoted, rank };
    if (best?.rank === 1) break;
  }
  return best;
}

/** The most telling line among a run's evidence (stderr before stdout before a log sample before a body at equal rank); null when none has one. */
export function tellingLine(evidence: Partial<Record<EvidenceSource, string | null | undefined>>): TellingLine | null {
  let best: { line: string; rank: number; from: EvidenceSource } | null = null;
  for (const from of ['stderr', 'stdout', 'log', 'body'] as const) {
    const text = evidence[from];
    if (typeof text !== 'string' || text.length === 0) continue;
    const found = bestOf(text);
    if (found && (!best || found.rank < best.rank)) best = { ...found, from };
  }
  if (!best) return null;
  return { line: clipLine(best.line.replace(/\s+/g, ' ')), from: best.from };
}

function clipLine(line: string): string {
  return line.length <= TELLING_LINE_CHARS ? line : `${line.slice(0, TELLING_LINE_CHARS - 1).trimEnd()}…`;
}
