import fc from 'fast-check';
import { commands } from '../../commands/index.js';

/**
 * Generators for what people type into chat: text that is hard to render
 * (RTL overrides, ZWJ sequences, combining marks, astral characters, NUL,
 * lone surrogates), markup of every platform, mentions, every command with
 * odd arguments, answer words and button payloads.
 */

/** Pieces that break naive renderers, escapers and splitters. */
const TRICKY = [
  '\u202e',
  '\u200f',
  '\u200d',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  'e\u0301\u0301\u0301',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '\u0000',
  '\ud800',
  '\udfff',
  '\ufeff',
  'مرحبا بالعالم',
  'שלום',
  '\r\n',
  '\t',
  '  ',
  '&amp;',
  '&lt;b&gt;',
  '<b>bold</b>',
  '<a href="tg://user?id=1">x</a>',
  '<script>alert(1)</script>',
  '<i>unclosed',
  '*bold*',
  '_it_',
  '`code`',
  '```js\nblock\n```',
  '||spoiler||',
  '~~strike~~',
  '[link](https://evil.example)',
  '[link](<https://evil.example>)',
  '> quote',
  '# heading',
  '\\',
] as const;

/** Mentions a stranger could try to make the bot repeat. */
export const MENTIONS = [
  '@everyone',
  '@here',
  '<@1015000000000000100>',
  '<@!1015000000000000100>',
  '<@&1015000000000000010>',
  '<#1015000000000000003>',
] as const;

const fragment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TRICKY, ...MENTIONS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 12 }) },
);

/** Free text of any length up to `maxLength` (a platform's limit and past it). */
function freeText(maxLength: number): fc.Arbitrary<string> {
  const short = fc.array(fragment, { maxLength: 8 }).map((parts) => parts.join(''));
  const long = fc
    .tuple(fragment, fc.integer({ min: Math.floor(maxLength * 0.9), max: maxLength }))
    .map(([piece, length]) => (piece || 'x').repeat(Math.ceil(length / Math.max(1, (piece || 'x').length))).slice(0, length));
  return fc.oneof({ weight: 9, arbitrary: short }, { weight: 1, arbitrary: long });
}

/** Arguments a command's schema might or might not take. */
const argument = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '2h',
      'off',
      '1m',
      '30d',
      '31d',
      '0s',
      '-1',
      '-2',
      '1',
      '0',
      '999999999999999999999',
      'NaN',
      'analysis',
      'auto-repair',
      'surgery',
      'on',
      'clear',
      'web-*',
      '*',
      'kind:http',
      'severity:optional',
      'a,b,,c',
      '--recent',
      'q1',
      'K7QW4F2M',
      'worker',
    ),
  },
  { weight: 2, arbitrary: fragment },
);

export const COMMAND_NAMES = commands.map((c) => c.name);

/** "/name args" as typed: every known command (also in Telegram's and odd spellings), unknown ones, odd spacing. */
function typedCommand(options: { botName?: string } = {}): fc.Arbitrary<string> {
  const name = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...COMMAND_NAMES) },
    { weight: 1, arbitrary: fc.constantFrom(...COMMAND_NAMES.map((n) => n.toUpperCase()), ...COMMAND_NAMES.map((n) => n.replaceAll('-', '_'))) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('nope', 'start', 'settings', '', '/', 'status!'), fragment) },
  );
  const mention = options.botName ? fc.constantFrom('', '', '', `@${options.botName}`) : fc.constant('');
  const separator = fc.constantFrom(' ', ' ', '  ', '\t', '\n', '\u00a0');
  return fc
    .tuple(name, mention, fc.array(fc.tuple(separator, argument), { maxLength: 5 }))
    .map(([n, m, args]) => `/${n}${m}${args.map(([sep, arg]) => `${sep}${arg}`).join('')}`);
}

/** "yes", "No", "y", or an answer with a (usually wrong) one-time code. */
function answerWords(): fc.Arbitrary<string> {
  const code = fc.oneof(fc.constantFrom('K7QW4F2M', 'AAAA', '12345678', 'ZZZZZZZZZZZZZZZZZ'), fc.string({ unit: 'grapheme-ascii', maxLength: 10 }));
  return fc.oneof(
    fc.constantFrom('yes', 'no', 'Yes', 'NO', 'y', 'n', 'yes ', ' no'),
    fc.tuple(fc.constantFrom('yes', 'no', 'y', 'YES'), code).map(([w, c]) => `${w} ${c}`),
  );
}

/** Button payloads: the real forms with forged or stale ids, alert command buttons with any command, and garbage. */
export function buttonPayload(): fc.Arbitrary<string> {
  const id = fc.oneof(fc.constantFrom('q1', 'q999999', '', ':', 'q1:yes'), fc.string({ unit: 'grapheme-ascii', maxLength: 8 }));
  return fc.oneof(
    fc.tuple(id, fc.constantFrom('yes', 'no', 'maybe', 'YES', '')).map(([q, a]) => `q:${q}:${a}`),
    typedCommand().map((command) => `cmd:${command}`),
    fc.constantFrom('cmd:', 'cmd:status', 'cmd: /status', 'q:', 'q::', ''),
    fc.string({ unit: 'binary', maxLength: 80 }),
  );
}

/** Anything a person may type: free text, commands, answer words. */
export function chatText(maxLength: number, options: { botName?: string } = {}): fc.Arbitrary<string> {
  return fc.oneof({ weight: 3, arbitrary: freeText(maxLength) }, { weight: 5, arbitrary: typedCommand(options) }, { weight: 1, arbitrary: answerWords() });
}
