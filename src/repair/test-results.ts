/**
 * Pass and fail counts from a test command's output: the evidence behind the
 * repair ratchet (after an automated repair the pass count may never go down
 * and the fail count never up). Output that is not recognised gives null, so
 * the caller refuses to verify rather than trust a guess; nothing here throws.
 *
 * General
 * - ANSI escape sequences are removed first; lines end at \n, \r\n or a lone \r.
 * - Sources, in order; the first one recognised wins:
 *   1. the `junitXml` argument (a report file's content), 2. JUnit XML on the
 *   output, 3. a node --test summary, 4. a pytest summary line, 5. go test -json
 *   events, 6. go test -v lines, 7. TAP results.
 * - A summary printed several times (a watch re-run) counts once: the last one
 *   wins. That holds for JUnit reports, node --test summaries and pytest
 *   summary lines. go test and TAP results are not summaries: every result in
 *   the output is counted.
 * - Findings marked "→ null" below end the reading: null, no later source tried.
 *
 * JUnit XML (`junit`)
 * - A report is one or more root elements, `<testsuites>` or a lone
 *   `<testsuite>`; an `<?xml …?>` declaration starts a new report, and the last
 *   report with a root element wins. A root element counts only at the start
 *   of a line or right after the declaration (a `<testsuites>` quoted inside a
 *   log line is not a report). On the output, reading starts at the first
 *   `<testsuite`. Comments, CDATA sections and processing instructions are
 *   skipped: nothing inside them is counted.
 * - Every `<testcase>` counts once, at whatever depth of nested suites it sits:
 *   skipped when it has a `<skipped>` child (even beside a `<failure>`: node's
 *   reporter marks a failing todo test so), else failed when it has a
 *   `<failure>` or `<error>` child, else passed. The totals attributes of
 *   `<testsuites>` and of nested suites are therefore never added on top.
 * - An outermost `<testsuite>` (no testsuite around it) that holds no
 *   `<testcase>` at all is counted from its attributes: failed = failures +
 *   errors, skipped = skipped, passed = tests − failed − skipped but not below
 *   0 (some reporters count a suite-level error outside `tests`); a missing
 *   attribute is 0. So is a `<testsuites>` root with neither suites nor cases.
 * - A `<failure>` or `<error>` inside a suite but outside any testcase (a suite
 *   that failed to set up) counts as one failure. In a suite counted from its
 *   attributes they are taken to be among its failures + errors: failed is the
 *   larger of the two numbers.
 * - Not a report (the next source is read instead): a root element never closed
 *   (a run that crashed while writing it), a count attribute that is not a whole
 *   number, or neither a testcase nor a `tests` attribute anywhere. An unusable
 *   `junitXml` argument is ignored that way too.
 *
 * node --test (`node-test`): the spec and TAP reporters of Node 20 and 22
 * - A summary starts at a line `ℹ tests N` (spec) or `# tests N` (TAP, and
 *   tape's summary) at the start of a line, and takes the `pass`, `fail`,
 *   `cancelled`, `skipped` and `todo` lines after it (`suites` and
 *   `duration_ms` are ignored) up to the next `tests` line. Only a summary with
 *   a `pass` line counts; the last one wins.
 * - passed = pass; failed = fail + cancelled; skipped = skipped + todo.
 * - Node's `tests` is the sum of those five. When it is larger (a summary cut
 *   short) the difference counts as failed; when it is smaller → null.
 *
 * pytest (`pytest`)
 * - The last line of the form `[=== ]ITEM, ITEM… in T[s| seconds][ (h:mm:ss)][ ===]`
 *   (with or without the equals signs, as -q prints it), where every ITEM is
 *   `N passed|failed|error|errors|skipped|xfailed|xpassed|warning|warnings|deselected|rerun`
 *   or `no tests ran`. A line with any other item is not a pytest summary.
 * - passed = passed + xpassed; failed = failed + errors; skipped = skipped +
 *   xfailed; deselected, rerun and warnings are not counted; `no tests ran` is
 *   0 passed, 0 failed.
 *
 * go test -json (`go-test-json`)
 * - Lines starting with `{` that parse as a JSON object with one of go's
 *   `Action`s (start, run, pause, cont, pass, fail, skip, output, bench,
 *   build-output, build-fail) and a `Package` or `ImportPath` string are
 *   events; other JSON (a structured log line) is not. Only events with a
 *   `Test` field count a test: pass → passed, fail → failed, skip → skipped.
 *   Subtests (`TestX/case`) count like any test, as go reports them, so a
 *   regression inside an already failing parent still raises the fail count.
 * - A test with a `run` event and no pass, fail or skip (it hung, or crashed
 *   the test binary) counts as failed.
 * - A package that failed (a package-level `fail` event, or a plain
 *   `FAIL <pkg> [build failed]` / `[setup failed]` line, as go before 1.24
 *   printed beside the JSON) with no failed test of its own counts as one
 *   failure: a package that did not build is a failure, not "no tests".
 *
 * go test -v (`go-test`)
 * - `--- PASS: Name (Ts)`, `--- FAIL: …`, `--- SKIP: …` at any indentation;
 *   subtests count as with -json.
 * - A test with an `=== RUN   Name` line and no result by its package's `ok` or
 *   `FAIL` line (or the end of the output) counts as failed.
 * - Package lines: `ok  <pkg> <time>`, `FAIL <pkg> <time>`,
 *   `FAIL <pkg> [build failed]`, `FAIL <pkg> [setup failed]`,
 *   `?   <pkg> [no test files]`. A package with a FAIL line and no failed test
 *   of its own (build or setup failure, a panic before any test, TestMain
 *   exiting) counts as one failure.
 * - Without -v go prints no `--- PASS` lines, so passes are unknowable: an
 *   `ok <pkg>` line (other than `[no tests to run]`) with no `=== RUN` line
 *   since the previous package line, or a `--- ` result there with no
 *   `=== RUN` line → null. Run go test with -v or -json.
 * - Recognised when any of these lines appears; output with nothing but
 *   `[no test files]` packages is 0 passed, 0 failed.
 *
 * TAP (`tap`): tap, bats, prove -v, Test::More
 * - Only lines that are not indented are read, so node's subtests (indented by
 *   4 spaces) are not counted twice.
 * - `ok`/`not ok` [N] [- description] [# directive]: a SKIP directive →
 *   skipped; a TODO directive → skipped, whether ok or not ok (a failing TODO
 *   is expected, not a failure); else ok → passed, not ok → failed.
 *   Directives are case-insensitive and may be longer words (`# skipped`).
 * - Plan `1..N`: when a stream has fewer results than planned, the missing ones
 *   count as failed (a crashed suite must not look better). Results beyond the
 *   plan count as they are; a stream without a plan counts what it shows.
 * - `Bail out!` counts as one failure unless missing planned results already
 *   count as failed.
 * - Streams are summed (prove -v, several files); a new one starts at a
 *   `TAP version` line, at a second plan, or at a result numbered 1 after results.
 * - Recognised when a plan or a numbered result appears (a bare `ok` in a log
 *   is not enough); unnumbered results then count too.
 */

