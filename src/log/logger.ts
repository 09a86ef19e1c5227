import { Writable } from 'node:stream';
import { pino, type Logger, type DestinationStream } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
import type { Redactor } from './redact.js';

export type { Logger };

/** Object paths pino removes before a line is serialised. */
const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'secrets',
  '*.secrets',
];

export interface LoggerOptions {
  level: string;
  redactor: Redactor;
  /** Where lines go; stdout by default. */
  output?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Human-readable lines instead of JSON; defaults to "output is a terminal". */
  pretty?: boolean;
}

/**
 * The process logger: pino JSON lines (pretty on a terminal). Every line,
 * whatever its shape, passes the text redactor on its way out, so a token
 * inside an error message or a child's stderr is caught as well.
 */
export function createLogger(options: LoggerOptions): Logger {
  const output = options.output ?? process.stdout;
  const redacted: DestinationStream = {
    write: (line: string) => {
      output.write(options.redactor.redact(line));
    },
  };
  const usePretty = options.pretty ?? Boolean(output.isTTY);
  const destination = usePretty
    ? loadPretty()({
        // pino-pretty pipes into a real stream; redaction still happens on the formatted text.
        destination: new Writable({
          write(chunk: Buffer | string, _encoding, callback) {
            redacted.write(chunk.toString());
            callback();
          },
        }),
        sync: true,
        colorize: Boolean(output.isTTY),
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,hostname',
      })
    : redacted;
  return pino({ level: options.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } }, destination);
}

/**
 * pino-pretty, loaded only for a terminal: under systemd or pm2 the output is
 * not a TTY and its code (colour, time formatting, fast-copy) is never needed.
 * A synchronous require, because loggers are made synchronously.
 */
function loadPretty(): typeof PinoPretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
}

/** A logger whose lines are kept in memory, for tests that assert on log output. */
export function createCapturedLogger(redactor: Redactor, level = 'debug'): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const output = { write: (line: string) => raw.push(line), isTTY: false } as unknown as NodeJS.WritableStream;
  const logger = createLogger({ level, redactor, output, pretty: false });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
