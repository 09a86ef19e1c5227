import { describeIdentity } from '../chat/channel.js';
import type { Questions } from '../questions/questions.js';
import type { Consent, ConsentName } from './consent.js';

/** What each consent question says: why it is asked and what allowing it means. */
function wording(name: ConsentName, context: string, model: string | null) {
  const explainer = model ? `the local model ${model}` : 'a local model, once one is configured';
  return name === 'analysis'
    ? {
        title: 'May Nightshift analyse its error patterns?',
        body: `${context} If you allow it, a failure that keeps coming back triggers a diagnosis: a causal analysis of the event log (which failure caused which), explained by ${explainer} on this machine, secrets redacted. Asked once; /consent shows the answer.`,
        yesLabel: 'Allow analysis',
        noLabel: 'Decline',
      }
    : {
        title: 'May approved fixes be applied automatically?',
        body: 'Nightshift just proposed its first fix. If you allow it, a fix you approve is applied with a git backup, verified, and rolled back if verification fails. Each fix still needs your approval. Asked once; /disable-surgery stops everything at any time.',
        yesLabel: 'Allow auto-repair',
        noLabel: 'Decline',
      };
}

/** How long a consent question stays open. */
const CONSENT_QUESTION_TTL_MS = 7 * 86_400_000;

/**
 * The consent questions on chat: each is asked once (on every channel), and
 * the first authorised answer moves the consent's state machine.
 */
export class ConsentQuestions {
  constructor(
    private readonly consent: Consent,
    private readonly questions: Questions,
    /** The configured model's name, for the analysis question; null when none is configured. */
    private readonly model: string | null,
  ) {
    for (const name of ['analysis', 'auto-repair'] as const) {
      questions.onAnswer(`consent.${name}`, (_question, answer, from) => {
        const changed = consent.apply(name, answer === 'yes' ? 'grant' : 'decline', describeIdentity(from), from.channel);
        if (!changed) return `(${name} is already ${consent.get(name).state}; nothing changed.)`;
        if (answer === 'no')
          return `${name === 'analysis' ? 'Analysis' : 'Auto-repair'} declined; Nightshift will not ask again (/consent shows it; an admin can change it).`;
        return name === 'analysis' ? 'Analysis allowed: recurring failures now trigger a diagnosis.' : 'Auto-repair allowed for approved fixes.';
      });
    }
  }

  /**
   * Moves the consent to "asked" and asks, in one transaction: a crash never
   * leaves it asked without a question, or asks twice. Nothing happens when
   * it was asked (or decided) before.
   */
  askOnce(name: ConsentName, context = ''): void {
    this.consent.apply(name, 'ask', 'nightshift', 'nightshift', () => {
      this.questions.ask({ kind: `consent.${name}`, subject: `consent.${name}`, ...wording(name, context, this.model), ttlMs: CONSENT_QUESTION_TTL_MS });
    });
  }
}
