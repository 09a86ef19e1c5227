// The crash-looping service of bench:peers: appends one line (its pid and the time, ms since the epoch)
// to the file given as its first argument as it starts, then exits 1 after 100 ms, like a service
// that dies on a bad config right after start-up. The lines count the restarts its supervisor made.
import { appendFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
appendFileSync(file, `${process.pid} ${Date.now()}\n`);
setTimeout(() => process.exit(1), 100);
