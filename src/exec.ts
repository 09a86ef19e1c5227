import { spawn } from 'node:child_process';
import { dropPartialFirstWord } from './util/text.js';

export interface ExecOptions {
  cwd?: string | undefined;
  /** The whole environment of the command (the bot's child environment: see CheckEnvironment.childEnv). */
  env: NodeJS.ProcessEnv;
  /** Kill the command (SIGTERM, then SIGKILL after 1 s) when this fires. */
  signal?: AbortSignal;
  /** Bytes of stdout/stderr kept (the tail). */
  keepBytes?: number;
  /** Text written to the command's stdin. */
  input?: string;
  /** Told the child's pid (its process group) once it is spawned: a caller that may crash records it to kill the group later. */
  onSpawn?: (pid: number) => void;
}

export interface ExecResult {
  /** null when the command was killed by a signal or could not start. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Set when the command could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
}

/**
 * Runs a command without a shell (argv form) or through /bin/sh -c (string
 * form), keeping the tail of its output. Never rejects: a command that cannot
 * start comes back with `spawnError`. The whole process group is killed on
 * abort, so a shell's children do not outlive it.
 */
export function runCommand(command: string | readonly string[], options: ExecOptions): Promise<ExecResult> {
  const [file, args] = typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0]!, command.slice(1)];
  const keep = options.keepBytes ?? 8192;
  const started = performance.now();
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    // A tail cut mid-word may start with half a secret, which the redactor cannot recognise: that word goes.
    let stdoutCut = false;
    let stderrCut = false;
    let settled = false;
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    if (child.pid) options.onSpawn?.(child.pid);
    const finish = (result: Omit<ExecResult, 'durationMs' | 'stdout' | 'stderr'>) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      resolve({
        ...result,
        stdout: stdoutCut ? dropPartialFirstWord(stdout) : stdout,
        stderr: stderrCut ? dropPartialFirstWord(stderr) : stderr,
        durationMs: performance.now() - started,
      });
    };
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    const onAbort = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), 1000);
      killTimer.unref();
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.length > keep) [stdout, stdoutCut] = [stdout.slice(-keep), true];
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > keep) [stderr, stderrCut] = [stderr.slice(-keep), true];
    });
    child.on('error', (err) => finish({ exitCode: null, signal: null, spawnError: `${file}: ${err.message}` }));
    child.on('close', (code, sig) => finish({ exitCode: code, signal: sig }));
    child.stdin.on('error', () => {
      // The command exited without reading its input; its exit status tells the story.
    });
    child.stdin.end(options.input ?? '');
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** "exit 1", "killed by SIGKILL", "could not start: ..." */
export function describeExit(result: ExecResult): string {
  if (result.spawnError) return `could not start: ${result.spawnError}`;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit ${result.exitCode}`;
}

/** The last `lines` non-empty lines of a text. */
export function tail(text: string, lines = 10): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
