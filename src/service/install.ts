import { ExitCode } from '../errors.js';
import type { CliIo } from '../cli-io.js';

/** `nightshift install-service [--user] [--dry-run]`: writes and enables the systemd unit that keeps Nightshift alive. */
export async function runInstallService(args: string[], io: CliIo): Promise<number> {
  void args;
  io.stderr.write('nightshift install-service: not built yet\n');
  return Promise.resolve(ExitCode.configInvalid);
}
