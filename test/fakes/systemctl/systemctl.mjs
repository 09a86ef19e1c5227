// A stand-in for systemctl(1): `show` and `restart` of service and timer units, for tests on a machine without systemd.
//
// State: $FAKE_SYSTEMD_DIR/{system,user}/<unit>.json, one file per loaded unit (written by tests through state.ts);
// a unit without a file is not found. Every call appends its argv to $FAKE_SYSTEMD_DIR/calls.jsonl.
//
// Where the output format comes from:
// - systemctl(1), "show": properties are printed as KEY=VALUE lines for computer parsing; --property= selects them.
//   The `-p` option also turns on BUS_PRINT_PROPERTY_SHOW_EMPTY ("If the user asked for a particular property, show
//   it, even if it is empty": systemd src/systemctl/systemctl.c), so a requested property with no value prints `Key=`.
// - The ORDER is the D-Bus property order, not the order given to --property (systemd issue #4907, closed as not
//   planned, and #28205): `show` calls GetAll on the unit object, which lists the type's own interface first
//   (org.freedesktop.systemd1.Service / .Timer) and org.freedesktop.systemd1.Unit after it, each in the order of its
//   vtable as documented in org.freedesktop.systemd1(5).
// - Timestamps (…Timestamp, NextElapseUSecRealtime, LastTriggerUSec) are printed by FORMAT_TIMESTAMP,
//   "Sun 2025-11-23 03:00:00 UTC", and as empty when unset (systemd src/shared/bus-print-properties.c).
// - ExecMainCode is the siginfo code of the main process's exit: 0 none yet, 1 CLD_EXITED (ExecMainStatus = exit
//   status), 2 CLD_KILLED, 3 CLD_DUMPED (ExecMainStatus = signal number).
// - An unknown unit still shows: LoadState=not-found, ActiveState=inactive, SubState=dead and the type's defaults;
//   `show` exits 0 for it. `restart` of an unknown unit fails with exit 5 ("Unit … not found.").
// - ActiveEnterTimestampMonotonic is CLOCK_MONOTONIC in µs (dual_timestamp's monotonic half), 0 when unset; the clock
//   is the machine's, so a test's process.hrtime reads the same one.
// - A unit with `crashesAfterStart` ends that long after each start (the state is brought up to date whenever it is
//   read): failed with its exit status, or with `autoRestart` (Restart=always) started again under a new MainPID
//   with NRestarts+1, as systemd would.
// - `show --value` prints the values alone, one a line, in the same order (systemctl(1), --value).
// - `daemon-reload` succeeds silently; `enable [--now] UNIT` marks the unit enabled (loading it when it is not) and with
//   --now starts it unless it runs, as `systemctl enable --now` does (for install-service's tests).
// - `list-unit-files` prints one "UNIT-FILE STATE PRESET" row per unit file (header and "N unit files listed." footer
//   unless --no-legend), filtered by --type= and --state=; a unit's file state is its `unitFileState` (enabled when unset)
//   and `show -p FragmentPath` its `fragmentPath` (empty when unset, as for a unit without a file).
// - A manual start flushes NRestarts (systemd src/core/service.c: flush_n_restarts is set when a service stops
//   without auto-restart and applied on the next start), so `restart` here sets NRestarts=0.
import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SERVICE_PROPERTIES = ['MainPID', 'Result', 'NRestarts', 'ExecMainCode', 'ExecMainStatus'];
const TIMER_PROPERTIES = ['Unit', 'NextElapseUSecRealtime', 'LastTriggerUSec', 'Result'];
const UNIT_PROPERTIES = [
  'Id',
  'LoadState',
  'ActiveState',
  'SubState',
  'FragmentPath',
  'UnitFileState',
  'ActiveEnterTimestamp',
  'ActiveEnterTimestampMonotonic',
];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const stateDir = process.env.FAKE_SYSTEMD_DIR;
if (!stateDir) {
  // What the real command prints on a machine not booted with systemd.
  process.stderr.write("System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n");
  process.exit(1);
}
appendFileSync(join(stateDir, 'calls.jsonl'), `${JSON.stringify(process.argv.slice(2))}\n`);

const { scope, verb, units, properties, valueOnly, now, filters } = parseArgs(process.argv.slice(2));
if (verb === 'show') process.exit(show());
if (verb === 'list-unit-files') process.exit(listUnitFiles());
if (verb === 'restart') process.exit(restart());
if (verb === 'daemon-reload') process.exit(0);
if (verb === 'enable') process.exit(enable());
process.stderr.write(verb ? `Unknown command verb '${verb}'.\n` : 'Too few arguments.\n');
process.exit(1);

