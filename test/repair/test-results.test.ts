import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeCounts, parseTestCounts, type TestCounts } from '../../src/repair/test-results.js';
import { tempDir } from '../helpers/temp.js';

const counts = (format: TestCounts['format'], passed: number, failed: number, skipped = 0): TestCounts => ({ passed, failed, skipped, format });

// Real output of `node --test --test-reporter=spec` (Node 20) on a file with 2 passing tests, 1 failing, 1 skipped,
// 1 failing todo, a describe() with 2 passing tests and a test whose subtest was cancelled by its parent.
const NODE_SPEC = `✔ adds (1.100333ms)
✖ fails (1.083958ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
      at TestContext.<anonymous> (file:///tmp/demo/a.test.mjs:4:28)
      at Test.runInAsyncScope (node:async_hooks:206:9)
      at Test.run (node:internal/test_runner/test:796:25)
      at Test.processPendingSubtests (node:internal/test_runner/test:526:18)
      at Test.postRun (node:internal/test_runner/test:889:19)
      at Test.run (node:internal/test_runner/test:835:12)
      at async Test.processPendingSubtests (node:internal/test_runner/test:526:7) {
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: 1,
    expected: 2,
    operator: 'strictEqual'
  }

﹣ skipped (0.110053ms) # SKIP
✖ todo (0.150894ms) # TODO
  Error: x
      at TestContext.<anonymous> (file:///tmp/demo/a.test.mjs:6:44)
      at Test.runInAsyncScope (node:async_hooks:206:9)
      at Test.run (node:internal/test_runner/test:796:25)
      at Test.processPendingSubtests (node:internal/test_runner/test:526:18)
      at Test.postRun (node:internal/test_runner/test:889:19)
      at Test.run (node:internal/test_runner/test:835:12)
      at async Test.processPendingSubtests (node:internal/test_runner/test:526:7)

▶ group
  ✔ inner ok (0.152957ms)
  ✔ inner ok 2 (1.690639ms)
✔ group (2.223169ms)
▶ cancelled parent
  ✖ sub never awaited (0.636334ms)
    'test did not finish before its parent and was cancelled'

✖ cancelled parent (0.706799ms)
ℹ tests 8
ℹ suites 1
ℹ pass 3
ℹ fail 2
ℹ cancelled 1
ℹ skipped 1
ℹ todo 1
ℹ duration_ms 174.779699

✖ failing tests:

test at a.test.mjs:4:1
✖ fails (1.083958ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
      at TestContext.<anonymous> (file:///tmp/demo/a.test.mjs:4:28)
      at Test.runInAsyncScope (node:async_hooks:206:9)
      at Test.run (node:internal/test_runner/test:796:25)
      at Test.processPendingSubtests (node:internal/test_runner/test:526:18)
      at Test.postRun (node:internal/test_runner/test:889:19)
      at Test.run (node:internal/test_runner/test:835:12)
      at async Test.processPendingSubtests (node:internal/test_runner/test:526:7) {
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: 1,
    expected: 2,
    operator: 'strictEqual'
  }

test at a.test.mjs:6:1
✖ todo (0.150894ms) # TODO
  Error: x
      at TestContext.<anonymous> (file:///tmp/demo/a.test.mjs:6:44)
      at Test.runInAsyncScope (node:async_hooks:206:9)
      at Test.run (node:internal/test_runner/test:796:25)
      at Test.processPendingSubtests (node:internal/test_runner/test:526:18)
      at Test.postRun (node:internal/test_runner/test:889:19)
      at Test.run (node:internal/test_runner/test:835:12)
      at async Test.processPendingSubtests (node:internal/test_runner/test:526:7)

test at a.test.mjs:12:5
✖ sub never awaited (0.636334ms)
  'test did not finish before its parent and was cancelled'`;

// The same file under `--test-reporter=tap`.
const NODE_TAP = `TAP version 13
# Subtest: adds
ok 1 - adds
  ---
  duration_ms: 1.586314
  ...
# Subtest: fails
not ok 2 - fails
  ---
  duration_ms: 1.690027
  location: '/tmp/demo/a.test.mjs:4:1'
  failureType: 'testCodeFailure'
  error: |-
    Expected values to be strictly equal:
    
    1 !== 2
    
  code: 'ERR_ASSERTION'
  name: 'AssertionError'
  expected: 2
  actual: 1
  operator: 'strictEqual'
  stack: |-
    TestContext.<anonymous> (file:///tmp/demo/a.test.mjs:4:28)
    Test.runInAsyncScope (node:async_hooks:206:9)
    Test.run (node:internal/test_runner/test:796:25)
    Test.processPendingSubtests (node:internal/test_runner/test:526:18)
    Test.postRun (node:internal/test_runner/test:889:19)
    Test.run (node:internal/test_runner/test:835:12)
    async Test.processPendingSubtests (node:internal/test_runner/test:526:7)
  ...
# Subtest: skipped
ok 3 - skipped # SKIP
  ---
  duration_ms: 0.179987
  ...
# Subtest: todo
not ok 4 - todo # TODO
  ---
  duration_ms: 0.180138
  location: '/tmp/demo/a.test.mjs:6:1'
  failureType: 'testCodeFailure'
  error: 'x'
  code: 'ERR_TEST_FAILURE'
  stack: |-
    TestContext.<anonymous> (file:///tmp/demo/a.test.mjs:6:44)
    Test.runInAsyncScope (node:async_hooks:206:9)
    Test.run (node:internal/test_runner/test:796:25)
    Test.processPendingSubtests (node:internal/test_runner/test:526:18)
    Test.postRun (node:internal/test_runner/test:889:19)
    Test.run (node:internal/test_runner/test:835:12)
    async Test.processPendingSubtests (node:internal/test_runner/test:526:7)
  ...
# Subtest: group
    # Subtest: inner ok
    ok 1 - inner ok
      ---
      duration_ms: 0.283971
      ...
    # Subtest: inner ok 2
    ok 2 - inner ok 2
      ---
      duration_ms: 1.345296
      ...
    1..2
ok 5 - group
  ---
  duration_ms: 2.036742
  type: 'suite'
  ...
# Subtest: cancelled parent
    # Subtest: sub never awaited
    not ok 1 - sub never awaited
      ---
      duration_ms: 0.875709
      location: '/tmp/demo/a.test.mjs:12:5'
      failureType: 'cancelledByParent'
      error: 'test did not finish before its parent and was cancelled'
      code: 'ERR_TEST_FAILURE'
      ...
    1..1
not ok 6 - cancelled parent
  ---
  duration_ms: 0.946334
  location: '/tmp/demo/a.test.mjs:11:1'
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  code: 'ERR_TEST_FAILURE'
  ...
1..6
# tests 8
# suites 1
# pass 3
# fail 2
# cancelled 1
# skipped 1
# todo 1
# duration_ms 180.547202`;

