import { z } from 'zod';
import type { Role } from '../roles.js';

/** Platform ids are long numbers: written as strings or numbers in YAML, kept as strings. */
export const platformId = z.union([z.string().regex(/^-?\d+$/, 'expected a numeric id'), z.number().int()]).transform(String);

/** A list of platform ids; absent is empty (nobody). */
export const idList = z.array(platformId).default([]);

/** The allow-lists of a platform that names people, as validated: an entry of the platform's own shape per tier. */
export interface TieredLists<Entry> {
  admins: Entry;
  operators: Entry;
  viewers: Entry;
  openViewers: boolean;
}

/**
 * The highest role a person is listed for; else viewer when the lists are
 * open to the chat they wrote in; else nothing (fail closed).
 */
export function tieredRole<Entry>(lists: TieredLists<Entry>, isListed: (entry: Entry) => boolean, inConfiguredChat: boolean): Role | null {
  if (isListed(lists.admins)) return 'admin';
  if (isListed(lists.operators)) return 'operator';
  if (isListed(lists.viewers)) return 'viewer';
  return lists.openViewers && inConfiguredChat ? 'viewer' : null;
}
