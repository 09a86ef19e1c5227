// A stand-in for journalctl(1): the last entries of one unit (`-u UNIT -n N -o short-iso`), for tests on a machine without
// systemd. Only what Nightshift asks is implemented; any other option is refused the way journalctl refuses it.
//
// State: $FAKE_SYSTEMD_DIR/journal/{system,user}/<unit>.jsonl, one entry a line ({ at, identifier, pid, message }),
// written by tests through journal.ts. $FAKE_SYSTEMD_DIR/journal/hang makes every call hang until it is killed (a journal
// on a slow disk). Every call appends its argv to $FAKE_SYSTEMD_DIR/journalctl-calls.jsonl.
//
// Where the output format comes from (journalctl(1), systemd src/shared/logs-show.c):
// - `-o short-iso`: "2025-11-23T03:00:00+00:00 host identifier[pid]: message", one line an entry, oldest first.
// - `-n N` shows the N most recent entries; `-u NAME` without a type suffix means NAME.service (unit name mangling).
// - No matching entry: "-- No entries --" on stdout, exit 0 (also for a unit that does not exist).
// - An unknown option: "journalctl: unrecognized option '--x'" on stderr, exit 1.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const stateDir = process.env.FAKE_SYSTEMD_DIR;
if (!stateDir) {
  // What the real command prints where no journal was ever written.
  process.stdout.write('No journal files were found.\n-- No entries --\n');
  process.exit(0);
}
appendFileSync(join(stateDir, 'journalctl-calls.jsonl'), `${JSON.stringify(process.argv.slice(2))}\n`);

const { scope, units, lines, output } = parseArgs(process.argv.slice(2));
if (output !== 'short-iso') {
  process.stderr.write(`The fake journalctl implements only -o short-iso, not '${output}'.\n`);
  process.exit(1);
}
if (existsSync(join(stateDir, 'journal', 'hang'))) {
  // Stays until killed, like a read stuck on a slow disk.
  setInterval(() => {}, 60_000);
} else {
  process.stdout.write(show());
}

function parseArgs(args) {
  const parsed = { scope: 'system', units: [], lines: undefined, output: 'short' };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (long) => (arg.startsWith(`${long}=`) ? arg.slice(long.length + 1) : args[++i]);
    if (arg === '--user') parsed.scope = 'user';
    else if (arg === '--system') parsed.scope = 'system';
    else if (arg === '--no-pager' || arg === '-q' || arg === '--quiet') continue;
    else if (arg === '-u' || arg === '--unit' || arg.startsWith('--unit=')) parsed.units.push(mangle(value('--unit')));
    else if (arg === '-n' || arg === '--lines' || arg.startsWith('--lines=')) parsed.lines = Number(value('--lines'));
    else if (arg === '-o' || arg === '--output' || arg.startsWith('--output=')) parsed.output = value('--output');
    else {
      process.stderr.write(`journalctl: unrecognized option '${arg}'\n`);
      process.exit(1);
    }
  }
  return parsed;
}

function mangle(unit) {
  return unit.includes('.') ? unit : `${unit}.service`;
}

function show() {
  const entries = units
    .flatMap((unit) => {
      const file = join(stateDir, 'journal', scope, `${unit}.jsonl`);
      return existsSync(file)
        ? readFileSync(file, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line))
        : [];
    })
    .sort((a, b) => a.at - b.at);
  const shown = lines === undefined ? entries : entries.slice(-lines);
  if (shown.length === 0) return '-- No entries --\n';
  return shown.map((e) => `${formatIso(e.at)} ${hostname()} ${e.identifier}[${e.pid}]: ${e.message}\n`).join('');
}

/** short-iso in UTC: "2025-11-23T03:00:00+00:00". */
function formatIso(ms) {
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}