// `node --test` on a terminal (script -qc): colours and CRLF line ends, cut after the summary.
const NODE_SPEC_TTY = [
  '\x1b[32m✔ one \x1b[90m(1.032442ms)\x1b[39m\x1b[39m',
  '\x1b[32m✔ two \x1b[90m(0.111636ms)\x1b[39m\x1b[39m',
  '\x1b[32m✔ three \x1b[90m(0.101711ms)\x1b[39m\x1b[39m',
  '\x1b[31m✖ four fails \x1b[90m(1.791339ms)\x1b[39m\x1b[39m',
  '  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:',
  '  ',
  '  1 !== 2',
  '  ',
  '      at TestContext.<anonymous> \x1b[90m(file:///tmp/demo/\x1b[39mb.test.mjs:6:33\x1b[90m)\x1b[39m',
  '  \x1b[90m    at Test.runInAsyncScope (node:async_hooks:206:9)\x1b[39m',
  '  \x1b[90m    at Test.run (node:internal/test_runner/test:796:25)\x1b[39m',
  '  \x1b[90m    at Test.processPendingSubtests (node:internal/test_runner/test:526:18)\x1b[39m',
  '  \x1b[90m    at Test.postRun (node:internal/test_runner/test:889:19)\x1b[39m',
  '  \x1b[90m    at Test.run (node:internal/test_runner/test:835:12)\x1b[39m',
  '  \x1b[90m    at async Test.processPendingSubtests (node:internal/test_runner/test:526:7)\x1b[39m {',
  '    generatedMessage: \x1b[33mtrue\x1b[39m,',
  "    code: \x1b[32m'ERR_ASSERTION'\x1b[39m,",
  '    actual: \x1b[33m1\x1b[39m,',
  '    expected: \x1b[33m2\x1b[39m,',
  "    operator: \x1b[32m'strictEqual'\x1b[39m",
  '  }',
  '',
  '\x1b[34mℹ tests 4\x1b[39m',
  '\x1b[34mℹ suites 0\x1b[39m',
  '\x1b[34mℹ pass 3\x1b[39m',
  '\x1b[34mℹ fail 1\x1b[39m',
  '\x1b[34mℹ cancelled 0\x1b[39m',
  '\x1b[34mℹ skipped 0\x1b[39m',
  '\x1b[34mℹ todo 0\x1b[39m',
  '\x1b[34mℹ duration_ms 139.496291\x1b[39m',
].join('\r\n');

// The same file under `--test-reporter=junit`: cases straight under <testsuites>, a parent test as a nested suite.
const NODE_JUNIT = `<?xml version="1.0" encoding="utf-8"?>
<testsuites>
	<testcase name="adds" time="0.001615" classname="test"/>
	<testcase name="fails" time="0.001731" classname="test" failure="Expected values to be strictly equal:1 !== 2">
		<failure type="testCodeFailure" message="Expected values to be strictly equal:1 !== 2">
[Error [ERR_TEST_FAILURE]: Expected values to be strictly equal:

1 !== 2
] {
  code: 'ERR_TEST_FAILURE',
  failureType: 'testCodeFailure',
  cause: AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
      at TestContext.&lt;anonymous> (file:///tmp/demo/a.test.mjs:4:28)
      at Test.runInAsyncScope (node:async_hooks:206:9)
      at Test.run (node:internal/test_runner/test:796:25)
      at Test.processPendingSubtests (node:internal/test_runner/test:526:18)
      at Test.postRun (node:internal/test_runner/test:889:19)
      at Test.run (node:internal/test_runner/test:835:12)
      at async Test.processPendingSubtests (node:internal/test_runner/test:526:7) {
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: 1,
    expected: 2,
    operator: 'strictEqual'
  }
}
		</failure>
	</testcase>
	<testcase name="skipped" time="0.000173" classname="test">
		<skipped type="skipped" message="true"/>
	</testcase>
	<testcase name="todo" time="0.000194" classname="test" failure="x">
		<skipped type="todo" message="true"/>
		<failure type="testCodeFailure" message="x">
[Error [ERR_TEST_FAILURE]: x] {
  code: 'ERR_TEST_FAILURE',
  failureType: 'testCodeFailure',
  cause: Error: x
      at TestContext.&lt;anonymous> (file:///tmp/demo/a.test.mjs:6:44)
      at Test.runInAsyncScope (node:async_hooks:206:9)
      at Test.run (node:internal/test_runner/test:796:25)
      at Test.processPendingSubtests (node:internal/test_runner/test:526:18)
      at Test.postRun (node:internal/test_runner/test:889:19)
      at Test.run (node:internal/test_runner/test:835:12)
      at async Test.processPendingSubtests (node:internal/test_runner/test:526:7)
}
		</failure>
	</testcase>
	<testsuite name="group" time="0.002261" disabled="0" errors="0" tests="2" failures="0" skipped="0" hostname="vm">
		<testcase name="inner ok" time="0.000267" classname="test"/>
		<testcase name="inner ok 2" time="0.001353" classname="test"/>
	</testsuite>
	<testsuite name="cancelled parent" time="0.001021" disabled="0" errors="0" tests="1" failures="1" skipped="0" hostname="vm">
		<testcase name="sub never awaited" time="0.000962" classname="test" failure="test did not finish before its parent and was cancelled">
			<failure type="cancelledByParent" message="test did not finish before its parent and was cancelled">
[Error [ERR_TEST_FAILURE]: test did not finish before its parent and was cancelled] { code: 'ERR_TEST_FAILURE', failureType: 'cancelledByParent', cause: 'test did not finish before its parent and was cancelled' }
			</failure>
		</testcase>
	</testsuite>
	<!-- tests 8 -->
	<!-- suites 1 -->
	<!-- pass 3 -->
	<!-- fail 2 -->
	<!-- cancelled 1 -->
	<!-- skipped 1 -->
	<!-- todo 1 -->
	<!-- duration_ms 189.507749 -->
</testsuites>`;

