import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import { COMMAND_NAMES } from './generators.js';
import { parseCommandText } from '../../src/bot/dispatch.js';
import { snapshotState, type StateSnapshot } from './state.js';

/** Inputs per adapter the issue asks for, delivered in batches of BATCH (one state snapshot and one sentinel per batch). */
const INPUTS_PER_ADAPTER = Number(process.env['FUZZ_INPUTS'] ?? 10_000);
const BATCH = 100;
/** Fixed, so a failure names a seed that replays it; override with FUZZ_SEED to explore. */
export const SEED = Number(process.env['FUZZ_SEED'] ?? 16);

/** One run of a chat fuzz property: BATCH inputs drawn from `input`. */
export function batchOf<T>(input: fc.Arbitrary<T>): fc.Arbitrary<T[]> {
  return fc.array(input, { minLength: BATCH, maxLength: BATCH });
}
/** Who sends a batch: a stranger (nothing may change) or an operator. */
export const SENDER = fc.constantFrom('stranger' as const, 'operator' as const);
/** fc.assert's parameters for a chat fuzz property: INPUTS_PER_ADAPTER inputs in batches, from the fixed seed, stopping at the first failure. */
export const BATCH_RUNS = { numRuns: Math.ceil(INPUTS_PER_ADAPTER / BATCH), seed: SEED, endOnFailure: true, includeErrorInReport: true } as const;

/** What a refusal or a hint to someone who may do nothing says: why, and that nothing changed. */
export const EXPLAINS_REFUSAL = /not on this channel's allow-list|needs the (viewer|operator|admin) role|not allowed|Nothing was changed|nothing was changed/i;
/** A refusal itself (of a command or an answer): who may, and that this person may not. */
const REFUSAL = /not on this channel's allow-list|needs the (viewer|operator|admin) role, and you are not/;

/**
 * Collects every unhandled rejection and uncaught exception while the test
 * runs: the bot runs in this process, so any of them is the bot's.
 */
export function watchCrashes(t: TestContext): () => unknown[] {
  const seen: unknown[] = [];
  const onFailure = (err: unknown) => void seen.push(err);
  process.on('unhandledRejection', onFailure);
  process.on('uncaughtException', onFailure);
  t.after(() => {
    process.off('unhandledRejection', onFailure);
    process.off('uncaughtException', onFailure);
  });
  return () => seen;
}

/** Log lines at error level or above: a command or adapter that failed inside Nightshift. */
export function errorLines(lines: () => ReadonlyArray<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines().filter((l) => Number(l['level']) >= 50);
}

/** Asserts the watched state is what it was, naming the tables that changed. */
export function assertUnchanged(db: Database, before: StateSnapshot, what: string): void {
  const after = snapshotState(db);
  const changed = Object.keys(before).filter((table) => before[table] !== after[table]);
  assert.deepEqual(changed, [], `${what} changed ${changed.join(', ')}: ${changed.map((t) => `${t}: ${before[t]} -> ${after[t]}`).join('\n')}`);
}

/** The bot is alive and well after a batch: nothing crashed, nothing failed inside it. */
export function assertHealthy(crashes: () => unknown[], lines: () => ReadonlyArray<Record<string, unknown>>): void {
  assert.deepEqual(crashes().map(String), [], 'no unhandled rejection or uncaught exception');
  assert.deepEqual(
    errorLines(lines).map((l) => `${String(l['msg'])}: ${JSON.stringify(l['err'] ?? l['error'] ?? '').slice(0, 300)}`),
    [],
    'no error inside Nightshift',
  );
}

/** True when `text` carries a mention Discord would ping or a platform would render live. */
export function hasLiveMention(text: string): boolean {
  return /@(everyone|here)\b|<@[!&]?\d+>|<#\d+>/.test(text);
}

/**
 * Every rejection explains itself (README "Commands", "Who may do what"):
 * an unknown command is pointed to /help, and a refusal says why; a person
 * is told of a refusal once per rate-limit window (the tests run well
 * within one) and gets no answer to refusals after that, except where the
 * platform needs an answer to every interaction (Discord: a private one).
 * Someone with a role gets an answer to every command that is not such a repeat.
 * Feed it every typed message in the order the bot handled them.
 */
export class RefusalLedger {
  private readonly told = new Set<string>();

  constructor(private readonly options: { repeatsAnswered: boolean }) {}

  /** Notes the refusals among `answers` to something `person` sent (a command, a button press); returns them. */
  observe(person: string, answers: readonly string[]): string[] {
    const refusals = answers.filter((a) => REFUSAL.test(a));
    if (refusals.length > 0) {
      assert.ok(this.options.repeatsAnswered || !this.told.has(person), `${person} was told of a refusal twice within one window: ${JSON.stringify(refusals)}`);
      this.told.add(person);
    }
    return refusals;
  }

  check(person: string, typed: string, hasRole: boolean, answers: readonly string[]): void {
    // An answer word is refused like a command: it counts towards the person's one told refusal.
    const refusals = this.observe(person, answers);
    const text = typed.trim();
    if (!text.startsWith('/')) return;
    if (!hasRole) {
      if (this.options.repeatsAnswered) assert.ok(refusals.length > 0, `no refusal for ${person}'s ${JSON.stringify(text)}: ${JSON.stringify(answers)}`);
      assert.equal(answers.length, refusals.length, `an answer to ${person}'s ${JSON.stringify(text)} that is not a refusal: ${JSON.stringify(answers)}`);
      return;
    }
    if (answers.length === 0) {
      assert.ok(this.told.has(person), `no answer to ${person}'s ${JSON.stringify(text)}`);
      return;
    }
    const parsed = parseCommandText(text);
    if (refusals.length === 0 && (!parsed || !COMMAND_NAMES.includes(parsed.name.replaceAll('_', '-')))) {
      assert.match(answers.join('\n'), /\/help/, `the answer to the unknown command ${JSON.stringify(text)} does not point to /help`);
    }
  }
}

/** True when `text` holds a Discord masked link (its target hidden behind the text) that is not escaped. */
export function hasLiveMaskedLink(text: string): boolean {
  return /(?<!\\)\[[^\]]*\]\(<?https?:\/\//.test(text);
}
