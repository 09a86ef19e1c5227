import { z } from 'zod';

/** Platform ids are long numbers: written as strings or numbers in YAML, kept as strings. */
export const platformId = z.union([z.string().regex(/^-?\d+$/, 'expected a numeric id'), z.number().int()]).transform(String);

/** A list of platform ids; absent is empty (nobody). */
export const idList = z.array(platformId).default([]);