export type TestReportFormat = 'junit' | 'tap' | 'node-test' | 'pytest' | 'go-test' | 'go-test-json';

export interface TestCounts {
  passed: number;
  failed: number;
  /** skipped/todo, informative only */
  skipped: number;
  format: TestReportFormat;
}

/** A finding that settles the question as "unknowable": no later source may answer instead. */
const UNKNOWABLE = Symbol('unknowable');
type Reading = TestCounts | null | typeof UNKNOWABLE;

const LABELS: Record<TestReportFormat, string> = {
  junit: 'JUnit XML',
  tap: 'TAP',
  'node-test': 'node --test',
  pytest: 'pytest',
  'go-test': 'go test -v',
  'go-test-json': 'go test -json',
};

/** One line for chat: "52 passed, 1 failed (node --test)"; skipped tests are named only when there are some. */
export function describeCounts(c: TestCounts): string {
  const skipped = c.skipped > 0 ? `, ${c.skipped} skipped` : '';
  return `${c.passed} passed, ${c.failed} failed${skipped} (${LABELS[c.format] ?? c.format})`;
}

/** Counts from a test run's combined stdout+stderr (and, when given, a JUnit XML report file's content which takes precedence). */
export function parseTestCounts(output: string, junitXml?: string): TestCounts | null {
  try {
    if (typeof junitXml === 'string') {
      const fromFile = parseJunit(junitXml, 0);
      if (fromFile) return fromFile;
    }
    const text = stripAnsi(typeof output === 'string' ? output : '');
    const start = text.indexOf('<testsuite');
    if (start !== -1) {
      const fromOutput = parseJunit(text, start);
      if (fromOutput) return fromOutput;
    }
    const lines = text.split(/\r\n|\n|\r/);
    for (const read of [parseNodeSummary, parsePytest, parseGoJson, parseGoVerbose, parseTap]) {
      const reading = read(lines);
      if (reading === UNKNOWABLE) return null;
      if (reading) return reading;
    }
    return null;
  } catch {
    // A parser bug must make the ratchet refuse, not crash the repair loop.
    return null;
  }
}

