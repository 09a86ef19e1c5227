import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startInProcess } from '../helpers/bot.js';
import { canaryToken } from '../helpers/canary.js';
import { apiGet, prometheusTools, promQuery, runTool, startAlertmanager, startPrometheus, waitForServer } from '../helpers/prometheus.js';
import { tempDir } from '../helpers/temp.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const shipped = (name: string) => readFileSync(join(DEPLOY, name), 'utf8');

const HTTP_TOKEN = canaryToken('http');
const ALERTMANAGER_TOKEN = canaryToken('alertmanager');

/** The rule names in the shipped rules file. */
const SHIPPED_RULES = (parse(shipped('nightshift-rules.yml')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) =>
  g.rules.map((r) => r.alert),
);

interface ScrapeJob {
  job_name: string;
  authorization?: { type: string; credentials_file: string };
  static_configs: { targets: string[] }[];
  [key: string]: unknown;
}

/** The shipped prometheus.yml, aimed at `target`, scraping and evaluating every second, with no Alertmanager. */
function shippedPrometheusConfig(target: string) {
  const config = parse(shipped('prometheus.yml')) as { global: Record<string, string>; scrape_configs: ScrapeJob[]; alerting?: unknown; rule_files: string[] };
  config.global.scrape_interval = '1s';
  config.global.evaluation_interval = '1s';
  delete config.alerting;
  const job = config.scrape_configs.find((j) => j.job_name === 'nightshift');
  assert.ok(job, 'the shipped prometheus.yml has a job named nightshift');
  job.static_configs = [{ targets: [target] }];
  return { config, job };
}

/** A bot with two critical file checks, `api` healthy and `worker` failing (its file is missing). */
async function botWithFailingCheck(t: TestContext, env: Record<string, string>) {
  const dir = tempDir(t);
  const present = join(dir, 'api.ok');
  writeFileSync(present, 'ok');
  const yaml = [
    'patrol: { interval: 500ms }',
    'chat: { groupWait: 0s }',
    'checks:',
    `  - { name: api, kind: file, path: ${JSON.stringify(present)} }`,
    `  - { name: worker, kind: file, path: ${JSON.stringify(join(dir, 'worker.ok'))} }`,
    '',
  ].join('\n');
  return startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data'), ...env } });
}

test('a real Prometheus scrapes /metrics with the shipped scrape config and token, and evaluates the shipped rules on what it scraped', async (t) => {
  const tools = prometheusTools(t, ['prometheus']);
  if (!tools) return;
  const bot = await botWithFailingCheck(t, { NIGHTSHIFT_HTTP_TOKEN: HTTP_TOKEN });
  const { config, job } = shippedPrometheusConfig(bot.http);
  assert.equal(job.authorization?.credentials_file, 'nightshift.token', 'the token file sits next to prometheus.yml');
  // The same target without the token: what an operator sees who forgot the authorization block.
  const { authorization: _auth, ...withoutToken } = job;
  config.scrape_configs.push({ ...withoutToken, job_name: 'nightshift-no-token' });
  const prometheus = await startPrometheus(t, tools, config, {
    'nightshift.token': `${HTTP_TOKEN}\n`,
    'nightshift-rules.yml': shipped('nightshift-rules.yml'),
  });

  const scraped = await waitForServer(
    prometheus,
    async () => {
      const [up] = await promQuery(prometheus, 'up{job="nightshift"}');
      const checks = await promQuery(prometheus, 'nightshift_check_up{job="nightshift"}');
      const state = await promQuery(prometheus, 'nightshift_up{job="nightshift"}');
      return up?.value === 1 && checks.length === 2 && state.length === 1 ? { checks, state: state[0]!.value } : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250, what: `Prometheus to scrape ${bot.http}/metrics` },
  );
  const byCheck = Object.fromEntries(
    scraped.checks.map((s) => [s.metric.check ?? '(no check label)', { up: s.value, kind: s.metric.kind, severity: s.metric.severity }]),
  );
  assert.deepEqual(byCheck, { api: { up: 1, kind: 'file', severity: 'critical' }, worker: { up: 0, kind: 'file', severity: 'critical' } });
  assert.equal(scraped.state, 1, 'a failing critical check: DEGRADED (1)');

  const refused = await waitForServer(
    prometheus,
    async () => {
      const targets = await apiGet<{ data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } }>(
        prometheus,
        '/api/v1/targets',
      );
      return targets.data.activeTargets.find((a) => a.labels.job === 'nightshift-no-token' && a.health === 'down');
    },
    { timeoutMs: 15_000, intervalMs: 250, what: 'the scrape without a token to be refused' },
  );
  assert.match(refused.lastError, /401 Unauthorized/);

  // Every shipped rule evaluated against the real metrics without an error, and the failing check's alert is on its way.
  type RulesAnswer = {
    data: { groups: { rules: { name: string; health: string; lastError?: string; alerts: { state: string; labels: Record<string, string> }[] }[] }[] };
  };
  const rules = await waitForServer(
    prometheus,
    async () => {
      const answer = await apiGet<RulesAnswer>(prometheus, '/api/v1/rules?type=alert');
      const all = answer.data.groups.flatMap((g) => g.rules);
      const failing = all.find((r) => r.name === 'NightshiftCriticalCheckFailing');
      return all.every((r) => r.health === 'ok') && failing && failing.alerts.length > 0 ? all : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250, what: 'the shipped rules to be evaluated' },
  );
  assert.deepEqual(rules.map((r) => r.name).sort(), [...SHIPPED_RULES].sort());
  const pending = rules.find((r) => r.name === 'NightshiftCriticalCheckFailing')!.alerts;
  assert.deepEqual(
    pending.map((a) => [a.state, a.labels.check]),
    [['pending', 'worker']],
    'pending for the failing critical check only, until its 10 minutes are up',
  );
  for (const name of ['NightshiftDown', 'NightshiftPatrolStalled', 'NightshiftCheckStale'])
    assert.deepEqual(rules.find((r) => r.name === name)!.alerts, [], `${name}: Nightshift is up and patrolling`);
});

