import { Document, type YAMLMap, type YAMLSeq, type Scalar } from 'yaml';
import type { CheckDraft } from './types.js';

/** A group of checks as written: a heading and its checks. */
export interface RenderedSection {
  title: string;
  checks: CheckDraft[];
}

/** The checks every generated file has: this machine's disk, memory and Nightshift itself (as the embedded default). */
export function baseChecks(): CheckDraft[] {
  return [
    {
      name: 'disk-data',
      kind: 'disk',
      notes: ['free space where Nightshift keeps its database (NIGHTSHIFT_DATA_DIR, default ./data)'],
      params: { path: '${NIGHTSHIFT_DATA_DIR:-./data}', minFreePercent: 5 },
      heal: [],
      dependsOn: [],
    },
    {
      name: 'memory',
      kind: 'memory',
      notes: ['available memory of this machine'],
      params: { minAvailablePercent: 5 },
      severity: 'optional',
      heal: [],
      dependsOn: [],
    },
    { name: 'self', kind: 'self', notes: ['Nightshift itself: store writable, event loop responsive, memory bounded'], params: {}, heal: [], dependsOn: [] },
  ];
}

/**
 * nightshift.yml as text: a header, the patrol settings and every check
 * with the comments that say where it came from. Guessed dependencies carry
 * a `# guess:` comment on their line. Written through the yaml library, so
 * every value is quoted as YAML needs.
 */
export function renderConfig(sections: readonly RenderedSection[], header: readonly string[]): string {
  const doc = new Document({ patrol: { interval: '10s' }, checks: [] });
  doc.commentBefore = header.map((line) => (line === '' ? '' : ` ${line}`)).join('\n');
  const patrol = doc.get('patrol', true) as YAMLMap;
  (patrol.items[0]!.value as Scalar).comment = ' how often each check runs (a check may set its own interval)';
  const checks = doc.get('checks', true) as YAMLSeq;
  for (const section of sections) {
    section.checks.forEach((check, index) => {
      const node = doc.createNode(entryOf(check)) as YAMLMap;
      const notes = check.notes.map((note) => ` ${note}`);
      node.commentBefore = (index === 0 ? [` --- ${section.title} ---`, ...notes] : notes).join('\n');
      if (index === 0 && checks.items.length > 0) node.spaceBefore = true;
      const heal = node.get('heal', true) as YAMLSeq | undefined;
      if (heal && check.heal.every((step) => typeof step === 'string')) heal.flow = true;
      const dependsOn = node.get('dependsOn', true) as YAMLSeq | undefined;
      if (dependsOn) {
        if (check.dependsOn.every((dep) => !dep.guess)) dependsOn.flow = true;
        check.dependsOn.forEach((dep, i) => {
          if (dep.guess) (dependsOn.items[i] as Scalar).comment = ` guess: ${dep.guess}`;
        });
      }
      for (const [key, value] of Object.entries(check.params)) {
        if (Array.isArray(value) && value.every((item) => typeof item !== 'object')) (node.get(key, true) as unknown as YAMLSeq).flow = true;
        else if (value && typeof value === 'object' && Object.values(value).every((item) => typeof item !== 'object'))
          (node.get(key, true) as unknown as YAMLMap).flow = true;
      }
      checks.add(node);
    });
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

function entryOf(check: CheckDraft): Record<string, unknown> {
  return {
    name: check.name,
    kind: check.kind,
    ...(check.severity ? { severity: check.severity } : {}),
    ...check.params,
    ...(check.dependsOn.length > 0 ? { dependsOn: check.dependsOn.map((dep) => dep.name) } : {}),
    ...(check.heal.length > 0 ? { heal: check.heal } : {}),
  };
}

/** Whether a check's values hold "${", which the loader would read as a variable: such a thing cannot be written as found. */
export function holdsInterpolation(check: CheckDraft): boolean {
  return JSON.stringify(check.params).includes('${') || JSON.stringify(check.heal).includes('${');
}
