import { FIXED_LIB, libDiff } from '../../test/helpers/repair.js';
import { DEFAULT_ANSWER, type FakeOllamaServer } from '../../test/fakes/ollama/server.js';
import type { BotProcess } from '../../test/helpers/cli.js';
import type { TestContext } from 'node:test';
import { query, type ChatFakes } from './chaos-invariants.js';
import type { SeededRandom } from './chaos-random.js';

/** Chat ids and users the chaos config allows. */
export const CHAOS_PEOPLE = { telegramChat: -1001234567890, telegramUser: 4242, discordAdmin: '1015000000000000042' } as const;

/** A consent command sent and not yet answered: it is sent again at the next start until the bot confirms it. */
interface PendingSwitch {
  command: string;
  confirmation: RegExp;
  seenBefore: number;
}

/**
 * The operator of the chaos run: every round it talks on every channel
 * (/status on Telegram and Discord, "status" on ntfy), asks for a diagnosis
 * of the crashing worker (the model proposes the fix), approves a pending
 * proposal from Telegram or Discord (auto-repair is granted, so the repair
 * starts at once), and now and then flips the surgery switch from Telegram.
 * It remembers what it last set, so the switches can be checked at the end:
 * a switch command the kill cut off is sent again until the bot confirms it.
 */
export class ChaosOperator {
  /** The consent switches as the operator last set them. */
  readonly expected: Record<string, string> = { 'consent.analysis': 'granted', 'consent.auto-repair': 'granted', surgery: 'enabled' };
  readonly asked = { diagnoses: 0, approvals: 0, switchFlips: 0, chatMessages: 0 };
  private pending: PendingSwitch | undefined;
  /** Set when the operator means to approve the proposal the diagnosis it asked for will make, as soon as it is posted. */
  private approveWhenProposed = false;
  private readonly fixAnswer: string;

  constructor(
    t: TestContext,
    private readonly fakes: ChatFakes & { ollama: FakeOllamaServer },
    private readonly dbFile: string,
    private readonly random: SeededRandom,
  ) {
    this.fixAnswer = JSON.stringify({
      ...DEFAULT_ANSWER,
      fix: { kind: 'diff', repository: 'worker', diff: libDiff(t, FIXED_LIB), regression: 'node scripts/regress.mjs' },
    });
  }

  /** Sends the switch command the last kill cut off again, if there is one. */
  resendSwitch(): void {
    if (this.pending) this.flipOrResendSurgery();
  }

  /** One round's traffic, right after the bot said it started; `isBuggy` tells whether the target needs a fix. */
  act(bot: BotProcess, isBuggy: boolean): void {
    this.approveWhenProposed = false;
    this.chat();
    if (this.pending || this.random.chance(0.08)) {
      this.flipOrResendSurgery();
      return;
    }
    if (this.expected.surgery !== 'enabled') return;
    const proposed = query<{ id: string }>(
      this.dbFile,
      "SELECT id FROM proposals WHERE status = 'proposed' AND kind = 'diff' ORDER BY created_at DESC LIMIT 1",
    )[0];
    if (proposed) {
      if (this.random.chance(0.6)) this.approve(proposed.id);
      return;
    }
    this.approveWhenProposed = this.random.chance(0.6);
    const busy = query<{ n: number }>(
      this.dbFile,
      "SELECT count(*) AS n FROM proposals p LEFT JOIN repairs r ON r.proposal_id = p.id WHERE p.status = 'approved' AND (r.id IS NULL OR r.finished_at IS NULL)",
    )[0]!.n;
    if (busy === 0 && isBuggy && this.random.chance(0.7)) {
      this.fakes.ollama.respondWith({ content: this.fixAnswer });
      bot.send('/diagnose worker');
      this.asked.diagnoses++;
    }
  }

  /**
   * Polled while the bot runs: approves the proposal the round's diagnosis
   * posted (a quick operator), and returns true once there is nothing left
   * to wait for.
   */
  poll(): boolean {
    if (this.approveWhenProposed) {
      const proposed = query<{ id: string }>(this.dbFile, "SELECT id FROM proposals WHERE status = 'proposed' AND kind = 'diff' LIMIT 1")[0];
      if (proposed) {
        this.approveWhenProposed = false;
        this.approve(proposed.id);
      }
    }
    return this.confirmed() && !this.approveWhenProposed;
  }

  /** True once the last switch command is confirmed. */
  confirmed(): boolean {
    if (!this.pending) return true;
    if (this.confirmations(this.pending.confirmation) > this.pending.seenBefore) this.pending = undefined;
    return this.pending === undefined;
  }

  private chat(): void {
    const { telegram, discord, ntfy } = this.fakes;
    telegram.pushMessage({ chatId: CHAOS_PEOPLE.telegramChat, fromId: CHAOS_PEOPLE.telegramUser, text: '/status' });
    ntfy.publishAsUser('replies', 'status');
    this.asked.chatMessages += 2;
    // The fake dispatches on the bot's live gateway session; a bot that has not identified yet misses it, as on Discord.
    try {
      discord.sendSlashCommand({ name: 'status', userId: CHAOS_PEOPLE.discordAdmin });
      this.asked.chatMessages++;
    } catch {
      // Not registered yet (the very first start): nothing was sent.
    }
  }

  private approve(id: string): void {
    this.asked.approvals++;
    if (this.random.chance(0.5)) {
      this.fakes.telegram.pushMessage({ chatId: CHAOS_PEOPLE.telegramChat, fromId: CHAOS_PEOPLE.telegramUser, text: `/approve ${id}` });
      return;
    }
    try {
      this.fakes.discord.sendSlashCommand({ name: 'approve', options: { id }, userId: CHAOS_PEOPLE.discordAdmin });
    } catch {
      this.fakes.telegram.pushMessage({ chatId: CHAOS_PEOPLE.telegramChat, fromId: CHAOS_PEOPLE.telegramUser, text: `/approve ${id}` });
    }
  }

  private flipOrResendSurgery(): void {
    if (!this.pending) {
      const enable = this.expected.surgery === 'disabled';
      this.expected.surgery = enable ? 'enabled' : 'disabled';
      const confirmation = enable ? /^Surgery enabled/ : /^Surgery disabled/;
      this.pending = { command: enable ? '/enable_surgery' : '/disable_surgery', confirmation, seenBefore: this.confirmations(confirmation) };
      this.asked.switchFlips++;
    }
    this.fakes.telegram.pushMessage({ chatId: CHAOS_PEOPLE.telegramChat, fromId: CHAOS_PEOPLE.telegramUser, text: this.pending.command });
  }

  private confirmations(pattern: RegExp): number {
    return this.fakes.telegram.sent().filter((m) => pattern.test(m.text ?? '')).length;
  }
}