// Real pytest 9 output: 4 passed, 1 failed, 1 skipped, 1 setup error, 1 xfailed, 1 xpassed, 1 warning.
const PYTEST = `============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.0.3, pluggy-1.6.0
benchmark: 5.2.3 (defaults: timer=time.perf_counter disable_gc=False min_rounds=5 min_time=0.000005 max_time=1.0 calibration_precision=10 warmup=False warmup_iterations=100000)
rootdir: /tmp/demo
plugins: hypothesis-6.155.2, benchmark-5.2.3
collected 9 items

test_a.py ...FsExX.                                                      [100%]

==================================== ERRORS ====================================
__________________________ ERROR at setup of test_err __________________________

    @pytest.fixture
>   def broken(): raise RuntimeError("x")
                  ^^^^^^^^^^^^^^^^^^^^^^^
E   RuntimeError: x

test_a.py:9: RuntimeError
=================================== FAILURES ===================================
___________________________________ test_bad ___________________________________

>   def test_bad(): assert 1 == 2
                    ^^^^^^^^^^^^^
E   assert 1 == 2

test_a.py:5: AssertionError
=============================== warnings summary ===============================
test_a.py::test_warn
  /tmp/demo/test_a.py:16: UserWarning: w
    import warnings; warnings.warn("w")

-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html
=========================== short test summary info ============================
FAILED test_a.py::test_bad - assert 1 == 2
ERROR test_a.py::test_err - RuntimeError: x
= 1 failed, 4 passed, 1 skipped, 1 xfailed, 1 xpassed, 1 warning, 1 error in 0.74s =`;

// The same run's --junitxml report file.
const PYTEST_JUNIT = `<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="2" tests="9" time="0.045" timestamp="2026-12-03T12:48:53.391337+00:00" hostname="vm"><testcase classname="test_a" name="test_ok" time="0.001" /><testcase classname="test_a" name="test_ok2" time="0.000" /><testcase classname="test_a" name="test_ok3" time="0.000" /><testcase classname="test_a" name="test_bad" time="0.001"><failure message="assert 1 == 2">&gt;   def test_bad(): assert 1 == 2
                    ^^^^^^^^^^^^^
E   assert 1 == 2

test_a.py:5: AssertionError</failure></testcase><testcase classname="test_a" name="test_skip" time="0.000"><skipped type="pytest.skip" message="unconditional skip">/tmp/demo/test_a.py:6: unconditional skip</skipped></testcase><testcase classname="test_a" name="test_err" time="0.000"><error message="failed on setup with &quot;RuntimeError: x&quot;">@pytest.fixture
&gt;   def broken(): raise RuntimeError("x")
                  ^^^^^^^^^^^^^^^^^^^^^^^
E   RuntimeError: x

test_a.py:9: RuntimeError</error></testcase><testcase classname="test_a" name="test_xf" time="0.000"><skipped type="pytest.xfail" message="" /></testcase><testcase classname="test_a" name="test_xp" time="0.000" /><testcase classname="test_a" name="test_warn" time="0.000" /></testsuite></testsuites>`;

// Real `prove -v t/`: a.t has 1 failure, a skip and a TODO; b.t planned 4 and died after 2.
const PROVE = `
#   Failed test 'second'
#   at t/a.t line 3.
# Looks like you failed 1 test of 5.
t/a.t .. 
1..5
ok 1 - first
not ok 2 - second
ok 3 # skip no db
not ok 4 - future # TODO not yet
#   Failed (TODO) test 'future'
#   at t/a.t line 5.
ok 5 - last
Dubious, test returned 1 (wstat 256, 0x100)
Failed 1/5 subtests 
	(less 1 skipped subtest: 3 okay)
crashed at t/b.t line 4.
# Looks like your test exited with 255 just after 2.
t/b.t .. 
1..4
ok 1 - one
ok 2 - two
Dubious, test returned 255 (wstat 65280, 0xff00)
Failed 2/4 subtests 

Test Summary Report
-------------------
t/a.t (Wstat: 256 (exited 1) Tests: 5 Failed: 1)
  Failed test:  2
  Non-zero exit status: 1
t/b.t (Wstat: 65280 (exited 255) Tests: 2 Failed: 0)
  Non-zero exit status: 255
  Parse errors: Bad plan.  You planned 4 tests but ran 2.
Files=2, Tests=7,  0 wallclock secs ( 0.02 usr  0.00 sys +  0.06 cusr  0.02 csys =  0.10 CPU)
Result: FAIL`;