// CSI (colours, cursor moves), OSC (titles, hyperlinks) and the two-byte escapes. Every alternative is
// bounded by a character class disjoint from what follows it, so this stays linear on hostile input; an
// unterminated OSC stops at the end of its line rather than swallowing the summary below it.
// eslint-disable-next-line no-control-regex -- matching escape sequences is the point
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

function stripAnsi(text: string): string {
  return text.includes('\x1b') ? text.replace(ANSI, '') : text;
}

function counts(format: TestReportFormat, passed: number, failed: number, skipped: number): TestCounts {
  return { passed, failed, skipped, format };
}

// ---------------------------------------------------------------- JUnit XML

// Attribute values are quoted, so a `>` inside one does not end the tag.
const JUNIT_TAG = /<(\/?)(testsuites|testsuite|testcase|failure|error|skipped)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
const JUNIT_ATTR = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

interface SuiteFrame {
  tag: 'testsuites' | 'testsuite';
  attrs: string;
  cases: number;
  suites: number;
  /** `<failure>`/`<error>` elements outside any testcase, in this suite and the ones below it not yet counted. */
  loose: number;
  outermostSuite: boolean;
}

interface JunitReport {
  passed: number;
  failed: number;
  skipped: number;
  roots: number;
  evidence: boolean;
  broken: boolean;
}

function parseJunit(xml: string, from: number): TestCounts | null {
  const newReport = (): JunitReport => ({ passed: 0, failed: 0, skipped: 0, roots: 0, evidence: false, broken: false });
  let report = newReport();
  let last: JunitReport | null = null;
  const stack: SuiteFrame[] = [];
  let testcase: { failed: boolean; skipped: boolean } | null = null;

  const endCase = () => {
    if (!testcase) return;
    if (testcase.skipped) report.skipped++;
    else if (testcase.failed) report.failed++;
    else report.passed++;
    testcase = null;
  };
  const closeFrame = (frame: SuiteFrame) => {
    const parent = stack[stack.length - 1];
    if (frame.outermostSuite || !parent) {
      const fromAttributes = frame.cases === 0 && (frame.outermostSuite || frame.suites === 0);
      if (fromAttributes) addAttributeCounts(report, frame.attrs, frame.loose);
      else report.failed += frame.loose;
      frame.loose = 0;
    }
    if (parent) {
      parent.cases += frame.cases;
      parent.suites++;
      parent.loose += frame.loose;
    } else report.roots++;
  };
  const endReport = () => {
    endCase();
    if (stack.length > 0) report.broken = true;
    if (report.roots > 0 || stack.length > 0) last = report;
    stack.length = 0;
    report = newReport();
  };

  let i = xml.indexOf('<', from);
  while (i !== -1) {
    let resume = i + 1;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end === -1) break;
      resume = end + 3;
    } else if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i + 9);
      if (end === -1) break;
      resume = end + 3;
    } else if (xml.startsWith('<?', i)) {
      if (xml.startsWith('<?xml', i)) endReport();
      const end = xml.indexOf('?>', i + 2);
      if (end === -1) break;
      resume = end + 2;
    } else {
      JUNIT_TAG.lastIndex = i;
      const m = JUNIT_TAG.exec(xml);
      if (m) {
        resume = JUNIT_TAG.lastIndex;
        const closing = m[1] === '/';
        const name = m[2]!;
        const selfClosing = m[4] === '/';
        const attrs = m[3] ?? '';
        if (name === 'testsuites' || name === 'testsuite') {
          if (closing) {
            endCase();
            // Tolerates a missing end tag in between rather than misattributing everything after it.
            let at = stack.length - 1;
            while (at >= 0 && stack[at]!.tag !== name) at--;
            if (at >= 0) while (stack.length > at) closeFrame(stack.pop()!);
          } else if (stack.length > 0 || startsRoot(xml, i)) {
            if (/\stests\s*=/.test(attrs)) report.evidence = true;
            const frame: SuiteFrame = {
              tag: name,
              attrs,
              cases: 0,
              suites: 0,
              loose: 0,
              outermostSuite: name === 'testsuite' && !stack.some((f) => f.tag === 'testsuite'),
            };
            if (selfClosing) closeFrame(frame);
            else stack.push(frame);
          }
        } else if (stack.length > 0) {
          if (name === 'testcase') {
            if (!closing) {
              endCase();
              report.evidence = true;
              stack[stack.length - 1]!.cases++;
              testcase = { failed: false, skipped: false };
            }
            if (closing || selfClosing) endCase();
          } else if (!closing) {
            if (name === 'skipped') {
              if (testcase) testcase.skipped = true;
            } else if (testcase) testcase.failed = true;
            else stack[stack.length - 1]!.loose++;
          }
        }
      }
    }
    i = xml.indexOf('<', resume);
  }
  endReport();

  // TypeScript does not see endReport() assign `last`, and would narrow it to null here.
  const found = last as JunitReport | null;
  if (!found || found.broken || !found.evidence) return null;
  return counts('junit', found.passed, found.failed, found.skipped);
}

