import type { Identity, Reply } from '../chat/channel.js';
import type { Clock } from '../clock.js';
import type { Send } from '../notify/outbox.js';
import type { ActionTokens } from './action-tokens.js';
import type { Questions } from './questions.js';

export interface ButtonAnswerDeps {
  tokens: ActionTokens;
  questions: Questions;
  clock: Clock;
  send: Send;
  /** What is answered over HTTP passes the redactor, as every reply does. */
  redact: (text: string) => string;
}

/** The channel whose pushes carry URL buttons (ntfy `http` actions): answers by button come from, and go back to, it. */
const BUTTON_CHANNEL = 'ntfy';

/**
 * Answers a question from a signed single-use button token (a push's button
 * POSTs to /answer/<token>): the token is the credential, so the press counts
 * as an operator's. What it did goes back to the phone as a push too, where
 * the button was pressed. An expired, forged or spent token changes nothing.
 */
export function answerByButton(token: string, deps: ButtonAnswerDeps): { status: number; text: string } {
  const redeemed = deps.tokens.redeem(token, deps.clock.now());
  if (!redeemed.ok) return { status: 410, text: `${redeemed.reason}; nothing was changed.` };
  const reply = deps.questions.answer(
    { questionId: redeemed.claim.questionId },
    redeemed.claim.answer,
    { channel: BUTTON_CHANNEL, userId: 'ntfy-button' },
    true,
  );
  const text = deps.redact(reply.text);
  deps.send({ severity: 'info', title: text }, { channels: [BUTTON_CHANNEL] });
  return { status: 200, text };
}

export interface CommandButtonDeps {
  tokens: ActionTokens;
  clock: Clock;
  /** The chat command path (the dispatcher): the role check and the audit apply as for a typed command. */
  dispatch: (text: string, from: Identity) => Promise<Reply>;
  /** Who a press on an ntfy push is: the identity the ntfy channel gives its replies. */
  from: Identity;
  send: Send;
  redact: (text: string) => string;
}

/**
 * Runs an alert button's command from a signed single-use token (a push's
 * button POSTs to /act/<token>) as the ntfy channel's sender, exactly as if
 * it had been typed there; what it did goes back to the phone as a push. An
 * expired, forged or spent token changes nothing.
 */
export async function commandByButton(token: string, deps: CommandButtonDeps): Promise<{ status: number; text: string }> {
  const redeemed = deps.tokens.redeemCommand(token, deps.clock.now());
  if (!redeemed.ok) return { status: 410, text: `${redeemed.reason}; nothing was changed.` };
  const reply = await deps.dispatch(redeemed.claim.command, deps.from);
  const text = deps.redact(reply.text);
  if (!reply.silent) deps.send({ severity: 'info', title: text }, { channels: [deps.from.channel] });
  return { status: reply.kind === 'refused' ? 403 : 200, text };
}