function parseArgs(args) {
  const parsed = {
    scope: 'system',
    verb: undefined,
    units: [],
    properties: [],
    valueOnly: false,
    now: false,
    filters: { types: [], states: [], legend: true },
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--user') parsed.scope = 'user';
    else if (arg === '--system') parsed.scope = 'system';
    else if (arg === '--no-pager' || arg === '--no-ask-password' || arg === '--quiet' || arg === '-q') continue;
    else if (arg === '--value') parsed.valueOnly = true;
    else if (arg === '--now') parsed.now = true;
    else if (arg.startsWith('--type=')) parsed.filters.types.push(...arg.slice('--type='.length).split(','));
    else if (arg.startsWith('--state=')) parsed.filters.states.push(...arg.slice('--state='.length).split(','));
    else if (arg === '--no-legend') parsed.filters.legend = false;
    else if (arg.startsWith('--property=')) parsed.properties.push(...arg.slice('--property='.length).split(','));
    else if (arg === '-p' || arg === '--property') parsed.properties.push(...(args[++i] ?? '').split(','));
    else if (arg.startsWith('-p')) parsed.properties.push(...arg.slice(2).split(','));
    else if (arg.startsWith('-')) {
      process.stderr.write(`systemctl: unrecognized option '${arg}'\n`);
      process.exit(1);
    } else if (parsed.verb === undefined) parsed.verb = arg;
    else parsed.units.push(arg.includes('.') ? arg : `${arg}.service`);
  }
  return parsed;
}

function unitFile(unit) {
  return join(stateDir, scope, `${unit}.json`);
}

function loadUnit(unit) {
  const file = unitFile(unit);
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8'));
  if (applyCrashes(state)) writeFileSync(file, JSON.stringify(state, null, 2));
  return state;
}

/** CLOCK_MONOTONIC in µs, as systemd stamps its *Monotonic properties. */
function monotonicUs(ms = Date.now()) {
  return Number(process.hrtime.bigint() / 1000n) - (Date.now() - ms) * 1000;
}

/** Plays the crashes a `crashesAfterStart` unit had since it was last read; true when the state changed. */
function applyCrashes(state) {
  const crash = state.crashesAfterStart;
  let changed = false;
  while (crash && state.crashAt && state.crashAt <= Date.now()) {
    const at = state.crashAt;
    changed = true;
    if (crash.autoRestart) {
      Object.assign(state, {
        activeState: 'active',
        subState: 'running',
        mainPid: state.mainPid + 17,
        nRestarts: (state.nRestarts ?? 0) + 1,
        execMainCode: 1,
        execMainStatus: crash.exitStatus ?? 1,
        activeEnterTimestamp: at,
        activeEnterMonotonic: monotonicUs(at),
        crashAt: at + crash.afterMs,
      });
    } else {
      markExited(state, crash.exitStatus);
      state.crashAt = null;
    }
  }
  return changed;
}

/** The main process exited with `exitStatus` (1 when unset) and the unit failed, as systemd leaves it without Restart=. */
function markExited(state, exitStatus = 1) {
  Object.assign(state, { activeState: 'failed', subState: 'failed', result: 'exit-code', mainPid: 0, execMainCode: 1, execMainStatus: exitStatus });
}

function show() {
  const blocks = units.map((unit) => {
    const state = loadUnit(unit);
    const isTimer = unit.endsWith('.timer');
    const values = {
      Id: unit,
      LoadState: state ? 'loaded' : 'not-found',
      ActiveState: state?.activeState ?? 'inactive',
      SubState: state?.subState ?? 'dead',
      FragmentPath: state?.fragmentPath ?? '',
      UnitFileState: state?.unitFileState ?? '',
      ActiveEnterTimestamp: formatTimestamp(state?.activeEnterTimestamp),
      ActiveEnterTimestampMonotonic: String(state?.activeEnterMonotonic ?? 0),
      Result: state?.result ?? 'success',
    };
    if (isTimer) {
      Object.assign(values, {
        Unit: state?.unit ?? unit.replace(/\.timer$/, '.service'),
        NextElapseUSecRealtime: formatTimestamp(state?.nextElapse),
        LastTriggerUSec: formatTimestamp(state?.lastTrigger),
      });
    } else {
      Object.assign(values, {
        MainPID: String(state?.mainPid ?? 0),
        NRestarts: String(state?.nRestarts ?? 0),
        ExecMainCode: String(state?.execMainCode ?? 0),
        ExecMainStatus: String(state?.execMainStatus ?? 0),
      });
    }
    const order = [...(isTimer ? TIMER_PROPERTIES : SERVICE_PROPERTIES), ...UNIT_PROPERTIES];
    const shown = properties.length > 0 ? order.filter((key) => properties.includes(key)) : order.filter((key) => values[key] !== '');
    return shown.map((key) => (valueOnly ? `${values[key]}\n` : `${key}=${values[key]}\n`)).join('');
  });
  // Several units are separated by an empty line.
  process.stdout.write(blocks.join('\n'));
  return 0;
}

