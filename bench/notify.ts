/**
 * npm run bench:notify — alerts through the real outbox and adapters to the
 * local platform fakes (Telegram Bot API, ntfy, and Discord when its fake is
 * present), through the real client libraries.
 *
 * 1. 1,000 alerts: latency from enqueue to the fake having received each one,
 *    per channel (p50/p95), and the total time.
 * 2. A storm: 500 checks that depend on one root, all failing at once, through
 *    the patrol, incidents and grouping; how many messages each channel got.
 *
 * Env: BENCH_ALERTS (default 1000), BENCH_STORM (default 500). Last line: one JSON object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { App } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { Redactor } from '../src/log/redact.js';
import { FakeTelegram } from '../test/fakes/telegram/server.js';
import { FakeNtfyServer } from '../test/fakes/ntfy/server.js';
import { FakeDiscord } from '../test/fakes/discord/server.js';
import { DISCORD, TELEGRAM_TOKEN as TOKEN, platformEnv } from '../test/helpers/platforms.js';

const ALERTS = Number(process.env.BENCH_ALERTS ?? 1000);
const STORM = Number(process.env.BENCH_STORM ?? 500);
const CHAT = -1001;
const hardStop = setTimeout(() => {
  console.error('bench:notify took longer than 5 minutes; stopping');
  process.exit(1);
}, 300_000);

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 10) / 10;
}

async function withBot<T>(
  yaml: string,
  body: (app: App, fakes: { telegram: FakeTelegram; ntfy: FakeNtfyServer; discord: FakeDiscord }) => Promise<T>,
): Promise<T> {
  const telegram = await FakeTelegram.start({ token: TOKEN, chats: [CHAT] });
  const ntfy = await FakeNtfyServer.start();
  const discord = await FakeDiscord.start({ ...DISCORD, heartbeatIntervalMs: 5000 });
  const dataDir = mkdtempSync(join(tmpdir(), 'nightshift-bench-notify-'));
  const env = platformEnv({
    dataDir,
    telegram: { apiRoot: telegram.apiRoot, chatId: CHAT },
    ntfy: { url: ntfy.url, topic: 'alerts' },
    discord: { apiUrl: discord.apiUrl },
  });
  const config = parseConfig(yaml, 'bench.yml', env, dataDir);
  const redactor = new Redactor();
  const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;
  const app = new App({
    config,
    log: createLogger({ level: 'error', redactor, output: sink, pretty: false }),
    redactor,
    stdin: new PassThrough(),
    stdout: new PassThrough(),
  });
  await app.start();
  try {
    return await body(app, { telegram, ntfy, discord });
  } finally {
    await app.stop();
    await telegram.close();
    await ntfy.close();
    await discord.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function alerts() {
  return withBot('chat: { groupWait: 0s }\nchecks: []\n', async (app, { telegram, ntfy, discord }) => {
    const sentAt = new Map<string, number>();
    const seen = { telegram: new Map<string, number>(), ntfy: new Map<string, number>(), discord: new Map<string, number>() };
    const watch = setInterval(() => {
      const now = performance.now();
      for (const m of telegram.sent()) {
        const id = /bench-(\d+)/.exec(m.text ?? '')?.[0];
        if (id && !seen.telegram.has(id)) seen.telegram.set(id, now);
      }
      for (const m of ntfy.messages('alerts')) {
        const id = /bench-(\d+)/.exec(m.title ?? '')?.[0];
        if (id && !seen.ntfy.has(id)) seen.ntfy.set(id, now);
      }
      for (const m of discord.messages()) {
        const id = /bench-(\d+)/.exec(JSON.stringify(m.embeds ?? []))?.[0];
        if (id && !seen.discord.has(id)) seen.discord.set(id, now);
      }
    }, 2);
    const started = performance.now();
    for (let i = 0; i < ALERTS; i++) {
      sentAt.set(`bench-${i}`, performance.now());
      app.notify({ severity: i % 10 === 0 ? 'critical' : 'warning', title: `bench-${i} worker-${i % 7} is failing: exit 1`, body: 'incident bench' });
    }
    await app.drained(240_000);
    await new Promise((r) => setTimeout(r, 10));
    clearInterval(watch);
    const totalMs = performance.now() - started;
    const latency = (map: Map<string, number>) => [...map].map(([id, at]) => at - sentAt.get(id)!);
    const figures = (map: Map<string, number>) => {
      const values = latency(map);
      return { delivered: map.size, p50Ms: percentile(values, 0.5), p95Ms: percentile(values, 0.95), maxMs: percentile(values, 1) };
    };
    return {
      telegram: figures(seen.telegram),
      ntfy: figures(seen.ntfy),
      discord: figures(seen.discord),
      totalMs: Math.round(totalMs),
      alertsPerSecond: Math.round((ALERTS / totalMs) * 1000),
    };
  });
}

async function storm() {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-bench-storm-'));
  const lines = [
    `chat: { groupWait: 10s }`,
    `patrol: { interval: 1m, concurrency: 32 }`,
    'checks:',
    `  - { name: db, kind: file, path: ${JSON.stringify(join(dir, 'db.sock'))} }`,
  ];
  for (let i = 0; i < STORM - 1; i++) lines.push(`  - { name: svc-${i}, kind: file, path: ${JSON.stringify(join(dir, `svc-${i}.pid`))}, dependsOn: [db] }`);
  try {
    return await withBot(`${lines.join('\n')}\n`, async (app, { telegram, ntfy, discord }) => {
      // Wait for the group wait to pass and the summary to be delivered.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !(telegram.sent().length > 0 && ntfy.messages('alerts').length > 0 && discord.messages().length > 0))
        await new Promise((r) => setTimeout(r, 50));
      await app.drained(60_000);
      // Anything later than the summary would be a second message: give it one more group wait.
      await new Promise((r) => setTimeout(r, 11_000));
      await app.drained(60_000);
      const titles = telegram.sent().map((m) => (m.text ?? '').split('\n')[0]);
      // Questions (the one-time analysis consent) carry Approve/Reject buttons: counted apart from alerts.
      const isQuestion = (m: unknown) => /"(callback_data|custom_id)":"q:|"action":"http"/.test(JSON.stringify(m));
      const count = (list: unknown[]) => ({ all: list.length, questions: list.filter(isQuestion).length });
      const per = { telegram: count(telegram.sent()), ntfy: count(ntfy.messages('alerts')), discord: count(discord.messages()) };
      return {
        incidents: STORM,
        messages: { telegram: per.telegram.all, ntfy: per.ntfy.all, discord: per.discord.all },
        alertMessages: {
          telegram: per.telegram.all - per.telegram.questions,
          ntfy: per.ntfy.all - per.ntfy.questions,
          discord: per.discord.all - per.discord.questions,
        },
        telegramFirstLine: titles[0],
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const load = loadavg()[0]!.toFixed(2);
  const a = await alerts();
  console.log(
    `${ALERTS} alerts: telegram p50 ${a.telegram.p50Ms} ms p95 ${a.telegram.p95Ms} ms; ntfy p50 ${a.ntfy.p50Ms} ms p95 ${a.ntfy.p95Ms} ms; discord p50 ${a.discord.p50Ms} ms p95 ${a.discord.p95Ms} ms; all delivered in ${a.totalMs} ms`,
  );
  const s = await storm();
  console.log(
    `storm of ${STORM} incidents with one root cause: alert messages telegram ${s.alertMessages.telegram}, ntfy ${s.alertMessages.ntfy}, discord ${s.alertMessages.discord} (target: 1 each); all messages incl. questions ${s.messages.telegram}/${s.messages.ntfy}/${s.messages.discord}`,
  );
  console.log(
    JSON.stringify({
      bench: 'notify',
      alerts: ALERTS,
      delivery: a,
      storm: s,
      channels: ['telegram', 'ntfy', 'discord'],
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadAvg1mAtStart: Number(load), node: process.version },
    }),
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  clearTimeout(hardStop);
}
