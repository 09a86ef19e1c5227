import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { systemClock } from '../../src/clock.js';
import { buildSummary } from '../../src/patrol/summary.js';
import { commands } from '../../commands/index.js';
import { UserError } from '../../src/errors.js';
import { defineCommand, type AnyCommand, type CommandServices } from '../../src/bot/command.js';
import { type Invoker, type Role } from '../../src/chat/roles.js';
import { Dispatcher, argsFromTokens, parseCommandText, usage } from '../../src/bot/dispatch.js';

const muted: string[] = [];
const mute = defineCommand({
  name: 'mute',
  description: 'Silence a check for a while',
  args: z.object({ check: z.string(), duration: z.string().regex(/^\d+[smhd]$/), note: z.string().optional() }),
  role: 'operator',
  run(_ctx, args) {
    muted.push(`${args.check}:${args.duration}:${args.note ?? ''}`);
    return { text: `muted ${args.check}` };
  },
});
const explode = defineCommand({
  name: 'explode',
  description: 'Throws',
  args: z.object({}),
  role: 'viewer',
  run: () => {
    throw new Error('disk I/O error at /var/lib');
  },
});
const refuse = defineCommand({
  name: 'refuse',
  description: 'User error',
  args: z.object({}),
  role: 'viewer',
  run: () => {
    throw new UserError('nope', 'No such incident: 42');
  },
});

function makeDispatcher(list: readonly AnyCommand[] = [...commands, mute, explode, refuse]) {
  const { logger, lines } = createCapturedLogger(new Redactor());
  const refused: string[] = [];
  // Only /status and /help are run against these; every other group is present and inert.
  const services: CommandServices = {
    status: { summary: () => buildSummary({ now: 1, startedAt: 0, lastPatrolAt: 1, patrolAlive: true, checks: [], states: [] }), checkNames: () => [] },
    incidents: { open: () => [], recent: () => [], ack: () => false, mute: () => {} },
    heal: { healNow: async () => ({ kind: 'unknown-check' }) },
    consent: { get: () => ({ state: 'unasked' }), set: () => false, surgery: () => ({ enabled: true }), setSurgery: () => {} },
    diagnosis: {
      diagnoseNow: async () => ({ kind: 'already-running' }),
      proposals: () => [],
      decideProposal: () => ({ kind: 'unknown-proposal' }),
      diagnosis: () => undefined,
      latestDiagnosisId: () => undefined,
    },
    regret: { categories: () => [], flags: () => [], override: () => ({ kind: 'unknown-action' }), clear: () => undefined },
    briefing: { compose: () => ({ message: { severity: 'info', title: 'briefing' } }) },
    silences: {
      add: () => {
        throw new UserError('nope', 'inert');
      },
      remove: () => null,
      list: () => ({ silences: [], windows: [] }),
    },
    repair: { list: () => [], apply: () => ({ kind: 'unknown-proposal' }), rollback: async () => ({ kind: 'unknown-repair' }) },
  };
  const roles: Record<string, Role | null> = { op: 'operator', v: 'viewer', x: null };
  const dispatcher = new Dispatcher({
    commands: list,
    services,
    log: logger,
    clock: systemClock,
    roleOf: (from) => roles[from.userId] ?? null,
    onRefused: (inv, what) => void refused.push(`${inv.userId}:${what}`),
  });
  return { dispatcher, lines, refused };
}

const operator: Invoker = { channel: 'test', userId: 'op', role: 'operator' };
const viewer: Invoker = { channel: 'test', userId: 'v', role: 'viewer' };
const stranger: Invoker = { channel: 'test', userId: 'x', role: null };

test('parsing: slash, bot-name suffix and free-text tails', () => {
  assert.deepEqual(parseCommandText('/Status@nightshift_bot'), { name: 'status', tokens: [] });
  assert.equal(parseCommandText('yes'), null);
  assert.deepEqual(argsFromTokens(mute, ['worker', '2h', 'deploying', 'v2']), { check: 'worker', duration: '2h', note: 'deploying v2' });
  assert.equal(usage(mute), '/mute <check> <duration> [note]');
});

test('a valid command runs with typed arguments', async () => {
  const { dispatcher } = makeDispatcher();
  const reply = await dispatcher.dispatch('/mute worker 2h nightly deploy', operator);
  assert.equal(reply.text, 'muted worker');
  assert.equal(muted.at(-1), 'worker:2h:nightly deploy');
});

