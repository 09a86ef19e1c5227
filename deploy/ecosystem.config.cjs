// pm2 process file for Nightshift: pm2 start deploy/ecosystem.config.cjs && pm2 save
// It runs from the Nightshift folder (cwd below), where .env and nightshift.yml live.
// pm2 never pages by itself: a crash loop shows in `pm2 ls` (status errored, or a climbing ↺ count), and
// the outside watchdog (README, "Who watches the watcher") is what tells you that Nightshift is gone.
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
      // Exit 2 is a configuration error or an unusable database: restarting cannot fix it. pm2 does not restart
      // it (Nightshift has sent one alert on every chat channel it could reach before exiting). With the back-off
      // below, pm2 6 lists it as "waiting restart" all the same (it sets that status before it looks at the exit
      // code): `pm2 describe nightshift` shows exit code 2, and the log says why.
      stop_exit_codes: [2],
      // An exit within 30 s of a start counts as a failed start; after 5 of them pm2 stops trying and shows
      // the app as errored, instead of looping unseen. pm2 counts them only in the first
      // min_uptime × max_restarts (2.5 minutes) after `pm2 start`: a crash loop later is restarted forever,
      // with the back-off below, and shows as a fast-climbing restart count.
      min_uptime: 30_000,
      max_restarts: 5,
      // Waits 1 s before the first restart, then 1.5×, 2.25×, ... up to 15 s; back to 1 s once the app has been
      // up for 30 s. A loop then costs one start per 15 s rather than pm2's default of one right away.
      exp_backoff_restart_delay: 1000,
      // Nightshift exits within 2 s of SIGINT/SIGTERM; pm2 sends SIGKILL after this.
      kill_timeout: 5000,
    },
  ],
};