// Hand-written to go's exact format (no Go toolchain where these tests were written): `go test -v ./...`.
const GO_VERBOSE = [
  '=== RUN   TestAdd',
  '--- PASS: TestAdd (0.00s)',
  '=== RUN   TestDiv',
  '    div_test.go:12: want 2, got 3',
  '--- FAIL: TestDiv (0.00s)',
  '=== RUN   TestNetwork',
  '    net_test.go:8: needs network',
  '--- SKIP: TestNetwork (0.00s)',
  '=== RUN   TestTable',
  '=== RUN   TestTable/one',
  '=== RUN   TestTable/two',
  '    table_test.go:20: bad',
  '--- FAIL: TestTable (0.00s)',
  '    --- PASS: TestTable/one (0.00s)',
  '    --- FAIL: TestTable/two (0.00s)',
  'FAIL',
  'FAIL\texample.com/m/calc\t0.004s',
  '=== RUN   TestOK',
  '--- PASS: TestOK (0.00s)',
  'PASS',
  'ok  \texample.com/m/other\t0.002s\tcoverage: 81.2% of statements',
  '?   \texample.com/m/cmd\t[no test files]',
  'FAIL',
].join('\n');

const goEvent = (fields: Record<string, unknown>) => JSON.stringify({ Time: '2025-01-01T00:00:00.000000000Z', ...fields });

// `go test -json ./...` in go 1.24's shape, build failure included.
const GO_JSON = [
  goEvent({ Action: 'start', Package: 'example.com/m/calc' }),
  goEvent({ Action: 'run', Package: 'example.com/m/calc', Test: 'TestAdd' }),
  goEvent({ Action: 'output', Package: 'example.com/m/calc', Test: 'TestAdd', Output: '=== RUN   TestAdd\n' }),
  goEvent({ Action: 'output', Package: 'example.com/m/calc', Test: 'TestAdd', Output: '--- PASS: TestAdd (0.00s)\n' }),
  goEvent({ Action: 'pass', Package: 'example.com/m/calc', Test: 'TestAdd', Elapsed: 0 }),
  goEvent({ Action: 'run', Package: 'example.com/m/calc', Test: 'TestTable' }),
  goEvent({ Action: 'run', Package: 'example.com/m/calc', Test: 'TestTable/one' }),
  goEvent({ Action: 'run', Package: 'example.com/m/calc', Test: 'TestTable/two' }),
  goEvent({ Action: 'output', Package: 'example.com/m/calc', Test: 'TestTable/two', Output: '    table_test.go:20: bad\n' }),
  goEvent({ Action: 'pass', Package: 'example.com/m/calc', Test: 'TestTable/one', Elapsed: 0 }),
  goEvent({ Action: 'fail', Package: 'example.com/m/calc', Test: 'TestTable/two', Elapsed: 0 }),
  goEvent({ Action: 'fail', Package: 'example.com/m/calc', Test: 'TestTable', Elapsed: 0 }),
  goEvent({ Action: 'run', Package: 'example.com/m/calc', Test: 'TestNetwork' }),
  goEvent({ Action: 'skip', Package: 'example.com/m/calc', Test: 'TestNetwork', Elapsed: 0 }),
  goEvent({ Action: 'output', Package: 'example.com/m/calc', Output: 'FAIL\n' }),
  goEvent({ Action: 'output', Package: 'example.com/m/calc', Output: 'FAIL\texample.com/m/calc\t0.004s\n' }),
  goEvent({ Action: 'fail', Package: 'example.com/m/calc', Elapsed: 0.004 }),
  goEvent({ Action: 'start', Package: 'example.com/m/cmd' }),
  goEvent({ Action: 'output', Package: 'example.com/m/cmd', Output: '?   \texample.com/m/cmd\t[no test files]\n' }),
  goEvent({ Action: 'skip', Package: 'example.com/m/cmd', Elapsed: 0 }),
  JSON.stringify({ ImportPath: 'example.com/m/broken [example.com/m/broken.test]', Action: 'build-output', Output: 'broken/b_test.go:5:2: undefined: x\n' }),
  JSON.stringify({ ImportPath: 'example.com/m/broken [example.com/m/broken.test]', Action: 'build-fail' }),
  goEvent({ Action: 'start', Package: 'example.com/m/broken' }),
  goEvent({ Action: 'output', Package: 'example.com/m/broken', Output: 'FAIL\texample.com/m/broken [build failed]\n' }),
  goEvent({ Action: 'fail', Package: 'example.com/m/broken', Elapsed: 0, FailedBuild: 'example.com/m/broken [example.com/m/broken.test]' }),
].join('\n');

test('node --test spec reporter, real output: cancelled counts as failed, todo as skipped', () => {
  // Node printed tests 8, pass 3, fail 2, cancelled 1, skipped 1, todo 1.
  assert.deepEqual(parseTestCounts(NODE_SPEC), counts('node-test', 3, 3, 2));
});

test('node --test TAP reporter, real output: the # summary lines, not the results, decide', () => {
  assert.deepEqual(parseTestCounts(NODE_TAP), counts('node-test', 3, 3, 2));
});

