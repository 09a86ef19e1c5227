import { dirname } from 'node:path';

/** The unit that runs Nightshift, and the template its OnFailure= starts. */
export const MAIN_UNIT = 'nightshift.service';
export const ALERT_UNIT = 'nightshift-alert@.service';

/** The PATH systemd gives a service that sets none (systemd.exec(5), "Environment Variables in Spawned Processes"). */
const SYSTEMD_DEFAULT_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Everything that differs between two installs of the units. */
export interface UnitParameters {
  /** system: /etc/systemd/system, runs as `user`; user: the invoking user's own manager (`systemctl --user`). */
  scope: 'system' | 'user';
  /** User= of a system unit; undefined runs it as root. Ignored for a user unit. */
  user?: string | undefined;
  /** Where .env and nightshift.yml live. */
  workingDirectory: string;
  /** The node binary (absolute). */
  node: string;
  /** The package's bin/nightshift.js (absolute). */
  bin: string;
  /** deploy/nightshift-alert.sh (absolute). */
  alertScript: string;
  /** Adds SupplementaryGroups=systemd-journal to the alert, so that it can quote the journal of a system unit. */
  journalGroup: boolean;
  /** The opening comment: how the file came to be and how to change it. */
  header: string[];
}

/** A unit file's name and text. */
export interface UnitFile {
  name: string;
  text: string;
}

/** Renders both units for one install; the text depends on nothing but `p`, so a re-run can tell "unchanged". */
export function renderUnits(p: UnitParameters): UnitFile[] {
  return [
    { name: MAIN_UNIT, text: renderMain(p) },
    { name: ALERT_UNIT, text: renderAlert(p) },
  ];
}

function renderMain(p: UnitParameters): string {
  const system = p.scope === 'system';
  const lines = [
    ...p.header.map(comment),
    '[Unit]',
    'Description=Nightshift: patrols and heals the agent stack',
    ...(system
      ? ['# Chat platforms and ntfy are reached over the network.', 'After=network-online.target', 'Wants=network-online.target']
      : ['# (network-online.target is a system unit: a user manager cannot order after it.)']),
    '# A crash loop must not go unnoticed: the 6th start within 10 minutes is refused, the unit fails with',
    '# start-limit-hit and OnFailure= pages (about half a minute of a loop at RestartSec=5). After that',
    '# systemd leaves it stopped: fix the cause, then `systemctl reset-failed` and `systemctl start` it.',
    'StartLimitIntervalSec=600',
    'StartLimitBurst=5',
    '# Started when this unit enters the failed state: the start limit above, or exit 2 below. On systemd 252',
    '# a restart does not pass through "failed", so a single crash that Restart= fixes does not page. (From',
    '# 254 on it does; the alert script then sees the unit restarting and stays quiet.) %N: this unit, no suffix.',
    'OnFailure=nightshift-alert@%N.service',
    '',
    '[Service]',
    '# exec: `systemctl start` fails at once when the node binary cannot be run, instead of reporting "started".',
    'Type=exec',
    ...(system && p.user !== undefined ? [`User=${p.user}`] : []),
    '# .env and nightshift.yml are read from here; Nightshift loads .env itself (EnvironmentFile= parses',
    '# quotes and comments differently), so it stays the one place for secrets.',
    `WorkingDirectory=${specifierSafe(p.workingDirectory)}`,
    "# node's folder first: pm2 and other tools installed with npm, which checks and heals run, live beside it.",
    `Environment=${quoteArg(`PATH=${servicePath(p.node)}`, 'environment')}`,
    '# --max-semi-space-size=4: a smaller young generation keeps the peak RSS down (bench:patrol).',
    `ExecStart=${[p.node, '--max-semi-space-size=4', p.bin, 'start'].map((word) => quoteArg(word)).join(' ')}`,
    '# SIGHUP makes Nightshift re-read nightshift.yml, as `nightshift reload` does: added checks start,',
    '# removed ones stop, changed ones restart, a bad file changes nothing. `systemctl reload nightshift`.',
    'ExecReload=/bin/kill -HUP $MAINPID',
    '# always: a crash, an out-of-memory kill, any exit but the one below, brings it back after 5 s.',
    'Restart=always',
    'RestartSec=5',
    '# Exit 2 is a configuration error or an unusable database (damaged, read-only, from a newer Nightshift):',
    '# restarting cannot fix it. The unit fails at once, which starts OnFailure=; Nightshift has also sent one',
    '# alert on every chat channel it could reach before exiting.',
    'RestartPreventExitStatus=2',
    '# Nightshift stops its own children and exits within 2 s of SIGTERM; 10 s leaves room for a slow disk.',
    'TimeoutStopSec=10',
    '# mixed: SIGTERM to Nightshift alone, so that it stops the processes it supervises in order; whatever is',
    '# left in the cgroup after it exits (or after TimeoutStopSec) gets SIGKILL. A pm2 daemon first spawned by',
    "# a heal would be in this cgroup too: start pm2 on its own (pm2 startup) so that it outlives Nightshift's stop.",
    'KillMode=mixed',
    '',
    '[Install]',
    `WantedBy=${system ? 'multi-user.target' : 'default.target'}`,
  ];
  return `${lines.join('\n')}\n`;
}

