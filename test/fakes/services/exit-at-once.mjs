// A service that dies during start-up: one line on stdout, "boom" on stderr, exit code 3.
process.stdout.write('starting\n');
process.stderr.write('config error: boom\n');
process.exit(3);
