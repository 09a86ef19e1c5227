import type { MessageEntity } from 'grammy/types';

/**
 * Telegram's HTML parse mode, as https://core.telegram.org/bots/api#html-style
 * describes it: a fixed set of tags, the named entities &lt; &gt; &amp; &quot;
 * plus numeric ones, and a "can't parse entities" refusal for anything else.
 * The fake uses it so a message the real API would refuse is refused here too,
 * and so tests can read the text the way a user sees it.
 */

/** The plain text a client shows and the formatting entities over it, or why Telegram refuses the markup. */
export type ParsedHtml = { ok: true; text: string; entities: MessageEntity[] } | { ok: false; description: string };

type FormattingType = MessageEntity.CommonMessageEntity['type'];
type SpecialType = 'text_link' | 'custom_emoji' | 'pre';

const TAG_TYPES: Record<string, FormattingType | SpecialType> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  a: 'text_link',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};

const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

interface OpenTag {
  name: string;
  start: number;
  attributes: Record<string, string>;
}

/** Parses `html` the way sendMessage with parse_mode HTML does. */
export function parseTelegramHtml(html: string): ParsedHtml {
  let text = '';
  const entities: MessageEntity[] = [];
  const open: OpenTag[] = [];
  let i = 0;
  const refuse = (why: string): ParsedHtml => ({
    ok: false,
    description: `Bad Request: can't parse entities: ${why} at byte offset ${Buffer.byteLength(html.slice(0, i))}`,
  });
  while (i < html.length) {
    const ch = html[i]!;
    if (ch === '&') {
      const match = /^&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+);/.exec(html.slice(i));
      const decoded = match ? decodeEntity(match[1]!) : undefined;
      if (match && decoded !== undefined) {
        text += decoded;
        i += match[0].length;
      } else {
        // An unknown entity is kept as typed, as the real API does.
        text += ch;
        i += 1;
      }
      continue;
    }
    if (ch !== '<') {
      text += ch;
      i += 1;
      continue;
    }
    const close = html.indexOf('>', i);
    if (close < 0) return refuse('Unclosed start tag');
    const inner = html.slice(i + 1, close);
    if (inner.startsWith('/')) {
      const name = inner.slice(1).trim().toLowerCase();
      const top = open.pop();
      if (!top) return refuse(`Unexpected end tag "${name}"`);
      if (top.name !== name) return refuse(`Unmatched end tag "${name}", expected "</${top.name}>"`);
      const entity = toEntity(top, text.length);
      if (entity) entities.push(entity);
    } else {
      const tag = /^([a-zA-Z][a-zA-Z0-9-]*)\s*([\s\S]*)$/.exec(inner);
      const name = tag?.[1]?.toLowerCase();
      if (!tag || !name || !(name in TAG_TYPES)) return refuse(`Unsupported start tag "${tag?.[1] ?? inner}"`);
      const attributes = parseAttributes(tag[2] ?? '');
      if (name === 'span' && attributes['class'] !== 'tg-spoiler') return refuse('Tag "span" must have class "tg-spoiler"');
      open.push({ name, start: text.length, attributes });
    }
    i = close + 1;
  }
  if (open.length > 0) return refuse(`Can't find end tag corresponding to start tag "${open.at(-1)!.name}"`);
  entities.sort((a, b) => a.offset - b.offset);
  return { ok: true, text, entities };
}

function decodeEntity(body: string): string | undefined {
  if (body.startsWith('#x')) return String.fromCodePoint(Number.parseInt(body.slice(2), 16));
  if (body.startsWith('#')) return String.fromCodePoint(Number.parseInt(body.slice(1), 10));
  return NAMED_ENTITIES[body.toLowerCase()];
}

function parseAttributes(source: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of source.matchAll(/([a-zA-Z-]+)(?:\s*=\s*"([^"]*)"|\s*=\s*'([^']*)')?/g)) {
    attributes[match[1]!.toLowerCase()] = (match[2] ?? match[3] ?? '').replace(/&(lt|gt|amp|quot);/g, (_, n: string) => NAMED_ENTITIES[n]!);
  }
  return attributes;
}

function toEntity(tag: OpenTag, end: number): MessageEntity | undefined {
  const length = end - tag.start;
  // Telegram drops formatting that covers no text.
  if (length === 0) return undefined;
  const type = TAG_TYPES[tag.name]!;
  const base = { offset: tag.start, length };
  if (type === 'text_link') return { ...base, type, url: tag.attributes['href'] ?? '' };
  if (type === 'custom_emoji') return { ...base, type, custom_emoji_id: tag.attributes['emoji-id'] ?? '' };
  if (type === 'pre') return { ...base, type };
  if (type === 'blockquote' && 'expandable' in tag.attributes) return { ...base, type: 'expandable_blockquote' };
  return { ...base, type };
}