test('promtool accepts the shipped config and rules, their unit tests pass, and amtool accepts the shipped alertmanager.yml', async (t) => {
  const tools = prometheusTools(t, ['promtool', 'amtool']);
  if (!tools) return;
  const rules = await runTool(tools.promtool, ['check', 'rules', 'nightshift-rules.yml'], DEPLOY);
  assert.equal(rules.exitCode, 0, rules.stdout + rules.stderr);
  assert.match(rules.stdout, new RegExp(`SUCCESS: ${SHIPPED_RULES.length} rules found`));

  const unit = await runTool(tools.promtool, ['test', 'rules', 'nightshift-rules.test.yml'], DEPLOY);
  assert.equal(unit.exitCode, 0, unit.stdout + unit.stderr);
  assert.match(unit.stdout, /SUCCESS/);

  // As installed: prometheus.yml next to the rules and the token file it names.
  const etc = tempDir(t);
  writeFileSync(join(etc, 'prometheus.yml'), shipped('prometheus.yml'));
  writeFileSync(join(etc, 'nightshift-rules.yml'), shipped('nightshift-rules.yml'));
  const withoutToken = await runTool(tools.promtool, ['check', 'config', 'prometheus.yml'], etc);
  assert.notEqual(withoutToken.exitCode, 0, 'the token file is part of the install');
  assert.match(withoutToken.stdout + withoutToken.stderr, /nightshift\.token.*no such file/);
  writeFileSync(join(etc, 'nightshift.token'), `${HTTP_TOKEN}\n`, { mode: 0o600 });
  const config = await runTool(tools.promtool, ['check', 'config', 'prometheus.yml'], etc);
  assert.equal(config.exitCode, 0, config.stdout + config.stderr);
  assert.match(config.stdout, /SUCCESS: 1 rule files found/);

  const alertmanager = await runTool(tools.amtool, ['check-config', 'alertmanager.yml'], DEPLOY);
  assert.equal(alertmanager.exitCode, 0, alertmanager.stdout + alertmanager.stderr);
  assert.match(alertmanager.stdout, /SUCCESS/);
});

interface Receiver {
  name: string;
  webhook_configs?: { url: string; http_config?: { authorization?: { type: string; credentials_file: string } } }[];
  [key: string]: unknown;
}

