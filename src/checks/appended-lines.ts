import { open, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';

/**
 * Reading what was appended to a log since the last run, for the kinds that
 * follow a log (log, event-storm): a cursor named by device and inode with an
 * anchor of the bytes before it, and a plan that finds those bytes again
 * after an append, a truncation, a copy or collapse rotation, or a rename to
 * `<path>.1`; and the scan of the planned segments as lines. Each kind judges the lines its own way.
 */

const ANCHOR_BYTES = 32;
/** On first sight only this much of the end is looked at, to start after the last complete line. */
const FIRST_SIGHT_TAIL_BYTES = 64 * 1024;

/** Where reading resumes: a byte offset in one file, named by device and inode so a rename does not fool it. */
export interface Cursor {
  /** `${dev}:${ino}` of the file the offset belongs to; '' means "whatever file appears, from its start". */
  fileId: string;
  offset: number;
  /** Base64 of up to ANCHOR_BYTES bytes just before `offset`, to notice a file rewritten in place. */
  anchor: string;
}

export interface OpenFile {
  handle: FileHandle;
  stats: BigIntStats;
  id: string;
  size: number;
}

/** One stretch of a file to read, from `from` to the size the file had when opened. */
export interface Segment {
  file: OpenFile;
  from: number;
}

export interface ReadPlan {
  segments: Segment[];
  rotated: boolean;
  truncated: boolean;
  /** Rotated away and its unread tail could not be found at <path>.1. */
  oldTailLost: boolean;
  skippedBytes: number;
}

export async function openIfExists(path: string): Promise<OpenFile | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    // fstat of the open descriptor: the inode we read is the inode we judged, even if a rotation renames the path meanwhile.
    const stats = await handle.stat({ bigint: true });
    return { handle, stats, id: `${stats.dev}:${stats.ino}`, size: Number(stats.size) };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** First patrol of an existing file: start after its last complete line. */
export async function firstSight(live: OpenFile): Promise<ReadPlan> {
  const tailStart = Math.max(0, live.size - FIRST_SIGHT_TAIL_BYTES);
  const tail = await readAt(live.handle, tailStart, live.size - tailStart);
  const lastNewline = tail.lastIndexOf(0x0a);
  // A file whose tail holds no newline at all: start at its end rather than inside a giant line.
  const from = lastNewline >= 0 ? tailStart + lastNewline + 1 : tailStart === 0 ? 0 : live.size;
  return { segments: [{ file: live, from }], rotated: false, truncated: false, oldTailLost: false, skippedBytes: from };
}

/**
 * Where the bytes after the cursor are now. The cases, in the order tried:
 * the same file still holds them (plain append); the file was rewritten in
 * place (truncated, or rotated by copy or collapse) and `<path>.1` holds the
 * old content at the same offsets, or the live file holds it shifted by the
 * size of `<path>.1` (a front collapse); the file was renamed away to
 * `<path>.1` (same inode). Otherwise the live file is read from its start.
 */
export async function planReading(path: string, live: OpenFile, cursor: Cursor, opened: FileHandle[]): Promise<ReadPlan> {
  const plan = (segments: Segment[], flags: Partial<ReadPlan> = {}): ReadPlan => ({
    segments,
    rotated: false,
    truncated: false,
    oldTailLost: false,
    skippedBytes: 0,
    ...flags,
  });
  if (cursor.fileId === '') return plan([{ file: live, from: 0 }]);
  const rotatedFile = await openIfExists(`${path}.1`);
  if (rotatedFile) opened.push(rotatedFile.handle);
  if (cursor.fileId === live.id) {
    if (live.size >= cursor.offset && (await anchorMatches(live, cursor.offset, cursor.anchor))) return plan([{ file: live, from: cursor.offset }]);
    if (rotatedFile && rotatedFile.size >= cursor.offset && (await anchorMatches(rotatedFile, cursor.offset, cursor.anchor))) {
      return plan(
        [
          { file: rotatedFile, from: cursor.offset },
          { file: live, from: 0 },
        ],
        { rotated: true, truncated: true },
      );
    }
    if (rotatedFile && rotatedFile.size > 0 && rotatedFile.size < cursor.offset) {
      const shifted = cursor.offset - rotatedFile.size;
      if (live.size >= shifted && (await anchorMatches(live, shifted, cursor.anchor)))
        return plan([{ file: live, from: shifted }], { rotated: true, truncated: true });
    }
    return plan([{ file: live, from: 0 }], { truncated: true });
  }
  if (rotatedFile && rotatedFile.id === cursor.fileId) {
    return plan(
      [
        { file: rotatedFile, from: Math.min(cursor.offset, rotatedFile.size) },
        { file: live, from: 0 },
      ],
      { rotated: true },
    );
  }
  return plan([{ file: live, from: 0 }], { rotated: true, oldTailLost: true });
}

export async function anchorMatches(file: OpenFile, offset: number, anchor: string): Promise<boolean> {
  const expected = Buffer.from(anchor, 'base64');
  if (expected.length === 0) return true;
  if (offset < expected.length) return false;
  const actual = await readAt(file.handle, offset - expected.length, expected.length);
  return actual.equals(expected);
}

export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** The cursor to persist: the first unconsumed byte, with the bytes before it as an anchor. */
export async function cursorAfter(scan: { resume: { segment: number; offset: number } }, segments: Segment[]): Promise<Cursor> {
  const file = segments[scan.resume.segment]!.file;
  const offset = scan.resume.offset;
  const anchorStart = Math.max(0, offset - ANCHOR_BYTES);
  const anchor = await readAt(file.handle, anchorStart, offset - anchorStart);
  return { fileId: file.id, offset, anchor: anchor.toString('base64') };
}

const CHUNK_BYTES = 1024 * 1024;
/** Longest line kept in memory for matching; longer lines are handed over by their first part (their length still counts). */
const MAX_LINE_BYTES = 64 * 1024;

/** Where a scan stopped: the first unconsumed byte, and what the byte budget left unread. */
export interface LineScan {
  /** Segment index and offset in its file. */
  resume: { segment: number; offset: number };
  /** Bytes left unread because of the budget. */
  pendingBytes: number;
}

/**
 * Reads the segments in order as one stream of lines, within a byte budget, handing each complete line to
 * `onLine` with the bytes it consumed (its newline included). A line split across two segments (a rotation
 * mid-line) is joined; a trailing incomplete line is not consumed: the next run resumes at its start. A single
 * line longer than the whole budget is handed over as read, so it cannot pin the cursor forever.
 */
export async function scanLines(
  segments: Segment[],
  budget: number,
  signal: AbortSignal,
  onLine: (line: Buffer, consumedBytes: number) => void,
): Promise<LineScan> {
  const result: LineScan = { resume: { segment: 0, offset: segments[0]!.from }, pendingBytes: 0 };
  let partial: Buffer[] = [];
  let partialBytes = 0;
  let partialKept = 0;
  let remaining = budget;
  const keepPartial = (bytes: Buffer) => {
    partialBytes += bytes.length;
    const kept = bytes.subarray(0, Math.max(0, MAX_LINE_BYTES - partialKept));
    if (kept.length > 0) {
      partial.push(kept);
      partialKept += kept.length;
    }
  };
  for (let index = 0; index < segments.length; index++) {
    const { file, from } = segments[index]!;
    let position = from;
    while (position < file.size) {
      if (remaining === 0) {
        result.pendingBytes += file.size - position;
        break;
      }
      signal.throwIfAborted();
      const chunk = await readAt(file.handle, position, Math.min(CHUNK_BYTES, remaining, file.size - position));
      if (chunk.length === 0) break;
      remaining -= chunk.length;
      let lineStart = 0;
      for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, lineStart)) {
        const piece = chunk.subarray(lineStart, newline);
        if (partialBytes > 0) {
          keepPartial(piece);
          onLine(Buffer.concat(partial), partialBytes + 1);
          partial = [];
          partialBytes = partialKept = 0;
        } else {
          onLine(piece.length > MAX_LINE_BYTES ? piece.subarray(0, MAX_LINE_BYTES) : piece, piece.length + 1);
        }
        lineStart = newline + 1;
        result.resume = { segment: index, offset: position + lineStart };
      }
      if (lineStart < chunk.length) {
        if (partialBytes === 0) result.resume = { segment: index, offset: position + lineStart };
        keepPartial(chunk.subarray(lineStart));
      }
      position += chunk.length;
    }
    if (remaining === 0) {
      for (let later = index + 1; later < segments.length; later++) result.pendingBytes += segments[later]!.file.size - segments[later]!.from;
      break;
    }
  }
  if (remaining === 0 && partialBytes === budget) {
    onLine(Buffer.concat(partial), partialBytes);
    result.resume = positionAfter(segments, budget);
  }
  // An old file read to its end: resume in the next one, so the cursor does not depend on the old file staying at <path>.1.
  while (result.resume.segment < segments.length - 1 && result.resume.offset >= segments[result.resume.segment]!.file.size) {
    const next = result.resume.segment + 1;
    result.resume = { segment: next, offset: segments[next]!.from };
  }
  return result;
}

/** The position just after `budget` bytes of the segments. */
function positionAfter(segments: Segment[], budget: number): { segment: number; offset: number } {
  let left = budget;
  for (let index = 0; index < segments.length; index++) {
    const { file, from } = segments[index]!;
    if (left <= file.size - from) return { segment: index, offset: from + left };
    left -= file.size - from;
  }
  const last = segments.length - 1;
  return { segment: last, offset: segments[last]!.file.size };
}
