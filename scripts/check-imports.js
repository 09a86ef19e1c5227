#!/usr/bin/env node
// The architecture's walls, checked from the import statements of src/, commands/ and adapters/
// (type-only and dynamic imports included):
//   - no import cycle between files, nor between the folders of src/ (a folder counts as one unit);
//   - nothing in src/ but the composition root (src/app.ts, src/main.ts) imports adapters/ or commands/;
//   - commands/ know no platform (no adapters/), adapters/ hold no SQL (no src/store/);
//   - src/util/ is the leaf layer: it imports nothing else of the project.
// Prints every finding and exits 1 when there is one; `npm run lint` runs it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOTS = ['src', 'commands', 'adapters'];
const COMPOSITION_ROOT = new Set(['src/app.ts', 'src/main.ts']);
const IMPORT = /(?:^|[^\w.])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,]+?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** "src/patrol/patrol.ts" → "src/patrol"; a file at the top of src/ is its own unit. */
function unitOf(file) {
  const parts = file.split('/');
  if (parts[0] !== 'src') return parts[0];
  return parts.length > 2 ? `src/${parts[1]}` : file;
}

const graph = new Map();
for (const file of ROOTS.flatMap(files)) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
  const targets = new Set();
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2];
    if (!spec.startsWith('.')) continue;
    targets.add(relative('.', normalize(join(dirname(file), spec))).replace(/\.js$/, '.ts'));
  }
  graph.set(file, targets);
}

const problems = [];
for (const [file, targets] of graph) {
  for (const target of targets) {
    const top = target.split('/')[0];
    if (file.startsWith('src/') && !COMPOSITION_ROOT.has(file) && (top === 'adapters' || top === 'commands'))
      problems.push(`${file} imports ${target}: only the composition root (src/app.ts, src/main.ts) may import adapters/ or commands/`);
    if (file.startsWith('commands/') && top === 'adapters') problems.push(`${file} imports ${target}: commands know no platform`);
    if (file.startsWith('adapters/') && target.startsWith('src/store/')) problems.push(`${file} imports ${target}: adapters hold no SQL`);
    if (file.startsWith('src/util/') && !target.startsWith('src/util/')) problems.push(`${file} imports ${target}: src/util/ is the leaf layer`);
  }
}

/** Every cycle found by a depth-first walk, each reported once (by its smallest rotation). */
function cycles(edges) {
  const found = new Map();
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!edges.has(next)) continue;
      if (state.get(next) === 'open') {
        const loop = stack.slice(stack.indexOf(next));
        const start = loop.indexOf([...loop].sort()[0]);
        const key = [...loop.slice(start), ...loop.slice(0, start)].join(' -> ');
        found.set(key, key);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return [...found.values()];
}

for (const loop of cycles(graph)) problems.push(`import cycle between files: ${loop} -> (back)`);
const units = new Map();
for (const [file, targets] of graph) {
  const from = unitOf(file);
  if (!units.has(from)) units.set(from, new Set());
  for (const target of targets) if (graph.has(target) && unitOf(target) !== from) units.get(from).add(unitOf(target));
}
for (const loop of cycles(units)) {
  const [a, b] = [loop.split(' -> ')[0], loop.split(' -> ')[1]];
  const witness = [...graph].find(([file, targets]) => unitOf(file) === a && [...targets].some((t) => unitOf(t) === b));
  problems.push(`import cycle between folders: ${loop} -> (back)  [e.g. ${witness?.[0]} imports from ${b}]`);
}

if (problems.length > 0) {
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  process.stderr.write(`check-imports: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
  process.exit(1);
}
process.stdout.write(`check-imports: ${graph.size} files, no cycle, walls kept\n`);