test('bad arguments answer with the usage and change nothing', async () => {
  const { dispatcher } = makeDispatcher();
  const before = muted.length;
  const reply = await dispatcher.dispatch('/mute worker soon', operator);
  assert.equal(reply.kind, 'usage');
  assert.match(reply.text, /^Usage: \/mute <check> <duration> \[note\]/);
  assert.equal(muted.length, before);
});

test('an unknown command answers with /help', async () => {
  const { dispatcher } = makeDispatcher();
  const reply = await dispatcher.dispatch('/stauts', viewer);
  assert.match(reply.text, /Unknown command \/stauts\. Try \/help/);
  assert.match(reply.text, /\/status +Show the summary/);
});

test('authorisation fails closed: no role, or too low a role, is refused politely and audited', async () => {
  const { dispatcher, refused } = makeDispatcher();
  const before = muted.length;
  const low = await dispatcher.dispatch('/mute worker 2h', viewer);
  assert.equal(low.kind, 'refused');
  assert.match(low.text, /needs the operator role.*Nothing was changed/);
  const none = await dispatcher.dispatch('/status', stranger);
  assert.equal(none.kind, 'refused');
  assert.equal(muted.length, before);
  assert.deepEqual(refused, ['v:/mute', 'x:/status']);
});

test('a command that throws gets a short reply and a log line; a user error is shown as is', async () => {
  const { dispatcher, lines } = makeDispatcher();
  const reply = await dispatcher.dispatch('/explode', viewer);
  assert.equal(reply.text, 'Sorry, /explode failed inside Nightshift; the error is in its log.');
  assert.ok(lines().some((l) => l.msg === 'command failed' && l.command === 'explode'));
  assert.equal((await dispatcher.dispatch('/refuse', viewer)).text, 'No such incident: 42');
});

test('/help lists only what the asker may run, generated from the command list', async () => {
  const { dispatcher } = makeDispatcher();
  const forViewer = (await dispatcher.dispatch('/help', viewer)).text;
  assert.match(forViewer, /\/status/);
  assert.doesNotMatch(forViewer, /\/mute/);
  assert.match((await dispatcher.dispatch('/help', operator)).text, /\/mute <check> <duration> \[note\] {2}Silence a check/);
});

test('/status answers with the summary line', async () => {
  const { dispatcher } = makeDispatcher();
  assert.equal(
    (await dispatcher.dispatch('/status', viewer)).text,
    'SUMMARY: OK  core=active  checks=0  failing=0  stale=0  inactive_timers=0  heals_24h=0  escalations=0',
  );
});

test("a sub-command's role is the dispatcher's to enforce: a viewer may read /consent and /flags, changing them is refused and audited like any refusal", async () => {
  const { dispatcher, refused } = makeDispatcher();
  assert.match((await dispatcher.dispatch('/consent', viewer)).text, /^analysis: unasked/);
  assert.match((await dispatcher.dispatch('/flags', viewer)).text, /No regret flags/);
  const consent = await dispatcher.dispatch('/consent analysis on', viewer);
  assert.equal(consent.kind, 'refused');
  assert.equal(consent.text, "Sorry, /consent analysis on needs the admin role, and you are not on this channel's admin list. Nothing was changed.");
  const clear = await dispatcher.dispatch('/flags clear 3', viewer);
  assert.equal(clear.kind, 'refused');
  assert.match(clear.text, /\/flags clear 3 needs the operator role/);
  // An operator is still not an admin.
  assert.equal((await dispatcher.dispatch('/consent auto-repair off', operator)).kind, 'refused');
  assert.deepEqual(refused, ['v:/consent analysis on', 'v:/flags clear 3', 'op:/consent auto-repair off']);
});

test('usage errors read the same whatever found them: the argument schema, its refinement, or the handler', async () => {
  const { dispatcher, refused } = makeDispatcher();
  const half = await dispatcher.dispatch('/consent analysis', viewer);
  assert.equal(half.kind, 'usage');
  assert.match(half.text, /^Usage: \/consent \[name\] \[value\]\n.*\n\(value: expected on or off after the consent name\)$/);
  assert.equal((await dispatcher.dispatch('/flags clear', operator)).kind, 'usage');
  assert.equal((await dispatcher.dispatch('/mute worker soon', operator)).kind, 'usage');
  assert.deepEqual(refused, [], 'a usage error is no refusal');
});

test('a stranger learns nothing from a command whose role depends on its arguments: refused, not shown its usage', async () => {
  const { dispatcher, refused } = makeDispatcher();
  const reply = await dispatcher.dispatch('/consent analysis', stranger);
  assert.equal(reply.kind, 'refused');
  assert.doesNotMatch(reply.text, /Usage/);
  assert.deepEqual(refused, ['x:/consent']);
});