test('node TAP without its summary lines: only top-level results count, subtests indented 4 spaces do not', () => {
  const noSummary = NODE_TAP.split('\n')
    .filter((line) => !/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(line))
    .join('\n');
  // Top level: adds ok, fails not ok, skipped # SKIP, todo not ok # TODO, group ok, cancelled parent not ok; plan 1..6.
  assert.deepEqual(parseTestCounts(noSummary), counts('tap', 2, 2, 2));
});

test('ANSI colours and CRLF from a terminal are stripped before reading', () => {
  assert.ok(NODE_SPEC_TTY.includes('\x1b[34mℹ tests 4\x1b[39m\r\n'));
  assert.deepEqual(parseTestCounts(NODE_SPEC_TTY), counts('node-test', 3, 1));
  assert.deepEqual(
    parseTestCounts(PYTEST.replace(/^= .*$/m, '\x1b[31m= \x1b[31m\x1b[1m1 failed\x1b[0m, \x1b[32m4 passed\x1b[0m\x1b[31m in 1.00s\x1b[0m\x1b[31m =\x1b[0m')),
    counts('pytest', 4, 1),
  );
  assert.deepEqual(parseTestCounts('\x1b]0;title\x07\x1b[1m\x1b[32mok 1 - a\x1b[0m\n\x1b[31mnot ok 2 - b\x1b[0m\n1..2\n'), counts('tap', 1, 1));
});

test('spawns node --test --test-reporter=tap on 3 passing and 1 failing test and parses the real output', (t) => {
  const dir = tempDir(t, 'test-results-');
  const file = join(dir, 'sample.test.mjs');
  writeFileSync(
    file,
    [
      "import { test } from 'node:test';",
      "import assert from 'node:assert/strict';",
      "test('one', () => {});",
      "test('two', () => {});",
      "test('three', () => {});",
      "test('four fails', () => assert.equal(1, 2));",
    ].join('\n'),
  );
  // Inside a node:test run the child would otherwise talk the runner's binary protocol instead of TAP.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stdout, /^# pass 3$/m);
  assert.deepEqual(parseTestCounts(run.stdout + run.stderr), counts('node-test', 3, 1));
});

test('node summary: cancelled is failed, a cut-off summary counts the rest as failed, an impossible one is null', () => {
  const summary = (lines: string[]) => lines.map((l) => `ℹ ${l}`).join('\n');
  assert.deepEqual(
    parseTestCounts(summary(['tests 6', 'suites 0', 'pass 3', 'fail 0', 'cancelled 2', 'skipped 0', 'todo 1', 'duration_ms 5.1'])),
    counts('node-test', 3, 2, 1),
  );
  assert.deepEqual(parseTestCounts(summary(['tests 5', 'suites 0', 'pass 3'])), counts('node-test', 3, 2));
  assert.equal(parseTestCounts(summary(['tests 2', 'pass 3', 'fail 0'])), null);
  // A lone `tests` line is not a summary.
  assert.equal(parseTestCounts('# tests 4\n'), null);
});

test('node summary: the last one wins (a watch re-run), tape style is read the same way', () => {
  const first = '# tests 4\n# pass 2\n# fail 2\n# cancelled 0\n# skipped 0\n# todo 0\n';
  const second = 'ℹ tests 4\nℹ pass 4\nℹ fail 0\nℹ cancelled 0\nℹ skipped 0\nℹ todo 0\n';
  assert.deepEqual(parseTestCounts(`${first}Restarting 'a.test.js'\n${second}`), counts('node-test', 4, 0));
  assert.deepEqual(parseTestCounts(`${second}${first}`), counts('node-test', 2, 2));
  assert.deepEqual(
    parseTestCounts('TAP version 13\nok 1 should be equal\nnot ok 2 should be truthy\n\n1..2\n# tests 2\n# pass  1\n# fail  1\n'),
    counts('node-test', 1, 1),
  );
});

test('pytest, real output: default, -q and colours; failed + errors, xfailed skipped, xpassed passed', () => {
  assert.deepEqual(parseTestCounts(PYTEST), counts('pytest', 5, 2, 2));
  assert.deepEqual(
    parseTestCounts('..F.  [100%]\n1 failed, 4 passed, 1 skipped, 1 xfailed, 1 xpassed, 1 warning, 1 error in 0.79s\n'),
    counts('pytest', 5, 2, 2),
  );
});

test('pytest summary variants', () => {
  assert.deepEqual(parseTestCounts('==== 3 passed, 1 failed, 2 skipped, 1 error in 0.12s ===='), counts('pytest', 3, 2, 2));
  assert.deepEqual(parseTestCounts('1 failed, 3 passed in 0.10s'), counts('pytest', 3, 1));
  assert.deepEqual(parseTestCounts('5 passed, 1 xfailed, 1 xpassed, 2 warnings in 1.2s'), counts('pytest', 6, 0, 1));
  assert.deepEqual(parseTestCounts('============================ no tests ran in 0.91s ============================='), counts('pytest', 0, 0));
  assert.deepEqual(parseTestCounts('collected 9 items / 9 deselected / 0 selected\n\n===== 9 deselected in 1.05s ====='), counts('pytest', 0, 0));
  const collectionError = 'ERROR coll/test_c.py\n!!!!!!!! Interrupted: 1 error during collection !!!!!!!!\n======= 1 error in 1.01s =======\n';
  assert.deepEqual(parseTestCounts(collectionError), counts('pytest', 0, 1));
  assert.deepEqual(parseTestCounts('== 2 failed, 118 passed, 3 errors in 75.23s (0:01:15) =='), counts('pytest', 118, 5));
  assert.deepEqual(parseTestCounts('===== 7 passed in 0.31 seconds ====='), counts('pytest', 7, 0), 'pytest before 5.x');
  assert.deepEqual(parseTestCounts('== 1 failed, 2 passed, 1 rerun in 0.5s =='), counts('pytest', 2, 1), 'reruns are attempts, not tests');
  assert.equal(parseTestCounts('== 3 passed, 2 subtests passed in 0.1s =='), null, 'an item we do not know is not read as a summary');
  assert.equal(parseTestCounts('Ran 3 tests in 0.001s\n\nOK\n'), null, 'unittest is not pytest');
  assert.deepEqual(parseTestCounts('== 1 failed, 2 passed in 0.2s ==\n...\n== 3 passed in 0.2s =='), counts('pytest', 3, 0), 'the last summary wins');
});

