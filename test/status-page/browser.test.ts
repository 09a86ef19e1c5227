import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { packageRoot } from '../../src/paths.js';
import { startInProcess } from '../helpers/bot.js';
import { canaryToken } from '../helpers/canary.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = canaryToken('http');
const RESULTS = join(packageRoot, 'test-results');

test('the page renders in Chromium and a failing check turns red within 2 s, without reload', { timeout: 30_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not found: run scripts/install-test-deps.sh`);
    return;
  }
  const dir = tempDir(t);
  const watched = join(dir, 'heartbeat.txt');
  writeFileSync(watched, 'alive\n');
  // With the token set, as off loopback: the browser logs in with HTTP Basic (any user name, the token as the password).
  const bot = await startInProcess(t, {
    yaml: `
patrol: { interval: 1s }
checks:
  - name: heartbeat-file
    kind: file
    path: ${JSON.stringify(watched)}
    interval: 500ms
  - name: backup-file
    kind: file
    severity: optional
    path: ${JSON.stringify(join(dir, 'backup.tar'))}
    mustExist: false
    interval: 500ms
`,
    env: { NIGHTSHIFT_DATA_DIR: join(dir, 'data'), NIGHTSHIFT_HTTP_TOKEN: TOKEN },
  });
  const base = `http://${bot.http}`;
  const statusOf = async (name: string) => {
    const summary = (await (await fetch(`${base}/status.json`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      details: Array<{ name: string; status: string }>;
    };
    return summary.details.find((d) => d.name === name)?.status;
  };
  await waitFor(async () => (await statusOf('heartbeat-file')) === 'ok', { what: 'the first run' });

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, httpCredentials: { username: 'operator', password: TOKEN } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`${m.text()} (${m.location().url})`)));
  page.on('pageerror', (err) => void problems.push(err.message));
  page.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`)));
  await page.goto(base);

  await page.waitForSelector('#summary[data-state="OK"]', { timeout: 5_000 });
  assert.equal(await page.textContent('#state'), 'OK');
  assert.match((await page.textContent('#counts')) ?? '', /2 checks · 0 failing/);
  await page.waitForSelector('li.check[data-check="heartbeat-file"][data-status="ok"]', { timeout: 5_000 });
  await page.waitForSelector('#connection[data-connection="live"]', { timeout: 5_000 });
  assert.equal(await page.locator('li.check[data-check="heartbeat-file"] .strip .cell').count(), 96);
  assert.equal(await page.locator('li.check[data-check="heartbeat-file"] .strip .cell.c-o').last().count(), 1, 'the current quarter hour is green');
  assert.equal(await page.locator('li.check').count(), 2);
  // One column on a phone: the page does not scroll sideways.
  assert.ok(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), 'no horizontal scrolling at 390 px');
  mkdirSync(RESULTS, { recursive: true });

  rmSync(watched);
  await waitFor(async () => (await statusOf('heartbeat-file')) === 'failing', { what: 'the bot to commit the failing run', intervalMs: 10 });
  const committedAt = Date.now();
  // The bot has committed the failing run: the page must show it within 2 s, by itself.
  await page.waitForSelector('li.check[data-check="heartbeat-file"][data-status="failing"]', { timeout: 2_000 });
  t.diagnostic(`the row turned red ${Date.now() - committedAt} ms after /status.json showed the failing run`);
  await page.waitForSelector('#summary[data-state="DEGRADED"]', { timeout: 2_000 });
  assert.match((await page.textContent('li.check[data-check="heartbeat-file"] .check-message')) ?? '', /^missing: /);
  await page.waitForSelector('li.incident', { timeout: 2_000 });
  assert.match((await page.textContent('#incidents')) ?? '', /heartbeat-file/);
  assert.match(await page.title(), /^DEGRADED \(1 failing\) · Nightshift$/);
  await page.screenshot({ path: join(RESULTS, 'status-page.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(RESULTS, 'status-page-desktop.png'), fullPage: true });

  // And back: recreated, it turns green again.
  writeFileSync(watched, 'alive again\n');
  await page.waitForSelector('li.check[data-check="heartbeat-file"][data-status="ok"]', { timeout: 5_000 });
  const html = await page.content();
  assert.ok(!html.includes(TOKEN), 'the token is nowhere in the page');
  assert.deepEqual(problems, [], 'no script errors and no CSP violations');
});
