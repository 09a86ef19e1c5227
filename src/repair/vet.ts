import type { RepairTarget } from '../config/schema.js';
import type { ProposedFix, Vetting as ProposalVetting } from '../diagnose/proposals.js';
import { runCommand } from '../exec.js';
import { diffPaths, outsideReason } from './diff-paths.js';
import { applyPatch, isWorkTreeRoot } from './git.js';
import { hasBlocking, scanCommand, scanDiff, type ScanFinding } from './scanner.js';

/** What the checks before asking found: applicable (with what was checked) or diagnosis only (with why), with the whole target. */
export type Vetting = ProposalVetting & ({ applicable: true; target: RepairTarget } | { applicable: false; target: RepairTarget | null });

export interface VetContext {
  targets: readonly RepairTarget[];
  allowHosts: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Why a fix for this failure is not offered any more (its repairs kept failing), or null. */
  needsHuman: (signature: string) => string | null;
}

/** The failure a fix is meant for: the diagnosis's signature, or (a weekly or asked-for diagnosis has none) its target's. */
export function fixSignature(diagnosisSignature: string | null, target: RepairTarget): string {
  return diagnosisSignature ?? `target:${target.name}`;
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
export async function vetFix(fix: ProposedFix, diagnosisSignature: string | null, ctx: VetContext): Promise<Vetting> {
  const checked: string[] = [];
  const files = fix.kind === 'diff' ? diffPaths(fix.diff) : [];
  const unfit = (reason: string, target: RepairTarget | null = null): Vetting => ({
    applicable: false,
    target,
    checked,
    reason,
    files,
    signature: target ? fixSignature(diagnosisSignature, target) : diagnosisSignature,
  });
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
  const signature = fixSignature(diagnosisSignature, target);
  const stopped = ctx.needsHuman(signature);
  if (stopped) return unfit(stopped, target);

  const findings: ScanFinding[] = [];
  if (fix.kind === 'diff') {
    if (files.length === 0) return unfit('the diff names no file', target);
    for (const path of files) {
      const outside = outsideReason(target.path, path);
      if (outside) return unfit(`the diff touches a path outside the target: ${outside}`, target);
    }
    checked.push(`files: ${files.join(', ')} (all inside the target)`);
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
  return { applicable: true, target, checked, irreversible: fix.kind === 'command', files, signature };
}

function describeFinding(f: ScanFinding): string {
  return `${f.id} (${f.reason})${f.file ? ` at ${f.file}${f.line ? `:${f.line}` : ''}` : ''}`;
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
