import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { startInProcess } from '../helpers/bot.js';
import { canaryToken } from '../helpers/canary.js';
import { prometheusTools, startAlertmanager } from '../helpers/prometheus.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const AM_TOKEN = canaryToken('alertmanager');

test('alerts posted to a real Alertmanager open incidents in Nightshift, one notice per group, and close when resolved', async (t) => {
  const tools = prometheusTools(t, ['alertmanager']);
  if (!tools) return;
  const dir = tempDir(t);
  const yaml = `patrol: { interval: 30s }
chat: { groupWait: 0s, notify: { optional: immediate } }
checks:
  - { name: db-host2, kind: alert, match: { alertname: PostgresDown, instance: "~db-2.*" } }
  - { name: api-host2, kind: alert, match: { alertname: ApiDown }, dependsOnLabel: depends_on }
  - { name: fleet-other, kind: alert, unmatched: true, severity: optional }
`;
  const bot = await startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data'), NIGHTSHIFT_ALERTMANAGER_TOKEN: AM_TOKEN } });
  const am = await startAlertmanager(
    t,
    tools,
    {
      route: { receiver: 'nightshift', group_by: ['alertname', 'instance'], group_wait: '100ms', group_interval: '1s', repeat_interval: '1h' },
      receivers: [
        {
          name: 'nightshift',
          webhook_configs: [
            {
              url: `http://${bot.http}/alertmanager`,
              send_resolved: true,
              http_config: { authorization: { type: 'Bearer', credentials_file: 'nightshift.token' } },
            },
          ],
        },
      ],
    },
    { 'nightshift.token': AM_TOKEN },
  );
  // The patrol interval is 30 s: only a delivery can make these checks run this soon.
  await waitFor(() => (bot.db.prepare("SELECT count(*) AS n FROM check_state WHERE name = 'db-host2'").get() as { n: number }).n > 0, {
    what: 'the first patrol',
  });
  const post = (alerts: object[]) =>
    fetch(`${am.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const dbAlert = {
    labels: { alertname: 'PostgresDown', instance: 'db-2:5432', severity: 'critical' },
    annotations: { summary: 'Postgres is not answering' },
    startsAt,
  };
  const apiAlert = { labels: { alertname: 'ApiDown', instance: 'api-2:8080', depends_on: 'db-host2' }, annotations: { summary: 'API 502s' }, startsAt };
  assert.equal((await post([dbAlert])).status, 200);

  const opened = await waitFor(
    () => bot.db.prepare("SELECT id, root_id AS rootId FROM incidents WHERE check_name = 'db-host2' AND closed_at IS NULL").get() as { id: number } | undefined,
    { timeoutMs: 20_000, what: "db-host2's incident to open from Alertmanager's delivery" },
  );
  assert.ok(opened.id > 0);
  await waitFor(() => /db-host2 is failing: 1 alert firing: PostgresDown on db-2:5432 \(critical\): Postgres is not answering/.test(bot.output()), {
    what: 'the notice on chat',
  });

  // A dependent alert, labelled with what it depends on, is filed as a symptom of db-host2's incident.
  assert.equal((await post([apiAlert])).status, 200);
  const symptom = await waitFor(
    () =>
      bot.db.prepare("SELECT root_id AS rootId FROM incidents WHERE check_name = 'api-host2' AND closed_at IS NULL").get() as
        { rootId: number | null } | undefined,
    { timeoutMs: 20_000, what: "api-host2's incident" },
  );
  assert.equal(symptom.rootId, opened.id);

  // An alert no check matches goes to the catch-all, never nowhere.
  assert.equal((await post([{ labels: { alertname: 'DiskFull', instance: 'nas:9100' }, startsAt }])).status, 200);
  await waitFor(() => bot.db.prepare("SELECT 1 FROM incidents WHERE check_name = 'fleet-other' AND closed_at IS NULL").get(), {
    timeoutMs: 20_000,
    what: 'the catch-all incident',
  });

  // Resolved through Alertmanager: its resolved notice closes the incidents.
  const endsAt = new Date(Date.now() - 1_000).toISOString();
  assert.equal(
    (
      await post([
        { ...dbAlert, endsAt },
        { ...apiAlert, endsAt },
      ])
    ).status,
    200,
  );
  await waitFor(() => bot.db.prepare("SELECT 1 FROM incidents WHERE check_name = 'db-host2' AND closed_at IS NOT NULL").get(), {
    timeoutMs: 20_000,
    what: "db-host2's incident to close on Alertmanager's resolved notice",
  });
  await waitFor(() => /db-host2 recovered/.test(bot.output()), { what: 'the recovery on chat' });
  const deliveries = bot.db.prepare("SELECT count(*) AS n FROM events WHERE type = 'alert.received'").get() as { n: number };
  assert.ok(deliveries.n >= 4, `Alertmanager's deliveries are events (${deliveries.n})`);
});

test('POST /alertmanager without the right token stores nothing', async (t) => {
  const dir = tempDir(t);
  const yaml = `checks:\n  - { name: db, kind: alert, match: { alertname: PostgresDown } }\n`;
  const bot = await startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data'), NIGHTSHIFT_ALERTMANAGER_TOKEN: AM_TOKEN } });
  const payload = {
    version: '4',
    groupKey: '{}:{alertname="PostgresDown"}',
    status: 'firing',
    receiver: 'nightshift',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'PostgresDown' },
        annotations: {},
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: 'abc123',
      },
    ],
  };
  const send = (token: string | null, body: unknown = payload) =>
    fetch(`http://${bot.http}/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  assert.equal((await send(null)).status, 401);
  assert.equal((await send('wrong-token-0123456789abc')).status, 401);
  assert.equal((await send(AM_TOKEN, { ...payload, alerts: [{ status: 'firing' }] })).status, 400);
  assert.equal((bot.db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n, 0);
  const ok = await send(AM_TOKEN);
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { received: 1, unmatched: [] });
  assert.equal((bot.db.prepare("SELECT count(*) AS n FROM alerts WHERE status = 'firing'").get() as { n: number }).n, 1);
});
