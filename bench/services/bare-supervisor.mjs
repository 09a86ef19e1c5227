// The floor of the recovery benchmark: a bare parent that respawns the service
// the instant it exits, with nothing else to do.
import { spawn } from 'node:child_process';

const [service, port] = process.argv.slice(2);
let stopping = false;
function start() {
  const child = spawn(process.execPath, [service, port], { stdio: 'ignore' });
  child.on('exit', () => {
    if (!stopping) start();
  });
  process.once('SIGTERM', () => {
    stopping = true;
    child.kill('SIGTERM');
    process.exit(0);
  });
}
start();
