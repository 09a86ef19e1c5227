// pm2 process file for Nightshift: pm2 start deploy/ecosystem.config.cjs && pm2 save
// Run it from the Nightshift folder (cwd below), where .env and nightshift.yml live.
module.exports = {
  apps: [
    {
      name: 'nightshift',
      script: 'bin/nightshift.js',
      args: 'start',
      // A smaller young generation keeps the peak RSS down (bench:patrol).
      node_args: '--max-semi-space-size=4',
      cwd: __dirname + '/..',
      // One instance per data directory: Nightshift refuses a second one.
      instances: 1,
      exec_mode: 'fork',
      autorestart: true,
      // Exit 2 is a configuration error or an unusable database: restarting cannot fix it.
      stop_exit_codes: [2],
      restart_delay: 5000,
      kill_timeout: 5000,
    },
  ],
};
