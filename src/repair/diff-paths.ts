import { lstatSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';

/**
 * The files a unified diff touches, as written in it (relative to the
 * target): `diff --git a/x b/y`, `--- a/x` / `+++ b/y`, and rename/copy
 * lines. /dev/null is not a file. Quoted git paths ("a/sp ace") are
 * unquoted for the common escapes.
 */
export function diffPaths(diff: string): string[] {
  const paths = new Set<string>();
  const add = (raw: string, stripPrefix: boolean) => {
    let path = raw.trim().replace(/\t.*$/, '');
    if (path.startsWith('"') && path.endsWith('"')) path = unquote(path.slice(1, -1));
    if (path === '/dev/null' || path === '') return;
    if (stripPrefix && /^[ab]\//.test(path)) path = path.slice(2);
    paths.add(path);
  };
  for (const line of diff.split('\n')) {
    if (line.startsWith('--- ') || line.startsWith('+++ ')) add(line.slice(4), true);
    else if (line.startsWith('diff --git ')) {
      const m = /^diff --git ("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$/.exec(line);
      if (m) {
        add(m[1]!, true);
        add(m[2]!, true);
      }
    } else if (/^(rename|copy) (from|to) /.test(line)) add(line.replace(/^(rename|copy) (from|to) /, ''), false);
  }
  return [...paths];
}

function unquote(text: string): string {
  return text.replace(/\\(["\\tn])/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c));
}

/**
 * Why `path` (relative, from a diff or a config) is not safely inside the
 * folder `root` (already real), or null when it is. Symlinks are not
 * followed out: the deepest part of the path that exists is resolved and
 * must still be inside the root, and the file itself must not be a symlink
 * (a patch written through one could land anywhere). `.git` is never a
 * place for a fix.
 */
export function outsideReason(root: string, path: string): string | null {
  if (isAbsolute(path)) return `${path} is an absolute path`;
  const parts = path.split(/[\\/]+/);
  if (parts.includes('..')) return `${path} climbs out with ".."`;
  if (parts.includes('.git')) return `${path} is inside .git`;
  const full = join(root, path);
  if (!isInside(root, full)) return `${path} is outside the target`;
  try {
    if (lstatSync(full).isSymbolicLink()) return `${path} is a symbolic link`;
  } catch {
    // A new file: its folder is checked below.
  }
  let existing = dirname(full);
  for (;;) {
    try {
      const real = realpathSync(existing);
      if (!isInside(root, real)) return `${path} leads out of the target through a symbolic link`;
      return null;
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return `${path} has no existing folder inside the target`;
      existing = parent;
    }
  }
}

function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
