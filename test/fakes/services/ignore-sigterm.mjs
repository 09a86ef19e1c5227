// A stubborn child: ignores SIGTERM, so only SIGKILL stops it. Says "ready" once the trap is set.
process.on('SIGTERM', () => {
  process.stdout.write('ignoring SIGTERM\n');
});
setInterval(() => {}, 60_000);
process.stdout.write('ready\n');
