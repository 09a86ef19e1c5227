/**
 * The one text redactor. Every string that leaves the process or is stored
 * (chat messages, LLM prompts, escalation files, log lines, HTTP JSON, the
 * CLI, event and check rows in the database) passes through `redact`.
 *
 * Three layers: the exact values of the secrets Nightshift was configured
 * with (the strongest guarantee); patterns for well-known token shapes; and
 * secrets named by their context whatever they look like (`password=...`,
 * `Authorization: ...`, a URL's `user:password@`), so a secret that reached
 * us some other way (a service's stderr, an error message) is caught too.
 */
import { platformSecretPatterns } from '../chat/platforms/index.js';
import type { SecretPattern } from '../chat/platforms/types.js';

/** A token shape (as chat platforms declare theirs), or a secret named by its context whose prefix is kept. */
interface Pattern extends SecretPattern {
  /** Keep this capture group (a prefix such as "Authorization: Bearer ") and replace the rest. */
  keepGroup?: number;
}

/** Key names whose value is a secret: `DB_PASSWORD=...`, `"api_key": "..."`, `X-Auth-Token: ...`. */
const SECRET_KEY = String.raw`[A-Za-z0-9_.-]*(?:api[_-]?key|apikey|secret|token|passw(?:or)?d|passphrase|access[_-]?key|private[_-]?key|credentials?|session[_-]?(?:id|key))`;
/** Bare JSON values after a secret-named key (`"password": null`) are left alone, so JSON stays JSON. */
const JSON_LITERAL = String.raw`(?:null|true|false|-?\d+(?:\.\d+)?)(?=[,}\]\s]|$)`;
const SECRET_KEY_HINT = /api[_-]?key|apikey|secret|token|passw|passphrase|access[_-]?key|private[_-]?key|credential|session/i;
/** An object key that names a secret, as a whole (for structured values). */
const SECRET_KEY_EXACT = new RegExp(`^${SECRET_KEY}$|^(?:proxy-)?authorization$|^auth$|^(?:set-)?cookie$`, 'i');