test('go test -v: every test and subtest counts once', () => {
  // Passed: TestAdd, TestTable/one, TestOK; failed: TestDiv, TestTable, TestTable/two; skipped: TestNetwork.
  assert.deepEqual(parseTestCounts(GO_VERBOSE), counts('go-test', 3, 3, 1));
});

test('go test without -v is unknowable, not "all passed"', () => {
  assert.equal(parseTestCounts('ok  \texample.com/m/calc\t0.004s\nok  \texample.com/m/other\t(cached)\n'), null);
  const failingQuiet = '--- FAIL: TestDiv (0.00s)\n    div_test.go:12: want 2, got 3\nFAIL\nFAIL\texample.com/m/calc\t0.004s\nFAIL\n';
  assert.equal(parseTestCounts(failingQuiet), null, 'a quiet run hides the passes of a failing package too');
  assert.equal(parseTestCounts(`${GO_VERBOSE}\nok  \texample.com/m/quiet\t0.010s\n`), null, 'one quiet package spoils the count');
  assert.deepEqual(parseTestCounts('testing: warning: no tests to run\nPASS\nok  \texample.com/m/x\t0.002s [no tests to run]\n'), counts('go-test', 0, 0));
  assert.deepEqual(parseTestCounts('?   \texample.com/m/cmd\t[no test files]\n'), counts('go-test', 0, 0));
});

test('go test: a package that did not build, set up, or got past init is a failure, not "no tests"', () => {
  const build = '# example.com/m/broken\nbroken/b.go:5:2: undefined: x\nFAIL\texample.com/m/broken [build failed]\nFAIL\n';
  assert.deepEqual(parseTestCounts(build), counts('go-test', 0, 1));
  assert.deepEqual(parseTestCounts(`${GO_VERBOSE}\n${build}`), counts('go-test', 3, 4, 1));
  assert.deepEqual(parseTestCounts(build.replace('\t', '    ')), counts('go-test', 0, 1), 'tabs expanded by a log viewer');
  assert.deepEqual(parseTestCounts('go: downloading x\nFAIL\texample.com/m/a [setup failed]\nFAIL\texample.com/m/b [setup failed]\n'), counts('go-test', 0, 2));
  const initPanic = 'panic: open config.yml: no such file or directory\n\ngoroutine 1 [running]:\nmain.init.0()\nFAIL\texample.com/m/cfg\t0.003s\n';
  assert.deepEqual(parseTestCounts(initPanic), counts('go-test', 0, 1));
});

test('go test -v: a test that started and never finished (timeout, crash, cut-off output) counts as failed', () => {
  const timeout = [
    '=== RUN   TestFast',
    '--- PASS: TestFast (0.00s)',
    '=== RUN   TestHang',
    'panic: test timed out after 10m0s',
    '\trunning tests:',
    '\t\tTestHang (10m0s)',
    'FAIL\texample.com/m/slow\t600.012s',
  ].join('\n');
  assert.deepEqual(parseTestCounts(timeout), counts('go-test', 1, 1));
  assert.deepEqual(parseTestCounts('=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n'), counts('go-test', 1, 1));
});

test('go test -json: tests with a Test field count, package events do not, a failed build does', () => {
  // Passed: TestAdd, TestTable/one; failed: TestTable/two, TestTable, the broken package; skipped: TestNetwork.
  assert.deepEqual(parseTestCounts(GO_JSON), counts('go-test-json', 2, 3, 1));
});

test('go test -json: build failures in the older plain-text shape, counted once per package; unfinished tests fail', () => {
  const older = [
    goEvent({ Action: 'run', Package: 'example.com/m/a', Test: 'TestA' }),
    goEvent({ Action: 'pass', Package: 'example.com/m/a', Test: 'TestA', Elapsed: 0 }),
    goEvent({ Action: 'pass', Package: 'example.com/m/a', Elapsed: 0.01 }),
    '# example.com/m/broken',
    'broken/b.go:5:2: undefined: x',
    'FAIL\texample.com/m/broken [build failed]',
    goEvent({ Action: 'fail', Package: 'example.com/m/broken', Elapsed: 0 }),
  ].join('\n');
  assert.deepEqual(parseTestCounts(older), counts('go-test-json', 1, 1));
  const hung = [
    goEvent({ Action: 'run', Package: 'example.com/m/slow', Test: 'TestHang' }),
    goEvent({ Action: 'output', Package: 'example.com/m/slow', Test: 'TestHang', Output: 'panic: test timed out after 10m0s\n' }),
    goEvent({ Action: 'fail', Package: 'example.com/m/slow', Elapsed: 600 }),
  ].join('\n');
  assert.deepEqual(parseTestCounts(hung), counts('go-test-json', 0, 1), 'the hung test is the package failure, not a second one');
});

test('JUnit: real pytest report file; failed = failures + errors; skipped', () => {
  assert.deepEqual(parseTestCounts('', PYTEST_JUNIT), counts('junit', 5, 2, 2));
});

