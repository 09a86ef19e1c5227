import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Machine } from './machine.js';
import type { Mentions } from './types.js';

/** An address with a port: "localhost:3000", "127.0.0.1:3000", "[::1]:3000", "api.lan:3000" (not a time such as "03:12"). */
const ADDRESS_PORT =
  /(?<![A-Za-z0-9.-])(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:]+\]|[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*):(\d{2,5})(?!\d|[:.]\d)/g;
/** How much of the end of each log is read for mentions. */
const LOG_TAIL_BYTES = 64 * 1024;

export function emptyMentions(): Mentions {
  return { ports: new Set(), where: new Map(), ollamaVariable: false };
}

/** Adds the ports a text names in addresses to `mentions`. */
export function addTextMentions(mentions: Mentions, text: string, where: string): void {
  for (const match of text.matchAll(ADDRESS_PORT)) addPort(mentions, Number(match[1]), where);
}

function addPort(mentions: Mentions, port: number, where: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return;
  mentions.ports.add(port);
  if (!mentions.where.has(port)) mentions.where.set(port, where);
}

/**
 * What the processes' environments and arguments mention: ports in
 * addresses, *PORT variables, OLLAMA_* variables. Values are read here and
 * kept nowhere; only port numbers and the fact that a variable is set leave.
 */
export function processMentions(machine: Machine, pids: readonly number[], mentions = emptyMentions()): Mentions {
  for (const pid of pids) {
    for (const [name, value] of machine.environment(pid)) {
      if (name.startsWith('OLLAMA_')) mentions.ollamaVariable = true;
      if (/PORT$/i.test(name) && /^\d{2,5}$/.test(value.trim())) addPort(mentions, Number(value.trim()), 'environment');
      else addTextMentions(mentions, value, 'environment');
    }
    const info = machine.process(pid);
    for (const arg of info?.argv.slice(1) ?? []) {
      addTextMentions(mentions, arg, 'arguments');
      const flag = /^--?port[= ](\d{2,5})$/i.exec(arg);
      if (flag) addPort(mentions, Number(flag[1]), 'arguments');
    }
  }
  return mentions;
}

/** Adds what the end of each log names (a worker logging "connected to 127.0.0.1:3000"). */
export function logMentions(files: readonly string[], mentions = emptyMentions()): Mentions {
  for (const file of files) {
    const text = readTail(file, LOG_TAIL_BYTES);
    if (text) addTextMentions(mentions, text, 'log');
  }
  return mentions;
}

function readTail(file: string, bytes: number): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