function listUnitFiles() {
  const dir = join(stateDir, scope);
  const rows = readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort()
    .map((unit) => ({ unit, state: loadUnit(unit) }))
    .map(({ unit, state }) => ({ unit, fileState: state?.unitFileState ?? 'enabled' }))
    .filter(({ unit, fileState }) => {
      const type = unit.slice(unit.lastIndexOf('.') + 1);
      return (filters.types.length === 0 || filters.types.includes(type)) && (filters.states.length === 0 || filters.states.includes(fileState));
    });
  const width = Math.max(9, ...rows.map(({ unit }) => unit.length)) + 1;
  const lines = rows.map(({ unit, fileState }) => `${unit.padEnd(width)}${fileState.padEnd(8)}${fileState === 'enabled' ? 'enabled' : 'disabled'}\n`);
  if (filters.legend) process.stdout.write(`${'UNIT FILE'.padEnd(width)}STATE   PRESET\n${lines.join('')}\n${rows.length} unit files listed.\n`);
  else process.stdout.write(lines.join(''));
  return 0;
}

function restart() {
  if (units.length === 0) {
    process.stderr.write('Too few arguments.\n');
    return 1;
  }
  for (const unit of units) {
    const state = loadUnit(unit);
    if (!state) {
      process.stderr.write(`Failed to restart ${unit}: Unit ${unit} not found.\n`);
      return 5;
    }
    const now = Date.now();
    state.restartCalls = (state.restartCalls ?? 0) + 1;
    if (state.restartFails) {
      // A start job that fails (Type=oneshot/notify/forking): the unit ends failed and systemctl reports the job.
      markExited(state, state.restartFails.exitStatus);
      writeFileSync(unitFile(unit), JSON.stringify(state, null, 2));
      process.stderr.write(
        `Job for ${unit} failed because the control process exited with error code.\nSee "systemctl${scope === 'user' ? ' --user' : ''} status ${unit}" and "journalctl${scope === 'user' ? ' --user' : ''} -xeu ${unit}" for details.\n`,
      );
      return 1;
    }
    if (unit.endsWith('.timer')) {
      Object.assign(state, {
        activeState: 'active',
        subState: 'waiting',
        result: 'success',
        activeEnterTimestamp: now,
        activeEnterMonotonic: monotonicUs(now),
      });
    } else {
      Object.assign(state, {
        activeState: 'active',
        subState: 'running',
        result: 'success',
        nRestarts: 0,
        mainPid: (state.mainPid || 4000) + 17,
        execMainCode: 0,
        execMainStatus: 0,
        activeEnterTimestamp: now,
        activeEnterMonotonic: monotonicUs(now),
        crashAt: state.crashesAfterStart ? now + state.crashesAfterStart.afterMs : null,
      });
    }
    writeFileSync(unitFile(unit), JSON.stringify(state, null, 2));
  }
  return 0;
}

function enable() {
  if (units.length === 0) {
    process.stderr.write('Too few arguments.\n');
    return 1;
  }
  for (const unit of units) {
    const state = loadUnit(unit) ?? { activeState: 'inactive', subState: 'dead' };
    state.enabled = true;
    if (now && state.activeState !== 'active') {
      const at = Date.now();
      Object.assign(state, {
        activeState: 'active',
        subState: 'running',
        result: 'success',
        mainPid: (state.mainPid || 4000) + 17,
        activeEnterTimestamp: at,
        activeEnterMonotonic: monotonicUs(at),
      });
    }
    writeFileSync(unitFile(unit), JSON.stringify(state, null, 2));
  }
  return 0;
}

/** FORMAT_TIMESTAMP in UTC: "Sun 2025-11-23 03:00:00 UTC"; empty for an unset time. */
function formatTimestamp(ms) {
  if (ms === undefined || ms === null || ms === 0) return '';
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}