/**
 * A printed report puts its root element at the start of a line or right after the XML declaration;
 * a `<testsuites>` quoted inside a log line (an assertion message, say) is not a report.
 */
function startsRoot(xml: string, at: number): boolean {
  let j = at - 1;
  while (j >= 0 && (xml[j] === ' ' || xml[j] === '\t' || xml[j] === '\uFEFF')) j--;
  return j < 0 || xml[j] === '\n' || xml[j] === '\r' || (xml[j] === '>' && xml[j - 1] === '?');
}

function addAttributeCounts(report: JunitReport, attrs: string, loose: number): void {
  const values: Record<string, string> = {};
  for (const m of attrs.matchAll(JUNIT_ATTR)) values[m[1]!] = m[2] ?? m[3] ?? '';
  const number = (key: string): number => {
    const raw = values[key];
    if (raw === undefined) return 0;
    if (!/^\s*\d+\s*$/.test(raw)) {
      report.broken = true;
      return 0;
    }
    return Number(raw);
  };
  const tests = number('tests');
  const failed = number('failures') + number('errors');
  const skipped = number('skipped');
  // Some reporters count a suite-level error outside `tests`; reading fewer passes is the safe side.
  report.passed += Math.max(0, tests - failed - skipped);
  report.failed += Math.max(failed, loose);
  report.skipped += skipped;
}

// ---------------------------------------------------------------- node --test

const NODE_SUMMARY = /^(?:ℹ|#) (tests|pass|fail|cancelled|skipped|todo) +(\d+)\s*$/;

function parseNodeSummary(lines: string[]): Reading {
  type Summary = Partial<Record<'tests' | 'pass' | 'fail' | 'cancelled' | 'skipped' | 'todo', number>>;
  let current: Summary | null = null;
  let last: Summary | null = null;
  for (const line of lines) {
    if (!line.startsWith('ℹ ') && !line.startsWith('# ')) continue;
    const m = NODE_SUMMARY.exec(line);
    if (!m) continue;
    const key = m[1] as keyof Summary;
    if (key === 'tests') current = { tests: Number(m[2]) };
    else if (current && current[key] === undefined) {
      current[key] = Number(m[2]);
      if (key === 'pass') last = current;
    }
  }
  if (!last) return null;
  const passed = last.pass ?? 0;
  let failed = (last.fail ?? 0) + (last.cancelled ?? 0);
  const skipped = (last.skipped ?? 0) + (last.todo ?? 0);
  const tests = last.tests ?? 0;
  const accounted = passed + failed + skipped;
  if (tests < accounted) return UNKNOWABLE;
  failed += tests - accounted;
  return counts('node-test', passed, failed, skipped);
}

// ---------------------------------------------------------------- pytest

const PYTEST_ITEM = String.raw`(?:\d+ [a-z]+|no tests ran)`;
const PYTEST_SUMMARY = new RegExp(String.raw`^(?:=+ )?(${PYTEST_ITEM}(?:, ${PYTEST_ITEM})*) in \d+(?:\.\d+)?(?:s| seconds)(?: \(\d+:\d\d:\d\d\))?(?: =+)?$`);
const PYTEST_WORDS = new Set(['passed', 'failed', 'error', 'errors', 'skipped', 'xfailed', 'xpassed', 'warning', 'warnings', 'deselected', 'rerun']);

function parsePytest(lines: string[]): Reading {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    // A summary line is short; the cap keeps a single megabyte-long line from costing a regex scan.
    if (line.length > 400 || !line.includes(' in ')) continue;
    const m = PYTEST_SUMMARY.exec(line);
    if (!m) continue;
    const found = { passed: 0, failed: 0, skipped: 0 };
    let known = true;
    for (const item of m[1]!.split(', ')) {
      if (item === 'no tests ran') continue;
      const [n, word] = item.split(' ') as [string, string];
      if (!PYTEST_WORDS.has(word)) known = false;
      const value = Number(n);
      if (word === 'passed' || word === 'xpassed') found.passed += value;
      else if (word === 'failed' || word === 'error' || word === 'errors') found.failed += value;
      else if (word === 'skipped' || word === 'xfailed') found.skipped += value;
    }
    if (known) return counts('pytest', found.passed, found.failed, found.skipped);
  }
  return null;
}

