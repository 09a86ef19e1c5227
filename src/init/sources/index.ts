import { cronSource } from './cron.js';
import { dockerSource } from './docker.js';
import { logsSource } from './logs.js';
import { ollamaSource } from './ollama.js';
import { pm2Source } from './pm2.js';
import { portsSource } from './ports.js';
import { systemdSource } from './systemd.js';
import type { Source } from '../types.js';

/**
 * Where `nightshift init` looks, in this order: each source sees what the
 * ones before it found (ports are attached to the apps, units and containers
 * found first; logs come from the apps), and each is one prompt group.
 */
export const sources: readonly Source[] = [pm2Source, systemdSource, dockerSource, ollamaSource, portsSource, logsSource, cronSource];
