import type { AnyCommand } from '../src/chat/command.js';
import { helpCommand } from './help.js';
import { statusCommand } from './status.js';

/**
 * Every chat command, in the order /help lists them. Each adapter builds its
 * platform's command menu from this one list.
 */
export const commands: readonly AnyCommand[] = [statusCommand, helpCommand];