test("a real Alertmanager routes the stack's alerts to Nightshift's webhook with the shipped token setup, and Nightshift's own to the operator", async (t) => {
  const tools = prometheusTools(t, ['alertmanager']);
  if (!tools) return;
  const dir = tempDir(t);
  const yaml = [
    'patrol: { interval: 500ms }',
    'chat: { groupWait: 0s }',
    'checks:',
    '  - { name: disk, kind: alert, match: { alertname: DiskFull } }',
    '',
  ].join('\n');
  const bot = await startInProcess(t, { yaml, env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data'), NIGHTSHIFT_ALERTMANAGER_TOKEN: ALERTMANAGER_TOKEN } });

  // The operator's direct channel, here a local webhook that keeps what it is sent.
  const operatorGot: { alerts: { labels: Record<string, string> }[] }[] = [];
  const operator = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      // Only Alertmanager's posts count: with tests running side by side, a request another test aims at a
      // port it just freed can land here (seen once: an empty POST), and must not crash this test.
      try {
        operatorGot.push(JSON.parse(body) as (typeof operatorGot)[number]);
        res.end('ok');
      } catch {
        res.statusCode = 400;
        res.end('not an Alertmanager notification');
      }
    });
  });
  operator.listen(0, '127.0.0.1');
  await once(operator, 'listening');
  t.after(() => {
    operator.closeAllConnections();
    operator.close();
  });

  const config = parse(shipped('alertmanager.yml')) as { route: Record<string, unknown>; receivers: Receiver[] };
  // Seconds instead of the shipped 30s and 5m: the routing tree itself is the shipped one.
  Object.assign(config.route, { group_wait: '0s', group_interval: '1s' });
  const nightshift = config.receivers.find((r) => r.name === 'nightshift')?.webhook_configs?.[0];
  assert.ok(nightshift?.http_config?.authorization, 'the shipped nightshift receiver sends a bearer token');
  assert.equal(nightshift.http_config.authorization.type, 'Bearer');
  assert.equal(new URL(nightshift.url).pathname, '/alertmanager');
  nightshift.url = `http://${bot.http}/alertmanager`;
  nightshift.http_config.authorization.credentials_file = 'nightshift-alertmanager.token';
  config.receivers = config.receivers.map((r) =>
    r.name === 'operator' ? { name: 'operator', webhook_configs: [{ url: `http://127.0.0.1:${(operator.address() as AddressInfo).port}/` }] } : r,
  );
  const alertmanager = await startAlertmanager(t, tools, config, { 'nightshift-alertmanager.token': ALERTMANAGER_TOKEN });

  const post = async (labels: Record<string, string>, endsAt: Date) => {
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { labels, annotations: { summary: 'disk / is 97% full' }, startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: endsAt.toISOString() },
      ]),
    });
    assert.equal(response.status, 200, await response.text());
  };
  const checkDisk = async () => {
    const status = (await (await fetch(`http://${bot.http}/status.json`)).json()) as { details: { name: string; status: string; message: string | null }[] };
    return status.details.find((d) => d.name === 'disk');
  };

  // Nightshift's own health alert goes to the operator, not back to Nightshift.
  await post({ alertname: 'NightshiftDown', component: 'nightshift', instance: bot.http, severity: 'critical' }, new Date(Date.now() + 5 * 60_000));
  await waitForServer(alertmanager, () => operatorGot.some((g) => g.alerts.some((a) => a.labels.alertname === 'NightshiftDown')), {
    timeoutMs: 15_000,
    what: "the operator's webhook to get NightshiftDown",
  });

  await post({ alertname: 'DiskFull', instance: 'db-1', severity: 'critical' }, new Date(Date.now() + 5 * 60_000));
  const failing = await waitForServer(
    alertmanager,
    async () => {
      const disk = await checkDisk();
      return disk?.status === 'failing' ? disk : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: 'the alert check to fail on DiskFull' },
  );
  assert.match(failing.message ?? '', /^1 alert firing: DiskFull\b/);
  const received = bot.events.ofType('alert.received');
  assert.ok(received.length > 0);
  assert.ok(
    received.every((e) => e.context.receiver === 'nightshift'),
    'every delivery to Nightshift came through the nightshift receiver',
  );
  const stored = bot.db.prepare('SELECT labels FROM alerts').all() as { labels: string }[];
  assert.deepEqual(
    stored.map((r) => (JSON.parse(r.labels) as Record<string, string>).alertname),
    ['DiskFull'],
    'Nightshift never got its own NightshiftDown',
  );

  // Resolved in Alertmanager: it says so on the next group interval, and the check recovers.
  await post({ alertname: 'DiskFull', instance: 'db-1', severity: 'critical' }, new Date(Date.now() - 1_000));
  const recovered = await waitForServer(
    alertmanager,
    async () => {
      const disk = await checkDisk();
      return disk?.status === 'ok' ? disk : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: 'the alert check to recover once Alertmanager resolved DiskFull' },
  );
  assert.equal(recovered.message, 'no matching alert firing');
});
