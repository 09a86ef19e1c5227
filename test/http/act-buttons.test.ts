import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { createCapturedLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { openDatabase } from '../../src/store/database.js';
import { EventLog } from '../../src/store/events.js';
import { FakeNtfyServer } from '../fakes/ntfy/server.js';
import { platformEnv } from '../helpers/platforms.js';
import { tempDir, waitFor } from '../helpers/temp.js';

/** A real bot in this process on the ntfy fake, with one check that always fails (so it alerts with buttons). */
async function startBot(t: TestContext, ntfyRole: 'viewer' | 'operator') {
  const ntfy = await FakeNtfyServer.start();
  t.after(() => ntfy.close());
  const dataDir = tempDir(t);
  const env = platformEnv({ dataDir, ntfy: { url: ntfy.url, topic: 'ns-alerts', replyTopic: 'ns-replies' } });
  const yaml = `chat:\n  groupWait: 0s\n  ntfy:\n    role: ${ntfyRole}\nchecks:\n  - { name: web, kind: command, run: "false", interval: 100ms }\n`;
  const config = parseConfig(yaml, 'test.yml', env, dataDir);
  const redactor = new Redactor(Object.values(config.secrets));
  const { logger } = createCapturedLogger(redactor);
  const app = new App({ config, log: logger, redactor, stdin: new PassThrough(), stdout: new PassThrough() });
  await app.start();
  t.after(() => app.stop());
  const db = openDatabase(join(dataDir, 'nightshift.db'));
  t.after(() => db.close());
  const events = new EventLog(db);
  const alert = await waitFor(() => ntfy.messages('ns-alerts').find((m) => m.actions?.some((a) => a.label === 'Ack')), {
    timeoutMs: 15_000,
    what: 'the alert with buttons',
  });
  return { ntfy, events, alert };
}

test('an alert on ntfy carries http buttons to /act/; the Ack button acks the incident once as the ntfy sender; a forged one does nothing', async (t) => {
  const { ntfy, events, alert } = await startBot(t, 'operator');
  const actions = alert.actions!;
  assert.ok(actions.length <= 3);
  assert.deepEqual(
    actions.map((a) => [a.action, a.label, a.method, a.clear]),
    [
      ['http', 'Ack', 'POST', true],
      ['http', 'Silence 1h', 'POST', true],
      ['http', 'Diagnose', 'POST', true],
    ],
  );
  for (const a of actions) assert.match(a.url!, /^http:\/\/127\.0\.0\.1:\d+\/act\/[\w-]+\.[\w-]+$/);
  const ack = actions[0]!;

  assert.equal((await fetch(ack.url!)).status, 405, 'a GET (link preview) never runs the command');
  assert.equal(events.ofType('incident.acked').length, 0);

  // A token whose signature does not match: refused, nothing changes.
  const [payload, signature] = new URL(ack.url!).pathname.slice('/act/'.length).split('.') as [string, string];
  const forged = new URL(ack.url!);
  forged.pathname = `/act/${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
  const forgedPress = await fetch(forged, { method: 'POST' });
  assert.equal(forgedPress.status, 410);
  assert.match(await forgedPress.text(), /invalid signature; nothing was changed/);
  // Another claim signed with another payload's signature: refused too.
  const tampered = new URL(ack.url!);
  tampered.pathname = `/act/${Buffer.from(JSON.stringify({ c: '/disable-surgery', e: Date.now() + 60_000, n: 'x' })).toString('base64url')}.${signature}`;
  assert.equal((await fetch(tampered, { method: 'POST' })).status, 410);
  assert.equal(events.ofType('incident.acked').length, 0);
  assert.equal(events.ofType('surgery.changed').length, 0);

  const pressed = await fetch(ack.url!, { method: 'POST' });
  assert.equal(pressed.status, 200);
  assert.match(await pressed.text(), /^Incident #\d+ acknowledged/);
  const [acked] = events.ofType('incident.acked');
  assert.equal(acked!.context.channel, 'ntfy');
  assert.equal(acked!.context.by, 'ntfy:ns-replies');
  // What the button did goes back to the phone.
  await waitFor(() => ntfy.messages('ns-alerts').find((m) => m.title?.includes('acknowledged')), { what: 'the reply push' });

  const again = await fetch(ack.url!, { method: 'POST' });
  assert.equal(again.status, 410);
  assert.match(await again.text(), /already used/);
  assert.equal(events.ofType('incident.acked').length, 1, 'a used button changes nothing');

  // Silence 1h: a silence of that check for an hour, set by the ntfy sender and audited.
  const silence = await fetch(actions[1]!.url!, { method: 'POST' });
  assert.equal(silence.status, 200);
  assert.match(await silence.text(), /^Silence #\d+ set for 1h: web \(web\)/);
  assert.deepEqual(
    events.ofType('silence.added').map((e) => [e.subject, e.context.by, e.context.until - e.at]),
    [['web', 'ntfy:ns-replies', 3_600_000]],
  );
});

test('an alert button runs with the ntfy channel role: a viewer-only ntfy is refused (403, audited) and nothing changes', async (t) => {
  const { events, alert } = await startBot(t, 'viewer');
  const ack = alert.actions!.find((a) => a.label === 'Ack')!;
  const pressed = await fetch(ack.url!, { method: 'POST' });
  assert.equal(pressed.status, 403);
  assert.match(await pressed.text(), /needs the operator role/);
  assert.equal(events.ofType('incident.acked').length, 0);
  assert.deepEqual(
    events.ofType('chat.refused').map((e) => [e.context.channel, e.context.userId]),
    [['ntfy', 'ntfy:ns-replies']],
  );
});