test('JUnit on stdout: real node junit reporter; a failing todo is skipped; the comment totals are ignored', () => {
  assert.deepEqual(parseTestCounts(NODE_JUNIT), counts('junit', 3, 2, 2));
});

test('JUnit: nested suites and <testsuites> totals are not double counted', () => {
  const nested = `<?xml version="1.0"?>
<testsuites tests="5" failures="1" errors="1" skipped="1">
  <testsuite name="outer" tests="5" failures="1" errors="1" skipped="1">
    <testsuite name="inner" tests="3" failures="1" errors="0" skipped="1">
      <testcase name="a"/>
      <testcase name="b"><failure message="x &gt; y">boom</failure></testcase>
      <testcase name="c"><skipped/></testcase>
    </testsuite>
    <testcase name="d"><error message="crash"/></testcase>
    <testcase name="e" time="0.1"></testcase>
  </testsuite>
</testsuites>`;
  assert.deepEqual(parseTestCounts('', nested), counts('junit', 2, 2, 1));
});

test('JUnit: suites without testcases count from their attributes, summed over the outermost suites', () => {
  const summaryOnly = `<testsuites tests="99" failures="9">
<testsuite name="a" tests="10" failures="2" errors="1" skipped="3"/>
<testsuite name="b" tests="4" failures="0" errors="0"></testsuite>
</testsuites>`;
  assert.deepEqual(parseTestCounts('', summaryOnly), counts('junit', 8, 3, 3));
  // A lone <testsuite> root, as surefire writes one per class.
  assert.deepEqual(
    parseTestCounts(
      '',
      '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="com.x.FooTest" tests="7" errors="1" skipped="0" failures="2" time="0.3"></testsuite>',
    ),
    counts('junit', 4, 3),
  );
  assert.deepEqual(parseTestCounts('', '<testsuites tests="3" failures="1"></testsuites>'), counts('junit', 2, 1));
  assert.deepEqual(parseTestCounts('', '<testsuite name="a" tests="1" failures="2"/>'), counts('junit', 0, 2), 'passed never below 0');
});

test('JUnit: what is not a report', () => {
  const truncated = '<?xml version="1.0"?>\n<testsuites>\n<testsuite name="a" tests="3">\n<testcase name="x"/>\n';
  assert.equal(parseTestCounts('', truncated), null, 'a run that crashed while writing');
  assert.equal(parseTestCounts('', '<testsuite name="a" tests="three"/>'), null);
  assert.equal(parseTestCounts('', '<testsuites/>'), null, 'no testcase and no tests attribute');
  assert.equal(parseTestCounts('AssertionError: expected \'<testsuite tests="1"><testcase name="x"/></testsuite>\'\n'), null, 'quoted in a log line');
  const cdata =
    '<testsuite name="s">\n<testcase name="x"><system-out><![CDATA[<testcase name="fake"><failure/></testcase>]]></system-out></testcase>\n<!-- <testcase name="ghost"/> -->\n</testsuite>\n';
  assert.deepEqual(parseTestCounts(cdata), counts('junit', 1, 0), 'CDATA and comments are not counted');
  assert.deepEqual(
    parseTestCounts('', '<testsuite name="s" tests="0"><error message="setUpClass failed"/></testsuite>'),
    counts('junit', 0, 1),
    'a suite that failed to set up',
  );
  assert.deepEqual(parseTestCounts('', '<testsuite tests="0" errors="1"><error message="setUpClass failed"/></testsuite>'), counts('junit', 0, 1), 'not twice');
  assert.deepEqual(
    parseTestCounts('', '<testsuites><testsuite><testcase name="a"/><error message="tearDownClass"/></testsuite></testsuites>'),
    counts('junit', 1, 1),
  );
});

test('JUnit on stdout: the last report wins; an unusable report file falls back to the output', () => {
  const report = (failures: number) => `<?xml version="1.0"?>\n<testsuite tests="3" failures="${failures}"></testsuite>\n`;
  assert.deepEqual(parseTestCounts(`${report(2)}watching...\n${report(0)}`), counts('junit', 3, 0));
  assert.deepEqual(parseTestCounts(NODE_SPEC, '<?xml version="1.0"?>\n<testsuites>\n<testcase name="half written"'), counts('node-test', 3, 3, 2));
});

test('generic TAP: real prove -v over two files; a crashed file counts its missing tests as failed', () => {
  // a.t: 2 passed, 1 failed, 1 skip, 1 TODO failure. b.t: planned 4, ran 2.
  assert.deepEqual(parseTestCounts(PROVE), counts('tap', 4, 3, 2));
});

test('generic TAP: plan with missing results, TODO not ok is not a failure, SKIP, Bail out!, planless', () => {
  assert.deepEqual(parseTestCounts('1..5\nok 1 - a\nok 2 - b\n'), counts('tap', 2, 3));
  assert.deepEqual(parseTestCounts('ok 1 - a\nnot ok 2 - b # TODO not yet\nok 3 - c # todo\n1..3\n'), counts('tap', 1, 0, 2));
  assert.deepEqual(parseTestCounts('1..3\nok 1 # skip no db\nnot ok 2 # SKIP\nok 3 - the \\# is not a directive # Skipped: later\n'), counts('tap', 0, 0, 3));
  assert.deepEqual(parseTestCounts('1..4\nok 1 - a\nBail out! database went away\n'), counts('tap', 1, 3), 'the plan already covers the bail-out');
  assert.deepEqual(parseTestCounts('ok 1 - a\nBail out! no plan yet\n'), counts('tap', 1, 1));
  assert.deepEqual(parseTestCounts('1..0 # Skipped: no display\n'), counts('tap', 0, 0));
  assert.deepEqual(parseTestCounts('1..3\nok\nnot ok\n'), counts('tap', 1, 2), 'unnumbered results count once a plan shows it is TAP');
  assert.deepEqual(parseTestCounts('ok 1 - a\nnot ok 2 - b\n'), counts('tap', 1, 1), 'no plan: counted as seen');
  assert.deepEqual(parseTestCounts('1..2\nok 1 - a\nok 2 - b\nok 3 - c\n'), counts('tap', 3, 0), 'beyond the plan counts as it is');
});

