import { globMatcher } from '../heal/clean-files.js';

/**
 * What a silence or a maintenance window covers, written as one word:
 * terms joined by commas, every term must match (Alertmanager's matchers,
 * shortened for a chat line):
 *   web-*                 check names matching a glob (`*` any run, `?` one character)
 *   kind:http             checks of a kind (a glob too: kind:pm2*)
 *   severity:optional     checks of a severity (critical or optional)
 *   kind:http,severity:optional   both
 * Check names are letters, digits, ".", "_" and "-", so none of `*?:,` can be
 * part of one and the grammar is unambiguous.
 */
export interface SilenceMatcher {
  /** The matcher as written, normalised (terms trimmed). */
  text: string;
  terms: MatcherTerm[];
}

type MatcherTerm = { field: 'name' | 'kind'; glob: (text: string) => boolean } | { field: 'severity'; value: 'critical' | 'optional' };

/** What a matcher is matched against: a configured check. */
export interface SilenceTarget {
  name: string;
  kind: string;
  severity: 'critical' | 'optional';
}

export const MATCHER_USAGE = 'a check name or glob (web-*), kind:<kind>, severity:critical|optional, or several joined by commas';

const GLOB_TEXT = /^[A-Za-z0-9._*?-]{1,64}$/;

/** Parses a matcher; a string (what is wrong) when it is not one. */
export function parseMatcher(input: string): SilenceMatcher | string {
  const parts = input.split(',').map((p) => p.trim());
  if (parts.length > 8) return 'at most 8 terms';
  const terms: MatcherTerm[] = [];
  for (const part of parts) {
    const colon = part.indexOf(':');
    const field = colon === -1 ? 'name' : part.slice(0, colon);
    const value = colon === -1 ? part : part.slice(colon + 1);
    if (field === 'severity') {
      if (value !== 'critical' && value !== 'optional') return `severity: expected critical or optional, found "${value}"`;
      terms.push({ field, value });
    } else if (field === 'name' || field === 'kind') {
      if (!GLOB_TEXT.test(value)) return `expected ${MATCHER_USAGE}, found "${part}"`;
      // Check names and kinds start with a letter or digit: globMatcher's leading-dot rule (a file-name glob's) never comes into play.
      terms.push({ field, glob: globMatcher(value) });
    } else {
      return `unknown field "${field}": expected name, kind or severity`;
    }
  }
  return { text: parts.join(','), terms };
}

export function matches(matcher: SilenceMatcher, target: SilenceTarget): boolean {
  return matcher.terms.every((term) => (term.field === 'severity' ? target.severity === term.value : term.glob(target[term.field])));
}
