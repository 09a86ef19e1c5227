import { appendFileSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCalls, type FakeSystemd } from './state.js';

/** The stand-in journalctl executable (it needs FAKE_SYSTEMD_DIR; use `fakeJournal(systemd).bin`, which sets it). */
export const FAKE_JOURNALCTL = fileURLToPath(new URL('./journalctl', import.meta.url));

/** One journal entry of a unit; `at` is ms since epoch. */
export interface FakeJournalEntry {
  at: number;
  /** SYSLOG_IDENTIFIER, usually the program's name. */
  identifier: string;
  pid: number;
  message: string;
}

/** A stand-in journal beside a stand-in systemd: a `journalctl` in the same folder as its `systemctl`. */
export interface FakeJournal {
  bin: string;
  /** Appends entries to a unit's journal; `user` puts them in the --user journal. */
  append(unit: string, entries: FakeJournalEntry[], options?: { user?: boolean }): void;
  /** From now on every journalctl call hangs until it is killed. */
  hang(): void;
  /** The argv of every journalctl call so far, oldest first. */
  calls(): string[][];
}

/** Creates the journal folders and a `journalctl` next to `systemd.bin`, bound to the same state folder. */
export function fakeJournal(systemd: FakeSystemd): FakeJournal {
  const journal = join(systemd.dir, 'journal');
  for (const scope of ['system', 'user']) mkdirSync(join(journal, scope), { recursive: true });
  const bin = join(dirname(systemd.bin), 'journalctl');
  writeFileSync(bin, `#!/bin/sh\nFAKE_SYSTEMD_DIR='${systemd.dir}' exec '${FAKE_JOURNALCTL}' "$@"\n`);
  chmodSync(bin, 0o755);
  return {
    bin,
    append(unit, entries, options = {}) {
      const file = join(journal, options.user ? 'user' : 'system', `${unit}.jsonl`);
      appendFileSync(file, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    },
    hang: () => writeFileSync(join(journal, 'hang'), ''),
    calls: () => readCalls(join(systemd.dir, 'journalctl-calls.jsonl')),
  };
}
