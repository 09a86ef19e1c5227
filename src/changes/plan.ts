import { isAbsolute } from 'node:path';
import { checkKinds } from '../checks/index.js';
import { ollamaEndpoint } from '../checks/ollama.js';
import type { Config } from '../config/schema.js';
import type { WatchedHost, WatchedTree, WatchPlan } from './types.js';

/** The parts of the configuration that say what is watched. */
export type WatchedConfig = Pick<Config, 'watch' | 'repair' | 'checks' | 'ollama' | 'source'>;

/** The subject of changes to the diagnosis model's host when no ollama check watches that host. */
const DIAGNOSIS_MODEL_SUBJECT = 'ollama';

/**
 * What a configuration asks to be watched: `watch.repos` and the repair
 * targets (one tree each), `watch.files`, the config file it was read from,
 * and every Ollama host (each ollama check's, and the diagnosis model's),
 * one entry per host however many checks share it.
 */
export function watchPlan(config: WatchedConfig): WatchPlan {
  const trees: WatchedTree[] = [
    ...config.watch.repos.map((r) => ({ name: r.name, path: r.path, checks: [...r.checks] })),
    ...config.repair.targets.map((t) => ({ name: t.name, path: t.path, checks: [...t.checks] })),
  ];
  return {
    trees,
    files: config.watch.files.map((f) => ({ path: f.path, checks: [...f.checks] })),
    // The embedded default (and a test's made-up name) is no file on disk.
    configFile: isAbsolute(config.source) ? config.source : null,
    hosts: ollamaHosts(config),
  };
}

function ollamaHosts(config: WatchedConfig): WatchedHost[] {
  const hosts = new Map<string, WatchedHost>();
  for (const check of config.checks) {
    if (check.kind !== 'ollama') continue;
    const endpoint = ollamaEndpoint(checkKinds.ollama.params.parse(check.params).host);
    const host = hosts.get(endpoint.baseUrl);
    if (host) host.checks.push(check.name);
    else hosts.set(endpoint.baseUrl, { endpoint, subject: check.name, checks: [check.name] });
  }
  if (config.ollama) {
    const endpoint = ollamaEndpoint(config.ollama.host);
    if (!hosts.has(endpoint.baseUrl)) hosts.set(endpoint.baseUrl, { endpoint, subject: DIAGNOSIS_MODEL_SUBJECT, checks: [] });
  }
  return [...hosts.values()];
}
