// The three chat platforms' fakes (Discord REST + gateway, the Telegram Bot API, ntfy) in a process of
// their own, so a bench can measure a bot that talks to all three without counting the fakes' work.
// Usage: node --import tsx bench/fake-platforms.ts
//   prints one JSON line: { discord: { apiUrl }, telegram: { apiRoot, chatId }, ntfy: { url, topic, replyTopic } }
//   (the options test/helpers/platforms.ts `platformEnv` takes); each line "report" on stdin is answered
//   with one JSON line of what the fakes were asked so far; it stops when stdin closes or on SIGTERM/SIGINT.
import { createInterface } from 'node:readline';
import { FakeDiscord } from '../test/fakes/discord/server.js';
import { FakeNtfyServer } from '../test/fakes/ntfy/server.js';
import { FakeTelegram } from '../test/fakes/telegram/server.js';
import { DISCORD, TELEGRAM_TOKEN } from '../test/helpers/platforms.js';

/** The Telegram group the bot reports to. */
const CHAT_ID = -1001234567890;
const NTFY_TOPIC = 'nightshift-alerts';
const NTFY_REPLY_TOPIC = 'nightshift-replies';

/** What the fakes were asked, to show the bot's channels were live (and how chatty they are) over a window. */
export interface PlatformTraffic {
  discord: { restRequests: number; gatewayConnections: number; heartbeats: number; messages: number };
  telegram: { calls: number; getUpdates: number; messages: number };
  ntfy: { requests: number; replySubscribers: number; messages: number };
}

async function main(): Promise<void> {
  // Real platforms' defaults: Discord heartbeats every 41.25 s, ntfy sends a keepalive every 45 s.
  const discord = await FakeDiscord.start({ ...DISCORD });
  const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN, chats: [CHAT_ID] });
  const ntfy = await FakeNtfyServer.start();

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled([discord.close(), telegram.close(), ntfy.close()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());

  const traffic = (): PlatformTraffic => {
    const gateway = discord.gatewayStats();
    return {
      discord: {
        restRequests: discord.requests().length,
        gatewayConnections: gateway.connections,
        heartbeats: gateway.heartbeats,
        messages: discord.messages().length,
      },
      telegram: { calls: telegram.calls().length, getUpdates: telegram.calls('getUpdates').length, messages: telegram.sent().length },
      ntfy: { requests: ntfy.requests().length, replySubscribers: ntfy.subscriberCount(NTFY_REPLY_TOPIC), messages: ntfy.messages(NTFY_TOPIC).length },
    };
  };
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (line.trim() === 'report') console.log(JSON.stringify(traffic()));
  });
  input.on('close', () => void stop());

  console.log(
    JSON.stringify({
      discord: { apiUrl: discord.apiUrl },
      telegram: { apiRoot: telegram.apiRoot, chatId: CHAT_ID },
      ntfy: { url: ntfy.url, topic: NTFY_TOPIC, replyTopic: NTFY_REPLY_TOPIC },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(`fake-platforms failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