test('generic TAP: bats, and streams that start again are summed', () => {
  const bats =
    '1..3\nok 1 addition works\nnot ok 2 subtraction works\n# (in test file test/math.bats, line 9)\n#   `[ "$result" -eq 1 ]\' failed\nok 3 division # skip not implemented\n';
  assert.deepEqual(parseTestCounts(bats), counts('tap', 1, 1, 1));
  assert.deepEqual(parseTestCounts('TAP version 13\n1..2\nok 1\nok 2\nTAP version 13\n1..2\nnot ok 1\n'), counts('tap', 2, 2));
  assert.deepEqual(parseTestCounts('ok 1 - a\n1..1\nok 1 - b\nnot ok 2 - c\n1..3\n'), counts('tap', 2, 2));
});

test('not test output gives null', () => {
  for (const output of [
    '',
    'All good!',
    '\n\n\n',
    "> tsc -p tsconfig.json\n\nsrc/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\nFound 1 error in src/a.ts:3\n",
    'npm warn deprecated inflight@1.0.6\nadded 312 packages, and audited 313 packages in 4s\nfound 0 vulnerabilities\n',
    'make: *** [Makefile:12: all] Error 2\n',
    'ok\nokay then, not ok with me\n',
    'not ok\n',
    'Tests passed: 12, failed: 0\n',
    '{"level":"info","Action":"deploy","msg":"done"}\n{"Action":"pass","Test":"not go"}\n',
    'Bail out! cannot reach the database\n',
  ]) {
    assert.equal(parseTestCounts(output), null, JSON.stringify(output));
  }
});

test('never throws, whatever it is given', () => {
  const bad = [undefined, null, 42, { length: 3 }] as unknown as string[];
  for (const value of bad) assert.equal(parseTestCounts(value, value), null);
  assert.equal(parseTestCounts('{"Action":\n{not json "Action"\n<testsuite <testsuite a="\n\x1b]8;;\n'), null);
});

test('precedence: junitXml argument, JUnit on stdout, node, pytest, go -json, go -v, TAP', () => {
  const tap = '1..2\nok 1 - a\nnot ok 2 - b\n';
  const goV = '=== RUN   TestA\n--- PASS: TestA (0.00s)\nPASS\nok  \texample.com/m/a\t0.001s\n';
  const goJ = [goEvent({ Action: 'run', Package: 'p', Test: 'TestB' }), goEvent({ Action: 'fail', Package: 'p', Test: 'TestB' })].join('\n');
  const py = '==== 7 passed in 0.1s ====';
  const node = '# tests 9\n# pass 9\n# fail 0\n';
  const stdoutJunit = '<?xml version="1.0"?>\n<testsuite tests="11" failures="0"></testsuite>';
  const fileJunit = '<testsuite tests="12" failures="1"></testsuite>';
  let output = tap;
  assert.equal(parseTestCounts(output)?.format, 'tap');
  output = `${goV}\n${output}`;
  assert.equal(parseTestCounts(output)?.format, 'go-test');
  output = `${goJ}\n${output}`;
  assert.equal(parseTestCounts(output)?.format, 'go-test-json');
  output = `${output}\n${py}`;
  assert.equal(parseTestCounts(output)?.format, 'pytest');
  output = `${output}\n${node}`;
  assert.equal(parseTestCounts(output)?.format, 'node-test');
  output = `${output}\n${stdoutJunit}`;
  assert.deepEqual(parseTestCounts(output), counts('junit', 11, 0));
  assert.deepEqual(parseTestCounts(output, fileJunit), counts('junit', 11, 1));
});

test('a 5 MB output parses quickly, hostile shapes included', () => {
  const block = NODE_TAP.replace(/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) .*$/gm, '');
  const big = block.repeat(Math.ceil(5_000_000 / block.length));
  const hostile = [
    big,
    '<testsuite a="'.repeat(350_000),
    '\x1b]'.repeat(2_500_000),
    '=== RUN   T\n'.repeat(420_000),
    `${'x'.repeat(5_000_000)} in 0.1s`,
    goEvent({ Action: 'output', Package: 'p', Output: 'x'.repeat(100) })
      .concat('\n')
      .repeat(40_000),
  ];
  for (const output of hostile) {
    const start = performance.now();
    parseTestCounts(output);
    const ms = performance.now() - start;
    assert.ok(ms < 2_000, `${output.slice(0, 20)}…: ${Math.round(ms)} ms`);
  }
});

test('describeCounts: one line for chat', () => {
  assert.equal(describeCounts(counts('node-test', 52, 1)), '52 passed, 1 failed (node --test)');
  assert.equal(describeCounts(counts('pytest', 10, 0, 3)), '10 passed, 0 failed, 3 skipped (pytest)');
  assert.equal(describeCounts(counts('junit', 1, 2)), '1 passed, 2 failed (JUnit XML)');
  assert.equal(describeCounts(counts('tap', 0, 0)), '0 passed, 0 failed (TAP)');
  assert.equal(describeCounts(counts('go-test', 4, 1)), '4 passed, 1 failed (go test -v)');
  assert.equal(describeCounts(counts('go-test-json', 4, 1)), '4 passed, 1 failed (go test -json)');
});