const PATTERNS: readonly Pattern[] = [
  { kind: 'private-key', regex: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, hint: /PRIVATE KEY/ },
  // Authorization headers, whatever the credential looks like; the scheme word is kept.
  {
    kind: 'authorization',
    regex:
      /(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|bot|digest)\s+)?)(?!\[redacted)(?!(?:bearer|basic|token|bot|digest)\s)[^\s"',;]+/gi,
    keepGroup: 1,
    hint: /authorization/i,
  },
  { kind: 'cookie', regex: /(\b(?:set-)?cookie["']?\s*[:=]\s*["']?)(?!\s|\[redacted)[^\r\n"']+/gi, keepGroup: 1, hint: /cookie/i },
  { kind: 'bearer', regex: /(\b(?:bearer|basic)\s+)(?!\[redacted)[A-Za-z0-9._~+/=-]{8,}/gi, keepGroup: 1, hint: /bearer|basic/i },
  // Credentials in a URL (DSNs too): scheme://user:password@host keeps the user; a long bare userinfo is a token.
  { kind: 'password', regex: /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/?#[\]]*:)(?!\[redacted)[^\s@/?#]+(?=@)/gi, keepGroup: 1, hint: /:\/\/[^\s]*@/ },
  { kind: 'userinfo', regex: /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s:@/?#[\]]{16,}(?=@)/gi, keepGroup: 1, hint: /:\/\/[^\s]*@/ },
  // Each chat platform's token shapes (Telegram and Discord bot tokens, ntfy access tokens), declared with the platform.
  ...platformSecretPatterns,
  // JSON web tokens.
  { kind: 'jwt', regex: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, hint: /eyJ/ },
  // Provider API keys: OpenAI/Anthropic (sk-...), GitHub, Slack, AWS, Google, Hugging Face.
  { kind: 'api-key', regex: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}/g, hint: /sk-/ },
  { kind: 'api-key', regex: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}/g, hint: /gh[pousr]_|github_pat_/ },
  { kind: 'api-key', regex: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, hint: /xox/ },
  { kind: 'api-key', regex: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, hint: /AKIA|ASIA/ },
  { kind: 'api-key', regex: /\bAIza[0-9A-Za-z_-]{35}\b/g, hint: /AIza/ },
  { kind: 'api-key', regex: /\bhf_[A-Za-z0-9]{30,}/g, hint: /hf_/ },
  // Command-line flags: --password hunter2, --token=abc.
  {
    kind: 'secret',
    regex: /(--?(?:password|passwd|passphrase|token|secret|api-?key|auth-token|access-key|client-secret)(?:=|\s+))(?!\[redacted)(?!-)[^\s"']+/gi,
    keepGroup: 1,
    hint: SECRET_KEY_HINT,
  },
  // key=value, key: value, "key": "value" where the key names a secret; a quoted value is removed whole.
  {
    kind: 'secret',
    regex: new RegExp(
      String.raw`(\b${SECRET_KEY}["']?\s*[:=]\s*)(?:"(?!\[redacted)(?:[^"\\\n]|\\.)*"|'(?!\[redacted)[^'\n]*'|(?!\[redacted|["']|${JSON_LITERAL})[^\s"',;&]+)`,
      'gi',
    ),
    keepGroup: 1,
    hint: SECRET_KEY_HINT,
  },
];

/** A value that is already a redaction marker stays as it is: redacting twice changes nothing. */
const MARKER = /^\[redacted(?::[a-z-]+)?\]$/;

/** Secret values shorter than this are not matched literally by default (too many false hits). */
const MIN_LITERAL_LENGTH = 6;

/**
 * Exact secret values, removed wherever they appear: the strongest layer,
 * for secrets Nightshift knows (its tokens, a check's header values).
 */
export class LiteralSecrets {
  private values: string[] = [];

  /** `minLength`: shorter values are ignored (a 2-letter value would mask half of every text). */
  constructor(
    values: Iterable<string | undefined> = [],
    private readonly minLength = MIN_LITERAL_LENGTH,
  ) {
    this.add(values);
  }

  add(values: Iterable<string | undefined>): void {
    for (const value of values) {
      if (value && value.length >= this.minLength && !this.values.includes(value)) this.values.push(value);
    }
    // Longest first, so a secret that contains another is removed whole.
    this.values.sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const value of this.values) if (out.includes(value)) out = out.split(value).join('[redacted]');
    return out;
  }
}

/** Query parameters whose names suggest a credential. */
const SECRET_QUERY_KEY = /token|key|secret|pass|auth|sig|session|code|credential/i;

/**
 * Masks a URL's credentials in place: its userinfo (dropped, or replaced by
 * `mask`: the password when there is one, else the user name, which is the
 * token in URLs such as https://<token>@github.com) and the values of
 * secret-named query parameters. True when anything was masked.
 */
export function maskUrlSecrets(url: URL, mask: string, userinfo: 'drop' | 'mask'): boolean {
  let changed = Boolean(url.username || url.password);
  if (userinfo === 'drop') {
    url.username = '';
    url.password = '';
  } else if (url.password) url.password = mask;
  else if (url.username) url.username = mask;
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_QUERY_KEY.test(name)) {
      url.searchParams.set(name, mask);
      changed = true;
    }
  }
  return changed;
}

/** Every URL in `text` with its credentials masked (maskUrlSecrets); unchanged URLs keep their exact spelling. */
export function maskUrlsIn(text: string, mask: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (candidate) => {
    try {
      const url = new URL(candidate);
      // URL() would add a trailing slash to "http://host": only a masked URL is rewritten.
      return maskUrlSecrets(url, mask, 'mask') ? url.toString() : candidate;
    } catch {
      // Looked like a URL but is not one: left to the text patterns.
      return candidate;
    }
  });
}

export class Redactor {
  private readonly literals = new LiteralSecrets();

  constructor(secrets: Iterable<string | undefined> = []) {
    this.addSecrets(secrets);
  }

  /** Registers exact secret values (tokens from the environment) to be removed wherever they appear. */
  addSecrets(secrets: Iterable<string | undefined>): void {
    this.literals.add(secrets);
  }

  /** The text with every known secret and every token-shaped or secret-named value replaced by a marker. */
  redact(text: string): string {
    let out = this.literals.redact(text);
    for (const { kind, regex, keepGroup, hint } of PATTERNS) {
      if (hint && !hint.test(out)) continue;
      regex.lastIndex = 0;
      out = out.replace(regex, (...match: string[]) => {
        if (!keepGroup) return `[redacted:${kind}]`;
        const whole = match[0]!;
        const prefix = match[keepGroup]!;
        // A quoted value keeps its quotes, so JSON and YAML stay readable.
        const quote = whole.length > prefix.length && (whole[prefix.length] === '"' || whole[prefix.length] === "'") ? whole[prefix.length]! : '';
        return `${prefix}${quote}[redacted:${kind}]${quote}`;
      });
    }
    return out;
  }

  /**
   * A deep copy of a JSON-like value with every string redacted; the value of
   * a key that names a secret (`password`, `authorization`, `apiKey`...) is
   * removed whatever it looks like.
   */
  redactValue<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return (value as unknown[]).map((v) => this.redactValue(v)) as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value))
        out[k] = typeof v === 'string' && v !== '' && !MARKER.test(v) && SECRET_KEY_EXACT.test(k) ? '[redacted:secret]' : this.redactValue(v);
      return out as T;
    }
    return value;
  }
}