// ---------------------------------------------------------------- go test

const GO_RESULT = /^\s*--- (PASS|FAIL|SKIP): (\S+) \(\d+(?:\.\d+)?s\)/;
const GO_RUN = /^=== RUN\s+(\S+)/;
// Tabs are what go prints, but logs that expanded them to spaces must still show a failed build.
const GO_PACKAGE = /^(ok|FAIL|\?)[ \t]+(\S+)[ \t]+(\[build failed\]|\[setup failed\]|\[no test files\]|\(cached\)|\d+(?:\.\d+)?s)(?:[ \t].*)?$/;

/** Failed packages against the packages that have a failed test of their own. */
class PackageFailures {
  private readonly failedPackages = new Set<string>();
  private readonly withFailedTest = new Set<string>();
  packageFailed(pkg: string): void {
    this.failedPackages.add(pkg);
  }
  testFailed(pkg: string): void {
    this.withFailedTest.add(pkg);
  }
  /** One failure for each failed package that no failed test explains. */
  unexplained(): number {
    let n = 0;
    for (const pkg of this.failedPackages) if (!this.withFailedTest.has(pkg)) n++;
    return n;
  }
}

function goBuildFailure(line: string): string | null {
  if (!line.startsWith('FAIL')) return null;
  const m = GO_PACKAGE.exec(line);
  return m && (m[3] === '[build failed]' || m[3] === '[setup failed]') ? m[2]! : null;
}

const GO_ACTIONS = new Set(['start', 'run', 'pause', 'cont', 'pass', 'fail', 'skip', 'output', 'bench', 'build-output', 'build-fail']);

function parseGoJson(lines: string[]): Reading {
  let events = 0;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const running = new Map<string, number>();
  const packages = new PackageFailures();
  for (const line of lines) {
    const built = goBuildFailure(line);
    if (built !== null) {
      packages.packageFailed(built);
      continue;
    }
    if (!line.startsWith('{') || !line.includes('"Action"')) continue;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof event !== 'object' || event === null) continue;
    const { Action: action, Package: pkgField, ImportPath: importPath, Test: test } = event as Record<string, unknown>;
    if (typeof action !== 'string' || !GO_ACTIONS.has(action)) continue;
    if (typeof pkgField !== 'string' && typeof importPath !== 'string') continue;
    events++;
    const pkg = typeof pkgField === 'string' ? pkgField : '';
    if (typeof test !== 'string') {
      if (action === 'fail' && pkg) packages.packageFailed(pkg);
      continue;
    }
    // A NUL cannot occur in a package path or a test name, so the key is unambiguous.
    const key = `${pkg}\0${test}`;
    if (action === 'run') running.set(key, (running.get(key) ?? 0) + 1);
    else if (action === 'pass' || action === 'fail' || action === 'skip') {
      const open = running.get(key) ?? 0;
      if (open > 1) running.set(key, open - 1);
      else running.delete(key);
      if (action === 'pass') passed++;
      else if (action === 'skip') skipped++;
      else {
        failed++;
        packages.testFailed(pkg);
      }
    }
  }
  if (events === 0) return null;
  for (const [key, open] of running) {
    failed += open;
    packages.testFailed(key.slice(0, key.indexOf('\0')));
  }
  return counts('go-test-json', passed, failed + packages.unexplained(), skipped);
}