function renderAlert(p: UnitParameters): string {
  const system = p.scope === 'system';
  const lines = [
    ...p.header.map(comment),
    `# Started by ${MAIN_UNIT}'s OnFailure= (as nightshift-alert@nightshift.service): posts one urgent ntfy`,
    '# message with the failed unit and the last lines of its journal. NTFY_URL, NTFY_TOPIC, NTFY_TOKEN come from',
    '# .env in WorkingDirectory, as for Nightshift. systemd passes MONITOR_SERVICE_RESULT and MONITOR_EXIT_STATUS,',
    '# from which the message says why. No OnFailure= here: a failed alert must not start another one.',
    '[Unit]',
    'Description=Nightshift alert: %i has failed',
    '',
    '[Service]',
    'Type=oneshot',
    ...(system && p.user !== undefined
      ? [
          '# The same user as Nightshift: it reads the same .env, which need not be readable by anyone else.',
          `User=${p.user}`,
          ...(p.journalGroup ? ["# To read the failed unit's lines in the system journal (journalctl -u).", 'SupplementaryGroups=systemd-journal'] : []),
        ]
      : []),
    `WorkingDirectory=${specifierSafe(p.workingDirectory)}`,
    `ExecStart=${['/bin/sh', p.alertScript, ...(system ? [] : ['--user'])].map((word) => quoteArg(word)).join(' ')} %i`,
    '# curl tries 4 times, 10 s each, with pauses: the alert ends well within this.',
    'TimeoutStartSec=90',
  ];
  return `${lines.join('\n')}\n`;
}

function comment(line: string): string {
  return line === '' ? '#' : `# ${line}`;
}

/** PATH for the service: the folder of `node` (unless systemd's default has it), then systemd's default. */
function servicePath(node: string): string {
  const nodeDir = dirname(node);
  return [...(SYSTEMD_DEFAULT_PATH.includes(nodeDir) ? [] : [nodeDir]), ...SYSTEMD_DEFAULT_PATH].join(':');
}

/** `%` starts a specifier in every unit setting; a literal one is `%%`. */
function specifierSafe(value: string): string {
  if (/[\n\r]/.test(value)) throw new Error(`a path with a line break cannot go into a unit file: ${JSON.stringify(value)}`);
  return value.replaceAll('%', '%%');
}

/**
 * One word of an Exec*= line (or an Environment= assignment): specifiers
 * escaped, `$` too where systemd would expand it (Exec* only), and
 * double-quoted (backslash escapes inside) when it has blanks or quotes.
 */
export function quoteArg(word: string, setting: 'exec' | 'environment' = 'exec'): string {
  const safe = specifierSafe(word);
  const escaped = setting === 'exec' ? safe.replaceAll('$', '$$$$') : safe;
  if (!/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The units as shipped in deploy/: the /opt/nightshift layout of a hand install. */
export const SHIPPED_EXAMPLE: UnitParameters = {
  scope: 'system',
  user: 'nightshift',
  workingDirectory: '/opt/nightshift',
  node: '/usr/bin/node',
  bin: '/opt/nightshift/bin/nightshift.js',
  alertScript: '/opt/nightshift/deploy/nightshift-alert.sh',
  journalGroup: true,
  header: [
    'systemd units for Nightshift, for a checkout in /opt/nightshift run by the user nightshift.',
    'Easiest: run `nightshift install-service` in the folder with .env and nightshift.yml; it writes',
    "both units with this machine's paths and user, then enables them. By hand: copy nightshift.service",
    'and nightshift-alert@.service to /etc/systemd/system/, change the paths and User= in both, then',
    '`systemctl daemon-reload && systemctl enable --now nightshift`. Logs: journalctl -u nightshift -f',
  ],
};

/** The opening comment of units written by install-service. */
export function installedHeader(workingDirectory: string, scope: 'system' | 'user'): string[] {
  return [
    `Written by \`nightshift install-service${scope === 'user' ? ' --user' : ''}\` for ${workingDirectory}.`,
    'Change it by running that again (--force replaces a file edited since), or with a drop-in:',
    `\`systemctl${scope === 'user' ? ' --user' : ''} edit nightshift\` keeps local settings apart from this file.`,
  ];
}
