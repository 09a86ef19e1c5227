import { z } from 'zod';

/** Perl and Python inline flags such as (?i) or (?i:...): Node 20's engine has none of them. */
const INLINE_FLAGS = /\(\?[a-zA-Z]+[):]/;

/**
 * A zod field for the source text of a regular expression. The source is
 * compiled here, so a pattern the engine refuses is a configuration error
 * naming the pattern and the engine's message, never a crash at start.
 *
 * It is compiled without flags: only the u and v flags change which sources
 * are valid, and no configured pattern uses them, so a source accepted here
 * also compiles with i (ignoreCase), m or s. `ignoreCaseKey` names the
 * sibling key that makes the match case-insensitive, suggested when the
 * pattern tries an inline (?i).
 */
export function regexSource(options: { ignoreCaseKey?: string } = {}) {
  return z
    .string()
    .min(1)
    .superRefine((source, ctx) => {
      const reason = regexError(source);
      if (reason === undefined) return;
      const hint =
        options.ignoreCaseKey && INLINE_FLAGS.test(source) ? ` (JavaScript has no inline flags such as (?i); set ${options.ignoreCaseKey}: true instead)` : '';
      // `reason` is printed after what was found: "found "(unclosed": Invalid regular expression: ...".
      ctx.addIssue({ code: 'custom', message: 'expected a valid regular expression', params: { reason: `${reason}${hint}` } });
    });
}

/** The engine's message when `source` does not compile, undefined when it does. */
export function regexError(source: string, flags = ''): string | undefined {
  try {
    new RegExp(source, flags);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
