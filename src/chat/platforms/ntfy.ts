import { z } from 'zod';
import type { Identity } from '../channel.js';
import type { ChatPlatform } from './types.js';

/** The ntfy channel's settings, from NTFY_* in the environment. */
export interface NtfySettings {
  url: string;
  topic: string;
  replyTopic?: string;
  token?: string;
}

const lists = z
  .strictObject({
    /** What a message on NTFY_REPLY_TOPIC may run; answers to questions are checked by their one-time code. */
    role: z.enum(['none', 'viewer', 'operator']).default('viewer'),
  })
  .default({ role: 'viewer' });

export type NtfyLists = z.output<typeof lists>;

export const ntfyPlatform: ChatPlatform<NtfySettings, NtfyLists> = {
  name: 'ntfy',
  // On a token-less server the topic name is the only credential: the whole family is withheld.
  variablePrefix: 'NTFY_',
  secretVariables: ['NTFY_TOKEN'],
  readSettings({ env, need, url, problem, describe }) {
    if (!env.NTFY_URL && !env.NTFY_TOPIC) return undefined;
    const ntfyUrl = url('NTFY_URL');
    if (env.NTFY_REPLY_TOPIC && env.NTFY_REPLY_TOPIC === env.NTFY_TOPIC) {
      problem(
        `NTFY_REPLY_TOPIC (environment): expected a topic other than NTFY_TOPIC (Nightshift would read its own alerts as replies), found ${describe(env.NTFY_REPLY_TOPIC)}`,
      );
    }
    if (!need(['NTFY_URL', 'NTFY_TOPIC'], 'ntfy needs both a server and a topic') || !ntfyUrl) return undefined;
    return {
      url: ntfyUrl,
      topic: env.NTFY_TOPIC!,
      ...(env.NTFY_REPLY_TOPIC ? { replyTopic: env.NTFY_REPLY_TOPIC } : {}),
      ...(env.NTFY_TOKEN ? { token: env.NTFY_TOKEN } : {}),
    };
  },
  lists,
  // Nobody is identified on ntfy (a reply is anyone holding the topic name): one role for every reply.
  roleOf: (_from, lists) => (lists.role === 'none' ? null : lists.role),
  // An access token.
  secretPatterns: [{ kind: 'ntfy-token', regex: /\btk_[A-Za-z0-9]{20,}/g, hint: /tk_/ }],
};

/** Who writes on ntfy: anyone holding the reply topic, so one sender per topic (replies and button presses alike). */
export function ntfySender(replyTopic: string | undefined): Identity {
  return { channel: 'ntfy', userId: `ntfy:${replyTopic}` };
}
