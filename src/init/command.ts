import type { CliIo } from '../cli-io.js';
import { ExitCode } from '../errors.js';

/** `nightshift init [--yes] [--dry-run]`: discovers what runs here and writes a commented nightshift.yml. */
export async function runInit(args: string[], io: CliIo): Promise<number> {
  void args;
  io.stderr.write('nightshift init: not built yet\n');
  return Promise.resolve(ExitCode.configInvalid);
}
