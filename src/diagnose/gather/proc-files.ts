/** Reading another process's /proc files, bounded: a command line can be as long as the kernel allows arguments. */
import { open } from 'node:fs/promises';
import { keepStart, printable } from './bounds.js';

/** Bytes of /proc/<pid>/cmdline read at most; what is shown of it is shorter still. */
const CMDLINE_READ_BYTES = 16 * 1024;
/** What a command line may take in a line of text: enough for the program and its telling arguments. */
const COMMAND_SHOWN_BYTES = 200;

/** The first `maxBytes` of a /proc file (these report a size of 0, so they are read, not stat'ed), and whether there was more. */
export async function readProcFile(path: string, maxBytes: number): Promise<{ data: Buffer; complete: boolean }> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { data: buffer.subarray(0, Math.min(filled, maxBytes)), complete: filled <= maxBytes };
  } finally {
    await handle.close();
  }
}

/**
 * A process's command line, redacted (an argument may be a token) and cut to
 * COMMAND_SHOWN_BYTES; `[name]` for a process without one (a kernel thread, a
 * zombie). Throws when the process is gone or /proc will not tell.
 */
export async function commandLine(pid: number, redact: (text: string) => string): Promise<string> {
  const { data, complete } = await readProcFile(`/proc/${pid}/cmdline`, CMDLINE_READ_BYTES);
  const args = data.toString('utf8').split('\0');
  // The last piece is '' after the final NUL, or an argument cut by the read bound: half an argument may be half a secret.
  args.pop();
  if (args.length === 0 && complete) {
    const { data: comm } = await readProcFile(`/proc/${pid}/comm`, 64);
    return `[${printable(comm.toString('utf8')).trim()}]`;
  }
  const shown = keepStart(redact(printable(args.join(' '))), COMMAND_SHOWN_BYTES);
  return complete || shown.truncated ? shown.text : `${shown.text} …`;
}
