import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { RepairTarget } from '../config/schema.js';
import type { ProposedFix, Vetting as ProposalVetting } from '../diagnose/proposals.js';
import { runCommand } from '../exec.js';
import { diffPaths, outsideReason } from './diff-paths.js';
import { git, isWorkTreeRoot } from './git.js';
import { hasBlocking, scanCommand, scanDiff, type ScanFinding } from './scanner.js';

/** What the checks before asking found: applicable (with what was checked) or diagnosis only (with why), with the whole target. */
export type Vetting = ProposalVetting & ({ applicable: true; target: RepairTarget } | { applicable: false; target: RepairTarget | null });

export interface VetContext {
  targets: readonly RepairTarget[];
  allowHosts: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Why a repair of this target's failure is not offered any more (too many failed), or null. */
  needsHuman: (signature: string) => string | null;
  signatureFor: (target: RepairTarget) => string;
}

/** The target a fix names: by name, or by its folder. */
export function targetOf(fix: ProposedFix, targets: readonly RepairTarget[]): RepairTarget | null {
  const named = fix.kind === 'steps' ? undefined : fix.repository;
  if (!named) return null;
  return targets.find((t) => t.name === named || t.path === named.replace(/\/+$/, '')) ?? null;
}

/**
 * The checks a proposal passes before anyone is asked to approve it: it
 * names a configured target; a diff touches only files inside it and
 * applies cleanly to it as it is now (`git apply --check`); a command's
 * program exists there; and the scanner finds nothing blocking in the
 * diff's added lines, the command, or the regression command.
 */
export async function vetFix(fix: ProposedFix, ctx: VetContext): Promise<Vetting> {
  const checked: string[] = [];
  const files = fix.kind === 'diff' ? diffPaths(fix.diff) : [];
  const unfit = (reason: string, target: RepairTarget | null = null): Vetting => ({ applicable: false, target, checked, reason, files });
  if (fix.kind === 'steps') return unfit('it is a list of steps for a person: there is nothing to apply');
  const target = targetOf(fix, ctx.targets);
  if (!target) {
    const names = ctx.targets.map((t) => t.name);
    return unfit(
      `it names ${fix.repository ? `"${fix.repository}"` : 'no repair target'}, ${names.length > 0 ? `not one of the repair targets (${names.join(', ')})` : 'and no repair.targets are configured'}`,
    );
  }
  const isGit = await isWorkTreeRoot(target.path, ctx.env);
  checked.push(`target ${target.name}: ${isGit ? 'a git work tree' : 'a plain folder'} at ${target.path}`);
  const stopped = ctx.needsHuman(ctx.signatureFor(target));
  if (stopped) return unfit(stopped, target);

  const findings: ScanFinding[] = [];
  if (fix.kind === 'diff') {
    const paths = files;
    if (paths.length === 0) return unfit('the diff names no file', target);
    for (const path of paths) {
      const outside = outsideReason(target.path, path);
      if (outside) return unfit(`the diff touches a path outside the target: ${outside}`, target);
    }
    checked.push(`files: ${paths.join(', ')} (all inside the target)`);
    findings.push(...scanDiff(fix.diff, { allowHosts: ctx.allowHosts }));
    const dryRun = await applyPatch(target.path, isGit, fix.diff, ctx.env, { check: true });
    if (!dryRun.ok) return unfit(`the diff does not apply to ${target.name} as it is now: ${dryRun.error}`, target);
    checked.push('git apply --check: applies cleanly');
  } else {
    findings.push(...scanCommand(fix.command, { allowHosts: ctx.allowHosts }));
    const program = await programOf(fix.command, target.path, ctx.env);
    if (!program.ok) return unfit(program.error, target);
    checked.push(`command -v ${program.name}: ${program.found}`);
  }
  const regression = fix.kind === 'diff' ? fix.regression : fix.verify;
  if (regression) {
    findings.push(...scanCommand(regression, { allowHosts: ctx.allowHosts }).map((f) => ({ ...f, reason: `${f.reason} (in the regression command)` })));
    const program = await programOf(regression, target.path, ctx.env);
    if (!program.ok) return unfit(`the regression command cannot run: ${program.error}`, target);
    checked.push(`regression command: ${regression}`);
  }
  if (hasBlocking(findings)) {
    const blocking = findings.filter((f) => f.severity === 'blocking');
    return unfit(`the scanner blocks it: ${blocking.map(describeFinding).join('; ')}`, target);
  }
  const warnings = findings.filter((f) => f.severity !== 'blocking');
  checked.push(warnings.length === 0 ? 'scanner: nothing found' : `scanner: ${warnings.length} warning(s): ${warnings.map(describeFinding).join('; ')}`);
  if (fix.kind === 'command') checked.push('irreversible: a command can do things outside the folder that no backup undoes; it always waits for /apply');
  return { applicable: true, target, checked, irreversible: fix.kind === 'command', files };
}

function describeFinding(f: ScanFinding): string {
  return `${f.id} (${f.reason})${f.file ? ` at ${f.file}${f.line ? `:${f.line}` : ''}` : ''}`;
}

/**
 * git apply, in the target. A plain folder inside some other repository
 * must not be patched relative to that repository's root: git is kept from
 * looking above the folder.
 */
export async function applyPatch(
  path: string,
  isGit: boolean,
  diff: string,
  env: NodeJS.ProcessEnv,
  options: { check?: boolean; signal?: AbortSignal } = {},
): Promise<{ ok: true } | { ok: false; error: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-patch-'));
  try {
    const file = join(dir, 'fix.patch');
    writeFileSync(file, diff.endsWith('\n') ? diff : `${diff}\n`);
    const result = await git(['apply', '--whitespace=nowarn', ...(options.check ? ['--check'] : []), file], {
      cwd: path,
      env,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(isGit ? {} : { extraEnv: { GIT_CEILING_DIRECTORIES: dirname(path) } }),
    });
    if (result.exitCode === 0) return { ok: true };
    return { ok: false, error: (result.stderr || result.stdout).trim().split('\n').slice(0, 3).join(' / ') || `git apply exited ${result.exitCode}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The program a command line starts (after VAR=value assignments), and whether `command -v` finds it in the target. */
async function programOf(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ ok: true; name: string; found: string } | { ok: false; error: string }> {
  const words = command.trim().split(/\s+/);
  const name = words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  if (!name) return { ok: false, error: 'the command names no program' };
  const result = await runCommand(['/bin/sh', '-c', 'command -v -- "$1"', 'sh', name], { cwd, env });
  if (result.exitCode !== 0) return { ok: false, error: `its program "${name}" is not found (command -v in ${cwd})` };
  return { ok: true, name, found: result.stdout.trim() || name };
}
