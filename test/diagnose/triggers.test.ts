import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { tempDir, waitFor } from '../helpers/temp.js';
import { startInProcess } from '../helpers/bot.js';

async function bot(t: TestContext, diagnose: string) {
  const dir = tempDir(t);
  const flag = join(dir, 'worker.pid');
  writeFileSync(flag, '1');
  const yaml = `patrol: { interval: 1s }\nchat: { groupWait: 0s }\ndiagnose: ${diagnose}\nchecks:\n  - { name: worker, kind: file, path: ${JSON.stringify(flag)} }\n`;
  return { ...(await startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data') } })), flag };
}

/** The worker goes down until the patrol opens an incident, then comes back until it closes. */
async function crash(b: Awaited<ReturnType<typeof bot>>): Promise<void> {
  const opened = b.events.ofType('incident.opened').length;
  rmSync(b.flag, { force: true });
  await waitFor(() => b.events.ofType('incident.opened').length > opened, { what: 'the incident to open' });
  const closed = b.events.ofType('incident.closed').length;
  writeFileSync(b.flag, '1');
  await waitFor(() => b.events.ofType('incident.closed').length > closed, { what: 'the incident to close' });
}

test('the same failure coming back 3 times triggers one diagnosis at once, only while analysis is granted', async (t) => {
  const b = await bot(t, '{ recurrence: { count: 3, window: 1h }, weekly: "off" }');
  for (let i = 0; i < 3; i++) await crash(b);
  assert.equal(b.events.ofType('diagnosis.made').length, 0, 'no consent, no diagnosis');
  b.stdin.write('/consent analysis on\n');
  await waitFor(() => /analysis: granted/.test(b.output()), { what: 'consent' });
  await crash(b);
  await waitFor(() => b.events.ofType('diagnosis.made').length === 1, { what: 'the recurrence diagnosis' });
  const [made] = b.events.ofType('diagnosis.made');
  assert.equal(made!.context.trigger, 'recurrence');
  assert.match(String(made!.context.signature), /^worker: missing: /);
  await crash(b);
  assert.equal(b.events.ofType('diagnosis.made').length, 1, 'not diagnosed again within the window');
  assert.match(b.output(), /Diagnosis #1: root cause worker/);
});

test('the scheduled (weekly) diagnosis runs on its cron only while analysis is granted', async (t) => {
  // Every second instead of Mondays at 09:00, so the test sees it fire.
  const b = await bot(t, '{ weekly: "* * * * * *" }');
  // The worker stays down: a failed run per second-long patrol, while the every-second schedule fires without consent.
  rmSync(b.flag, { force: true });
  await waitFor(() => b.events.ofType('check.failed').length >= 3, { timeoutMs: 10_000, what: 'three patrols, so at least two scheduled firings' });
  assert.equal(b.events.ofType('diagnosis.made').length, 0, 'no consent, no scheduled diagnosis');
  b.stdin.write('/consent analysis on\n');
  await waitFor(() => b.events.ofType('diagnosis.made').some((e) => e.context.trigger === 'weekly'), { timeoutMs: 10_000, what: 'the scheduled diagnosis' });
});

test('a crash loop is one long incident, and its failed restarts count as the failure coming back', async (t) => {
  const dir = tempDir(t);
  const crash = `console.error('FATAL: config /etc/agent.yml: no such file'); process.exit(1)`;
  const yaml = `patrol: { interval: 1s }\nchat: { groupWait: 0s }\ndiagnose: { weekly: "off", recurrence: { count: 3, window: 1h } }\nchecks:\n  - { name: agent, kind: process, command: [node, -e, ${JSON.stringify(crash)}], heal: [restart], maxHeals: { count: 10, window: 15m } }\n`;
  const b = await startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data') } });
  b.stdin.write('/consent analysis on\n');
  await waitFor(() => /analysis: granted/.test(b.output()), { what: 'consent' });
  await waitFor(() => b.events.ofType('diagnosis.made').some((e) => e.context.trigger === 'recurrence'), {
    timeoutMs: 30_000,
    what: 'the recurrence diagnosis',
  });
  assert.equal(b.events.ofType('incident.opened').length, 1, 'one incident: the restarts never counted as recoveries');
  assert.ok(b.events.ofType('heal.failed').length >= 2, 'the failed restarts are what came back');
  assert.equal(b.events.ofType('check.recovered').length, 0);
});
