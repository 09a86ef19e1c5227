import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes `file` through a temporary file beside it and a rename over it: a
 * crash, or a reader at the same moment, sees the old content or the new,
 * never half of it. The temporary name carries the pid, so two processes
 * never write the same temporary file.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, data, { mode });
  renameSync(temporary, file);
}