function parseGoVerbose(lines: string[]): Reading {
  let recognised = false;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const packages = new PackageFailures();
  // The lines since the previous package line: go prints each package's output as one block before its ok/FAIL line.
  let runs = 0;
  let results = 0;
  let failedHere = 0;
  let running = new Map<string, number>();
  const closeSection = (): number => {
    let unfinished = 0;
    for (const open of running.values()) unfinished += open;
    running = new Map();
    return unfinished;
  };

  for (const line of lines) {
    if (line.startsWith('=== RUN')) {
      const m = GO_RUN.exec(line);
      if (m) {
        recognised = true;
        runs++;
        running.set(m[1]!, (running.get(m[1]!) ?? 0) + 1);
      }
      continue;
    }
    if (line.includes('--- ')) {
      const m = GO_RESULT.exec(line);
      if (m) {
        recognised = true;
        if (runs === 0) return UNKNOWABLE;
        results++;
        const open = running.get(m[2]!) ?? 0;
        if (open > 1) running.set(m[2]!, open - 1);
        else running.delete(m[2]!);
        if (m[1] === 'PASS') passed++;
        else if (m[1] === 'SKIP') skipped++;
        else {
          failed++;
          failedHere++;
        }
        continue;
      }
    }
    if (!line.startsWith('ok') && !line.startsWith('FAIL') && !line.startsWith('?')) continue;
    const m = GO_PACKAGE.exec(line);
    if (!m) continue;
    recognised = true;
    const status = m[1]!;
    const pkg = m[2]!;
    const detail = m[3]!;
    if (detail === '[build failed]' || detail === '[setup failed]') {
      packages.packageFailed(pkg);
      continue;
    }
    if (detail === '[no test files]') continue;
    if (status === 'ok' && runs === 0 && results === 0 && !line.includes('[no tests to run]')) return UNKNOWABLE;
    const unfinished = closeSection();
    failed += unfinished;
    if (failedHere + unfinished > 0) packages.testFailed(pkg);
    if (status === 'FAIL') packages.packageFailed(pkg);
    runs = 0;
    results = 0;
    failedHere = 0;
  }
  if (!recognised) return null;
  // Tests still running when the output ends were cut off by a crash or a kill.
  failed += closeSection();
  return counts('go-test', passed, failed + packages.unexplained(), skipped);
}

// ---------------------------------------------------------------- TAP

// "ok" must be followed by the end, one space and a word, or a directive: go's `ok  \tpkg` is not TAP.
const TAP_RESULT = /^(not )?ok(?=$| \S| ?#)(?: (\d+))?(.*)$/;
const TAP_PLAN = /^1\.\.(\d+)(?:\s*#.*)?\s*$/;
const TAP_DIRECTIVE = /(?:^|[^\\])#\s*(skip|todo)/i;

interface TapStream {
  planned: number | null;
  results: number;
  bailed: boolean;
}

function parseTap(lines: string[]): Reading {
  let recognised = false;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let stream: TapStream = { planned: null, results: 0, bailed: false };
  const endStream = () => {
    const missing = stream.planned !== null ? Math.max(0, stream.planned - stream.results) : 0;
    failed += missing > 0 ? missing : stream.bailed ? 1 : 0;
    stream = { planned: null, results: 0, bailed: false };
  };
  const hasContent = () => stream.planned !== null || stream.results > 0 || stream.bailed;

  for (const line of lines) {
    if (line.startsWith('ok') || line.startsWith('not ok')) {
      const m = TAP_RESULT.exec(line);
      if (!m) continue;
      if (m[2] === '1' && stream.results > 0) endStream();
      if (m[2] !== undefined) recognised = true;
      stream.results++;
      const directive = TAP_DIRECTIVE.exec(m[3] ?? '');
      if (directive) skipped++;
      else if (m[1]) failed++;
      else passed++;
    } else if (line.startsWith('1..')) {
      const m = TAP_PLAN.exec(line);
      if (!m) continue;
      if (stream.planned !== null) endStream();
      recognised = true;
      stream.planned = Number(m[1]);
    } else if (line.startsWith('TAP version')) {
      if (hasContent()) endStream();
    } else if (line.startsWith('Bail out!')) {
      stream.bailed = true;
    }
  }
  endStream();
  return recognised ? counts('tap', passed, failed, skipped) : null;
}
