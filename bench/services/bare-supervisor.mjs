// The floor of the recovery benchmark: a bare parent that respawns the service
// the instant it exits, with nothing else to do.
import { spawn } from 'node:child_process';

const [service, port] = process.argv.slice(2);
let current;
let stopping = false;
function start() {
  current = spawn(process.execPath, [service, port], { stdio: 'ignore' });
  current.on('exit', () => {
    if (!stopping) start();
  });
}
process.on('SIGTERM', () => {
  stopping = true;
  current?.kill('SIGKILL');
  process.exit(0);
});
start();
