/**
 * Reading KEY=VALUE (.env) files, for the change watcher and the drift
 * check: both compare such a file key by key, so a change names keys and
 * never values.
 */

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s?(.*)$/;

/**
 * The values of a KEY=VALUE file, read as dotenv reads them: `#` comments
 * and blank lines skipped, `export ` allowed, quotes removed (a double- or
 * back-quoted value may span lines), an unquoted value's ` # comment` cut;
 * the last assignment of a key wins. Null when a line is something else:
 * then it is no env file.
 */
export function envValues(text: string): Map<string, string> | null {
  const values = new Map<string, string>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    const match = ASSIGNMENT.exec(line);
    if (!match) return null;
    let value = match[2]!.trimStart();
    const quote = value[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      let body = value.slice(1);
      let end = closingQuote(body, quote);
      while (end < 0 && quote !== "'" && i + 1 < lines.length) {
        body += `\n${lines[++i]!}`;
        end = closingQuote(body, quote);
      }
      if (end < 0) return null;
      value = body.slice(0, end);
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    values.set(match[1]!, value);
  }
  return values;
}

/** Where `quote` closes `text`; a backslash escapes the next character inside double quotes. */
function closingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}
