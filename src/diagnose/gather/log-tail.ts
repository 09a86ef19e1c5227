import { constants, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { CheckKindName } from '../../checks/index.js';
import { describeExit, runCommand, tail } from '../../exec.js';
import { errorMessage } from '../../errors.js';
import { dropPartialFirstWord } from '../../util/text.js';
import { displayPath, keepEnd, printable } from './bounds.js';
import { detailString, forKind, paramsOf } from './facts.js';
import type { GatherTarget, GatherTool, Look, LookContext, LookResult, PlanContext } from './types.js';

/** Lines a tail shows at most: enough for a stack trace's end, little enough for a prompt. */
const TAIL_LINES = 40;
/** Characters of journalctl's output kept: 40 entries of a chatty service fit. */
const JOURNAL_KEEP_CHARS = 64 * 1024;
/** The longest first word runCommand is taken to have dropped from a cut output. */
const JOURNAL_CUT_SLACK = 1024;

/**
 * The last lines of the check's log: a supervised process's log file, a
 * watched log's file, a pm2 app's log files (when its last run named them)
 * or a systemd unit's journal. A file is read from its end, never whole.
 */
export const logTailTool: GatherTool = {
  name: 'log-tail',
  newestLast: true,
  plan: (target, context) => forKind(planners, target.check.kind)?.(target, context) ?? [],
};

type LogPlanner = (target: GatherTarget, context: PlanContext) => Look[];

const planners: Partial<Record<CheckKindName, LogPlanner>> = {
  // The supervisor names its log file in a failure's details; a healthy run's details do not, and the file is always here.
  process: ({ check, lastDetails }, { dataDir }) => [fileTail(detailString(lastDetails, 'logFile') ?? join(dataDir, 'logs', `${check.name}.log`))],
  log: ({ check }) => {
    const p = paramsOf(check, 'log');
    return p ? [fileTail(p.path)] : [];
  },
  // pm2's own file names, when the last run recorded them: asking pm2 (jlist) is the check's job, not a diagnosis's.
  pm2: ({ lastDetails }) => {
    const files = [detailString(lastDetails, 'pm_err_log_path'), detailString(lastDetails, 'pm_out_log_path')].filter((f) => f !== undefined);
    return [...new Set(files)].map(fileTail);
  },
  systemd: ({ check }, { commandEnv }) => {
    const p = paramsOf(check, 'systemd');
    return p ? [journalTail(p.unit, p.user, journalctlBeside(p.systemctlBin), commandEnv)] : [];
  },
};

/**
 * Names of files that hold secrets rather than log lines (.env, keys, token
 * and credential files): never tailed, whether the path came from the config
 * or from a run's details (pm2's report of its log paths), since what is read
 * goes to the model and the chat.
 */
const SECRET_FILE =
  /^\.env(\..*)?$|\.(pem|key|p12|pfx|kdbx|token)$|^id_(rsa|dsa|ecdsa|ed25519)$|^(credentials|secrets?)(\.\w+)?$|^\.?(netrc|pgpass|htpasswd)$/i;

function fileTail(path: string): Look {
  const target = displayPath(path);
  if (SECRET_FILE.test(basename(path))) return { target, run: async () => ({ ok: false, text: `not read: ${basename(path)} is named like a secrets file` }) };
  return { target, run: (ctx) => readFileTail(path, ctx) };
}

/** The last lines of a file, at most ctx.maxBytes read from its end (one byte more tells whether the first line is whole). */
async function readFileTail(path: string, ctx: LookContext): Promise<LookResult> {
  let handle;
  try {
    // O_NONBLOCK: a FIFO at that path must not hang the open; a regular file reads as usual.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return { ok: false, text: `${displayPath(path)}: ${describeFsError(err)}` };
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return { ok: false, text: `${displayPath(path)} is not a regular file` };
    if (stats.size === 0) return { ok: true, text: '' };
    const window = Math.min(stats.size, ctx.maxBytes + 1);
    const start = stats.size - window;
    const buffer = Buffer.alloc(window);
    const { bytesRead } = await handle.read(buffer, 0, window, start);
    return tailOf(buffer.subarray(0, bytesRead).toString('utf8'), start > 0);
  } finally {
    await handle.close();
  }
}

/**
 * The last TAIL_LINES lines of text that may begin mid-line (`cutAtStart`):
 * the partial first line goes here, since half a token no longer looks like
 * one to the redactor; the runner then redacts and applies the byte cap.
 */
function tailOf(raw: string, cutAtStart: boolean): { ok: true; text: string; truncated: boolean } {
  let text = raw;
  if (cutAtStart) {
    const newline = text.indexOf('\n');
    text = newline >= 0 ? text.slice(newline + 1) : dropPartialFirstWord(text);
  }
  const whole = printable(text).trimEnd();
  const shown = tail(whole, TAIL_LINES);
  return { ok: true, text: shown, truncated: cutAtStart || shown.length < whole.length };
}

/**
 * journalctl from the same folder as the check's systemctl when that is a
 * path and one is there (a systemd installed elsewhere, a wrapper), else the
 * one on PATH.
 */
function journalctlBeside(systemctlBin: string): string {
  if (!systemctlBin.includes('/')) return 'journalctl';
  const beside = join(dirname(systemctlBin), 'journalctl');
  return existsSync(beside) ? beside : 'journalctl';
}

function journalTail(unit: string, user: boolean, journalctl: string, env: NodeJS.ProcessEnv): Look {
  const args = [...(user ? ['--user'] : []), '-u', unit, '-n', String(TAIL_LINES), '--no-pager', '-o', 'short-iso'];
  return { target: `journal of ${unit}`, run: (ctx) => readJournal(journalctl, args, env, ctx) };
}

async function readJournal(journalctl: string, args: string[], env: NodeJS.ProcessEnv, ctx: LookContext): Promise<LookResult> {
  // Generous, so 40 lines are rarely cut; the redaction and the byte cap that follow still leave a full tail.
  const keep = Math.max(JOURNAL_KEEP_CHARS, ctx.maxBytes * 2);
  const result = await runCommand([journalctl, ...args], { env, signal: ctx.signal, keepBytes: keep });
  if (result.spawnError) {
    const notFound = /ENOENT/.test(result.spawnError);
    return { ok: false, text: notFound ? `journalctl not found${journalctl === 'journalctl' ? '' : ` at ${journalctl}`}` : `journalctl: ${result.spawnError}` };
  }
  if (ctx.signal.aborted) return { ok: false, text: 'journalctl did not answer in time' };
  const complaint = firstLine(result.stderr);
  if (result.exitCode !== 0) return { ok: false, text: `journalctl failed (${describeExit(result)})${complaint ? `: ${complaint}` : ''}` };
  // runCommand keeps the last `keep` characters less a partial first word: output that long was cut mid-line.
  const shown = tailOf(result.stdout, result.stdout.length > keep - JOURNAL_CUT_SLACK);
  // journalctl's hint that it shows only this user's entries explains an empty journal.
  if (!complaint) return shown;
  // The note must survive the runner's cut from the front: the tail makes room for it (redacted first, as a cut may fall mid-token).
  const note = `\n(journalctl: ${complaint})`;
  const bounded = keepEnd(ctx.redact(shown.text), ctx.maxBytes - Buffer.byteLength(note));
  return { ok: true, text: bounded.text + note, truncated: shown.truncated || bounded.truncated };
}

function firstLine(text: string): string {
  return printable(text.split('\n').find((line) => line.trim() !== '') ?? '').trim();
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return errorMessage(err);
}
