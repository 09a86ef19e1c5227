import type { Identity } from './channel.js';

/** Who may run a command; each role includes the ones before it. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when `held` is at least `required`. A missing role (not allow-listed) holds nothing. */
export function roleAllows(held: Role | null, required: Role): boolean {
  return held !== null && ROLES.indexOf(held) >= ROLES.indexOf(required);
}

/** Who sent a command, from where, and the role the channel's allow-list grants them (null: not on it). */
export interface Invoker extends Identity {
  role: Role | null;
}
