/**
 * The one text redactor. Every string that leaves the process (chat messages,
 * LLM prompts, escalation files, log lines) passes through `redact`.
 *
 * Two layers: the exact values of the secrets Nightshift was configured with
 * (the strongest guarantee), and patterns for well-known token shapes, so a
 * secret that reached us some other way (a service's log tail, an error
 * message) is caught too.
 */

interface Pattern {
  kind: string;
  regex: RegExp;
  /** Keep this capture group (a prefix such as "Authorization: Bearer ") and replace the rest. */
  keepGroup?: number;
}

const PATTERNS: Pattern[] = [
  { kind: 'private-key', regex: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g },
  // Authorization headers and bearer/basic credentials, whatever the token looks like.
  { kind: 'authorization', regex: /(\bauthorization["']?\s*[:=]\s*["']?(?:bearer|basic|token|bot)?\s*)[^\s"',;]{6,}/gi, keepGroup: 1 },
  { kind: 'bearer', regex: /(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}/gi, keepGroup: 1 },
  // Telegram bot token: <bot id>:<35 chars>, also inside API URLs (/bot<token>/).
  { kind: 'telegram-token', regex: /(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}/g },
  // Discord bot token: base64(user id).timestamp.hmac
  { kind: 'discord-token', regex: /\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}\b/g },
  // JSON web tokens.
  { kind: 'jwt', regex: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  // ntfy access tokens.
  { kind: 'ntfy-token', regex: /\btk_[A-Za-z0-9]{20,}/g },
  // Provider API keys: OpenAI/Anthropic (sk-...), GitHub, Slack, AWS, Google, Hugging Face.
  { kind: 'api-key', regex: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}/g },
  { kind: 'api-key', regex: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}/g },
  { kind: 'api-key', regex: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: 'api-key', regex: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { kind: 'api-key', regex: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { kind: 'api-key', regex: /\bhf_[A-Za-z0-9]{30,}/g },
  // key=value / "key": "value" where the key names a secret.
  {
    kind: 'secret',
    regex: /(\b[A-Za-z0-9_.-]*(?:api[_-]?key|secret|token|passw(?:or)?d|access[_-]?key)["']?\s*[:=]\s*["']?)(?!\[redacted)[^\s"',;&]{4,}/gi,
    keepGroup: 1,
  },
];

/** Secret values shorter than this are not matched literally (too many false hits). */
const MIN_LITERAL_LENGTH = 6;

export class Redactor {
  private literals: string[] = [];

  constructor(secrets: Iterable<string | undefined> = []) {
    this.addSecrets(secrets);
  }

  /** Registers exact secret values (tokens from the environment) to be removed wherever they appear. */
  addSecrets(secrets: Iterable<string | undefined>): void {
    for (const secret of secrets) {
      if (secret && secret.length >= MIN_LITERAL_LENGTH && !this.literals.includes(secret)) this.literals.push(secret);
    }
    // Longest first, so a secret that contains another is removed whole.
    this.literals.sort((a, b) => b.length - a.length);
  }

  /** The text with every known secret and every token-shaped string replaced by a marker. */
  redact(text: string): string {
    let out = text;
    for (const literal of this.literals) {
      if (out.includes(literal)) out = out.split(literal).join('[redacted]');
    }
    for (const { kind, regex, keepGroup } of PATTERNS) {
      regex.lastIndex = 0;
      out = out.replace(regex, (...match: string[]) => (keepGroup ? `${match[keepGroup]}[redacted:${kind}]` : `[redacted:${kind}]`));
    }
    return out;
  }

  /** A deep copy of a JSON-like value with every string redacted. */
  redactValue<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v)) as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.redactValue(v);
      return out as T;
    }
    return value;
  }
}
