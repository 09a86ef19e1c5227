/** A consent Nightshift asks for once: `unasked → asked → granted | declined`; admins may change it later. */
export type ConsentState = 'unasked' | 'asked' | 'granted' | 'declined';

/** What can happen to a consent. */
export type ConsentEvent = 'ask' | 'grant' | 'decline' | 'admin-on' | 'admin-off';

const TABLE: Record<ConsentState, Partial<Record<ConsentEvent, ConsentState>>> = {
  unasked: { ask: 'asked', 'admin-on': 'granted', 'admin-off': 'declined' },
  asked: { grant: 'granted', decline: 'declined', 'admin-on': 'granted', 'admin-off': 'declined' },
  granted: { 'admin-off': 'declined' },
  declined: { 'admin-on': 'granted' },
};

/**
 * The one transition table. An event that does not apply to a state is
 * refused (null): an answer to a question already answered, a second "ask".
 * Anything but `granted` means no consent.
 */
export function transition(state: ConsentState, event: ConsentEvent): ConsentState | null {
  return TABLE[state][event] ?? null;
}
