import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import cron from 'node-cron';
import { matches, parseMatcher } from '../silence/matcher.js';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { EMBEDDED_DEFAULT } from './default.js';
import {
  fileSchema,
  validateCheckEntry,
  validateHealStep,
  type CheckConfig,
  type Config,
  type FileConfig,
  type ChannelSettings,
  type HealStepConfig,
  type RepairTarget,
  type WatchConfig,
  type WatchedFile,
  type WatchedRepo,
} from './schema.js';
import { healActionNames, type HealActionName } from '../heal/index.js';
import { checkKindNames, checkKinds } from '../checks/index.js';
import { formatDuration } from '../util/duration.js';
import { isLoopback, type ListenAddress } from '../http/access.js';
import { platformNames, platforms, platformSecretVariables, type PlatformName } from '../chat/platforms/index.js';
import type { SettingsReader } from '../chat/platforms/types.js';

export const DEFAULT_CONFIG_FILE = 'nightshift.yml';
export const EMBEDDED_SOURCE = '(embedded default)';
/**
 * A configuration is a few kilobytes; parsing a huge file would run the
 * process out of memory before any error could be shown.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Loads `.env` from the working directory into the environment (values
 * already set win), as the bot and the CLI do at start. This module is the
 * only one that touches process.env.
 */
export function loadDotEnv(cwd = process.cwd()): string | undefined {
  const file = resolve(cwd, '.env');
  if (!existsSync(file)) return undefined;
  process.loadEnvFile(file);
  return file;
}

/** `.env` of `cwd` as `start` loads it (the parser process.loadEnvFile uses), without touching process.env; {} when there is none. */
export function readDotEnv(cwd: string): NodeJS.Dict<string> {
  const file = resolve(cwd, '.env');
  return existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
}

/** The process's environment, for CLI commands that read it before any configuration exists (init, install-service). */
export function processEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}

/**
 * Reads, interpolates and validates the configuration. Throws ConfigError
 * listing every problem at once; touches nothing on disk.
 */
export function loadConfig(options: { env?: Env; cwd?: string } = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = env.NIGHTSHIFT_CONFIG;
  const file = resolve(cwd, explicit || DEFAULT_CONFIG_FILE);
  let text: string;
  let source: string;
  if (existsSync(file)) {
    text = readCapped(file);
    source = file;
  } else if (explicit) {
    throw new ConfigError(file, ['NIGHTSHIFT_CONFIG names this file, but it does not exist']);
  } else {
    text = EMBEDDED_DEFAULT;
    source = EMBEDDED_SOURCE;
  }
  return parseConfig(text, source, env, cwd);
}

/**
 * Reads the file, refusing one over MAX_CONFIG_BYTES: its size is checked
 * before reading, and the read itself stops past the limit (a file growing
 * meanwhile, or one whose size stat cannot tell, such as a pipe).
 */
function readCapped(file: string): string {
  const tooBig = (size: string) => new ConfigError(file, [`the file is ${size}; the limit is ${MAX_CONFIG_BYTES} bytes (1 MiB)`]);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  try {
    const { size } = fstatSync(fd);
    if (size > MAX_CONFIG_BYTES) throw tooBig(`${size} bytes`);
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > MAX_CONFIG_BYTES) throw tooBig(`more than ${MAX_CONFIG_BYTES} bytes`);
    return buffer.toString('utf8', 0, length);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  } finally {
    closeSync(fd);
  }
}

/** Validates configuration text; `source` names it in errors. */
export function parseConfig(text: string, source: string, env: Env, cwd: string): Config {
  const problems: string[] = [];
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  for (const error of doc.errors) {
    const pos = error.linePos?.[0];
    problems.push(`${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}YAML syntax: ${error.message.split('\n')[0]}`);
  }
  if (problems.length > 0) throw new ConfigError(source, problems);

  let raw: unknown;
  try {
    raw = doc.contents === null ? {} : (doc.toJS() as unknown);
  } catch (err) {
    // The yaml library refuses aliases that expand without bound ("billion laughs"); that is a bad file too.
    throw new ConfigError(source, [`YAML: ${(err as Error).message}`]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, [`(top level): expected a mapping of keys (patrol, http, log, checks), found ${describe(raw)}`]);
  }

  const interpolated = interpolate(raw, env, [], problems);
  const parsed = fileSchema.safeParse(interpolated);
  if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, interpolated, []));

  const checks: CheckConfig[] = [];
  const rawChecks = (interpolated as { checks?: unknown }).checks;
  if (Array.isArray(rawChecks)) {
    // Checks are validated even when other sections are bad, so every problem is listed in one go.
    const defaults = parsed.success ? parsed.data.patrol : { interval: 10_000, timeout: 5_000 };
    const seen = new Map<string, number>();
    rawChecks.forEach((entry, index) => {
      const path: Path = ['checks', index];
      const kind = (entry as { kind?: unknown } | null)?.kind;
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        problems.push(`${formatPath(path)}: expected a mapping with name and kind, found ${describe(entry)}`);
        return;
      }
      if (typeof kind !== 'string' || !(checkKindNames as string[]).includes(kind)) {
        problems.push(`${formatPath([...path, 'kind'])}: expected one of ${checkKindNames.join(', ')}, found ${describe(kind)}`);
        return;
      }
      const result = validateCheckEntry(kind as CheckConfig['kind'], entry as Record<string, unknown>);
      if (!result.success) {
        problems.push(...formatIssues(result.issues, entry, path));
        // Its heal steps are still checked, so their problems are listed in the same go.
        const heal = (entry as { heal?: unknown }).heal;
        if (Array.isArray(heal)) parseHealSteps(heal, [...path, 'heal'], problems);
        return;
      }
      const { name, severity, interval, timeout, dependsOn, failAfter, heal, cooldown, maxHeals, retryAfterEscalation } = result.common;
      const earlier = seen.get(name);
      if (earlier !== undefined) {
        problems.push(`${formatPath([...path, 'name'])}: expected a unique check name, found "${name}" again (first at checks[${earlier}])`);
        return;
      }
      seen.set(name, index);
      const steps = parseHealSteps(heal, [...path, 'heal'], problems);
      // The kind's keys are kept as written (validated above): the probe parses them itself, once, so
      // transforms such as durations ("10s" → ms) are applied exactly once.
      const params = result.params;
      checks.push({
        name,
        kind: kind as CheckConfig['kind'],
        severity,
        intervalMs: interval ?? defaults.interval,
        timeoutMs: timeout ?? defaults.timeout,
        dependsOn,
        failAfter,
        heal: steps,
        cooldownMs: cooldown,
        maxHeals: { count: maxHeals.count, windowMs: maxHeals.window },
        retryAfterEscalationMs: retryAfterEscalation === 'off' ? null : retryAfterEscalation,
        params,
      });
      const grace = startGraceOf(kind as CheckConfig['kind'], params);
      const timeoutMs = timeout ?? defaults.timeout;
      const written = 'startGrace' in params;
      const graceText = `the start grace (${formatDuration(grace ?? 0)}${written ? '' : ', the default'})`;
      if (grace !== null && grace >= timeoutMs) {
        // A run right after a (re)start waits out the grace inside its timeout: it would always end "still starting".
        problems.push(
          `${formatPath([...path, written ? 'startGrace' : 'timeout'])}: expected ${graceText} to be shorter than the check's timeout (${formatDuration(timeoutMs)}), found it is not; raise timeout or lower startGrace`,
        );
      }
      const healTimeoutMs = parsed.success ? parsed.data.patrol.healTimeout : null;
      if (grace !== null && healTimeoutMs !== null && grace >= healTimeoutMs && steps.some((step) => step.action === 'restart')) {
        // The restart heal waits out the grace too, inside patrol.healTimeout: it would always be abandoned.
        problems.push(
          `${formatPath([...path, 'startGrace'])}: expected ${graceText} to be shorter than patrol.healTimeout (${formatDuration(healTimeoutMs)}), found it is not; a restart waits for it`,
        );
      }
    });
    problems.push(...dependencyProblems(checks, rawChecks));
  }

  const listenText = env.NIGHTSHIFT_HTTP || (parsed.success ? parsed.data.http.listen : undefined) || '127.0.0.1:8787';
  const listen = parseListen(listenText);
  if (!listen) {
    const where = env.NIGHTSHIFT_HTTP ? 'NIGHTSHIFT_HTTP (environment)' : 'http.listen';
    problems.push(`${where}: expected host:port such as 127.0.0.1:8787, found ${describe(listenText)}`);
  }
  const httpToken = env.NIGHTSHIFT_HTTP_TOKEN || undefined;
  if (httpToken !== undefined && (httpToken.length < 16 || /\s/.test(httpToken))) {
    problems.push(
      `NIGHTSHIFT_HTTP_TOKEN (environment): expected at least 16 characters without spaces (e.g. from "openssl rand -hex 24"), found ${httpToken.length} characters`,
    );
  } else if (listen && httpToken === undefined && !isLoopback(listen.host)) {
    problems.push(
      `NIGHTSHIFT_HTTP_TOKEN (environment): expected it to be set because the HTTP server listens on ${listenText} (off loopback: /status.json and /metrics need a token there), found it unset`,
    );
  }
  // The ingest routes' own tokens: agents and Alertmanager post with them; unset, their route is off.
  const ingestTokens = Object.fromEntries(
    (['NIGHTSHIFT_AGENT_TOKEN', 'NIGHTSHIFT_ALERTMANAGER_TOKEN'] as const).map((variable) => {
      const token = env[variable] || undefined;
      if (token !== undefined && (token.length < 16 || /\s/.test(token)))
        problems.push(
          `${variable} (environment): expected at least 16 characters without spaces (e.g. from "openssl rand -hex 24"), found ${token.length} characters`,
        );
      if (token !== undefined && token === httpToken)
        problems.push(`${variable} (environment): expected a token of its own, found it equal to NIGHTSHIFT_HTTP_TOKEN`);
      return [variable, token];
    }),
  ) as Record<'NIGHTSHIFT_AGENT_TOKEN' | 'NIGHTSHIFT_ALERTMANAGER_TOKEN', string | undefined>;
  const agentToken = ingestTokens.NIGHTSHIFT_AGENT_TOKEN;
  const alertmanagerToken = ingestTokens.NIGHTSHIFT_ALERTMANAGER_TOKEN;
  const timezone = env.TZ || Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!isValidTimezone(timezone)) problems.push(`TZ (environment): expected an IANA time zone such as Europe/Berlin, found ${describe(timezone)}`);

  const channels = channelSettings(env, problems);
  if (parsed.success && parsed.data.diagnose.weekly !== 'off' && !cron.validate(parsed.data.diagnose.weekly)) {
    problems.push(`diagnose.weekly: expected a cron expression such as "0 9 * * 1" or off, found ${describe(parsed.data.diagnose.weekly)}`);
  }
  const ollamaHost = env.OLLAMA_HOST || 'http://127.0.0.1:11434';
  if (env.OLLAMA_MODEL && !/^https?:\/\/[^\s]+$/.test(ollamaHost))
    problems.push(`OLLAMA_HOST (environment): expected an http(s) URL, found ${describe(ollamaHost)}`);
  const repairTargets = parsed.success ? repairTargetPaths(parsed.data.repair.targets, checks, cwd, problems) : [];
  const watch = parsed.success ? watchPaths(parsed.data.watch, repairTargets, checks, cwd, problems) : undefined;
  if (problems.length > 0 || !parsed.success || !listen || !watch) throw new ConfigError(source, problems);

  const config: Config = {
    source,
    dataDir: resolve(cwd, env.NIGHTSHIFT_DATA_DIR || './data'),
    http: {
      listen,
      allowedHosts: (parsed.data.http.allowedHosts ?? []).map((h) => h.toLowerCase().replace(/\.$/, '')),
      ...(httpToken ? { token: httpToken } : {}),
      ...(agentToken ? { agentToken } : {}),
      ...(alertmanagerToken ? { alertmanagerToken } : {}),
    },
    log: parsed.data.log,
    patrol: {
      intervalMs: parsed.data.patrol.interval,
      timeoutMs: parsed.data.patrol.timeout,
      concurrency: parsed.data.patrol.concurrency,
      flapping: { maxChanges: parsed.data.patrol.flapping.maxChanges, windowMs: parsed.data.patrol.flapping.window },
      healTimeoutMs: parsed.data.patrol.healTimeout,
    },
    checks,
    secrets: {
      httpToken,
      agentToken,
      alertmanagerToken,
      ...Object.fromEntries(platformSecretVariables.map((name) => [name, env[name] || undefined])),
    },
    channels,
    diagnose: parsed.data.diagnose,
    briefing: parsed.data.briefing,
    ollama: env.OLLAMA_MODEL ? { host: ollamaHost.replace(/\/+$/, ''), model: env.OLLAMA_MODEL } : null,
    chat: { ...parsed.data.chat, ...(parsed.data.chat.publicUrl ? { publicUrl: parsed.data.chat.publicUrl.replace(/\/+$/, '') } : {}) },
    timezone,
    retention: { eventsMs: parsed.data.retention.events },
    maintenance: parsed.data.maintenance.map((w) => ({
      name: w.name,
      cron: w.cron.trim(),
      durationMs: w.duration,
      match: w.match,
      ...(w.reason !== undefined ? { reason: w.reason } : {}),
    })),
    repair: {
      timeoutMs: parsed.data.repair.timeout,
      verifyPatrols: parsed.data.repair.verifyPatrols,
      maxFailures: parsed.data.repair.maxFailures,
      allowHosts: parsed.data.repair.allowHosts.map((h) => h.toLowerCase()),
      maxBackupBytes: parsed.data.repair.maxBackupMiB * 1024 * 1024,
      targets: repairTargets,
    },
    watch,
    watchdog: parsed.data.watchdog
      ? {
          pingUrl: parsed.data.watchdog.pingUrl.replace(/\/+$/, ''),
          everyMs: parsed.data.watchdog.every,
          method: parsed.data.watchdog.method,
          timeoutMs: parsed.data.watchdog.timeout,
        }
      : null,
    warnings: [...shellInterpolationWarnings(raw, interpolated), ...maintenanceWarnings(parsed.data.maintenance, checks)],
  };
  return deepFreeze(config);
}

type Path = Array<string | number>;

/**
 * Each repair target's folder, made absolute with its symlinks resolved (a
 * fix is later confined to that real folder), and its checks: every bad
 * field is named.
 */
function repairTargetPaths(targets: FileConfig['repair']['targets'], checks: CheckConfig[], cwd: string, problems: string[]): RepairTarget[] {
  const unknownChecks = unknownCheckProblems(checks, problems);
  const resolved: RepairTarget[] = [];
  targets.forEach((target, index) => {
    const where = `repair.targets[${index}]`;
    const path = existingPath(target.path, 'folder', cwd, `${where}.path`, problems);
    unknownChecks(where, target.checks);
    if (target.testReport && (isAbsolute(target.testReport) || target.testReport.split(/[\\/]/).includes('..')))
      problems.push(`${where}.testReport: expected a path inside the target folder, found ${target.testReport}`);
    if (target.testReport && !target.test) problems.push(`${where}.testReport: expected a test command to write it (repair.targets[${index}].test is unset)`);
    if (path) resolved.push({ name: target.name, path, checks: target.checks, test: target.test, testReport: target.testReport, build: target.build });
  });
  return resolved;
}

/**
 * `watch:` with its paths made absolute and real, like repair targets' (a
 * symlinked deploy folder is watched where it points): every bad field is
 * named. A repair target is watched already, so a repo may not take its
 * name or its folder.
 */
function watchPaths(watch: FileConfig['watch'], targets: RepairTarget[], checks: CheckConfig[], cwd: string, problems: string[]): WatchConfig {
  const unknownChecks = unknownCheckProblems(checks, problems);
  const folders = new Map(targets.map((t, i) => [t.path, `repair.targets[${i}] ("${t.name}")`]));
  const takenNames = new Map(targets.map((t, i) => [t.name, `repair.targets[${i}]`]));
  const repos: WatchedRepo[] = [];
  watch.repos.forEach((repo, index) => {
    const where = `watch.repos[${index}]`;
    const earlier = takenNames.get(repo.name);
    if (earlier)
      problems.push(`${where}.name: expected a name of its own (repair targets are watched already), found "${repo.name}" again (first at ${earlier})`);
    else takenNames.set(repo.name, where);
    unknownChecks(where, repo.checks);
    const path = existingPath(repo.path, 'folder', cwd, `${where}.path`, problems);
    if (path === undefined) return;
    const same = folders.get(path);
    if (same) {
      problems.push(`${where}.path: expected a folder not watched already, found the folder of ${same}`);
      return;
    }
    folders.set(path, where);
    if (!earlier) repos.push({ name: repo.name, path, checks: repo.checks });
  });
  const files: WatchedFile[] = [];
  const seenFiles = new Map<string, string>();
  watch.files.forEach((file, index) => {
    const where = `watch.files[${index}]`;
    unknownChecks(where, file.checks);
    const path = existingPath(file.path, 'file', cwd, `${where}.path`, problems);
    if (path === undefined) return;
    const same = seenFiles.get(path);
    if (same) {
      problems.push(`${where}.path: expected a file not listed already, found the same file as ${same}`);
      return;
    }
    seenFiles.set(path, where);
    files.push({ path, checks: file.checks });
  });
  return { intervalMs: watch.interval, repos, files };
}

/** Names each entry of a `checks:` list (at `where`) that is not a configured check. */
function unknownCheckProblems(checks: CheckConfig[], problems: string[]): (where: string, listed: readonly string[]) => void {
  const names = new Set(checks.map((c) => c.name));
  return (where, listed) =>
    listed.forEach((check, i) => {
      if (!names.has(check)) problems.push(`${where}.checks[${i}]: expected the name of a configured check, found "${check}"`);
    });
}

/** `written` resolved from the working directory with its symlinks resolved, when it is an existing folder or file; else a problem. */
function existingPath(written: string, kind: 'folder' | 'file', cwd: string, where: string, problems: string[]): string | undefined {
  let path: string;
  try {
    path = realpathSync(resolve(cwd, written));
  } catch {
    problems.push(`${where}: expected an existing ${kind}, found nothing at ${written}`);
    return undefined;
  }
  const isFolder = statSync(path).isDirectory();
  if (isFolder === (kind === 'folder')) return path;
  problems.push(`${where}: expected a ${kind}, found a ${isFolder ? 'folder' : 'file'} at ${written}`);
  return undefined;
}

/** A maintenance window whose matcher covers no check is valid (the checks may come later) but likely a typo: said once. */
function maintenanceWarnings(windows: FileConfig['maintenance'], checks: CheckConfig[]): string[] {
  return windows.flatMap((w, index) => {
    const matcher = parseMatcher(w.match);
    if (typeof matcher === 'string' || checks.some((c) => matches(matcher, c))) return [];
    return [`maintenance[${index}].match: "${w.match}" matches no check, so the window "${w.name}" silences nothing`];
  });
}

/**
 * Which chat channels are on, each platform reading its own variables
 * (src/chat/platforms/). A token turns its channel on; the ids it needs must
 * then be set too (named in the error when they are not).
 */
function channelSettings(env: Env, problems: string[]): ChannelSettings {
  const reader: SettingsReader = {
    env,
    need: (names, because) => {
      const missing = names.filter((n) => !env[n]);
      for (const name of missing) problems.push(`${name} (environment): expected it to be set because ${because}, found it unset`);
      return missing.length === 0;
    },
    url: (name) => {
      const value = env[name];
      if (!value) return undefined;
      if (!/^https?:\/\/[^\s]+$/.test(value)) problems.push(`${name} (environment): expected an http(s) URL, found ${describe(value)}`);
      return value.replace(/\/+$/, '');
    },
    problem: (line) => problems.push(line),
    describe,
  };
  const channels: ChannelSettings = {};
  for (const name of platformNames) {
    const settings = platforms[name].readSettings(reader);
    // Each platform's reader returns its own settings type; the name ties the two together.
    if (settings) (channels as Record<PlatformName, unknown>)[name] = settings;
  }
  return channels;
}

/** Heal steps: "restart" is short for { action: restart }; each step is validated by its action's schema. */
function parseHealSteps(raw: unknown[], path: Path, problems: string[]): HealStepConfig[] {
  const steps: HealStepConfig[] = [];
  raw.forEach((entry, index) => {
    const stepPath = [...path, index];
    const step = typeof entry === 'string' ? { action: entry } : entry;
    const action = (step as { action?: unknown } | null)?.action;
    if (step === null || typeof step !== 'object' || Array.isArray(step)) {
      problems.push(`${formatPath(stepPath)}: expected an action name such as "restart" or a mapping with action, found ${describe(entry)}`);
      return;
    }
    if (typeof action !== 'string' || !(healActionNames as string[]).includes(action)) {
      problems.push(
        `${formatPath(typeof entry === 'string' ? stepPath : [...stepPath, 'action'])}: expected one of ${healActionNames.join(', ')}, found ${describe(action)}`,
      );
      return;
    }
    const result = validateHealStep(action as HealActionName, step as Record<string, unknown>);
    if (!result.success) {
      problems.push(...formatIssues(result.issues, step, stepPath));
      return;
    }
    steps.push({ action: action as HealActionName, params: result.params });
  });
  return steps;
}

/** dependsOn must name configured checks, not the check itself, and must not form a cycle. */
function dependencyProblems(checks: CheckConfig[], rawChecks: unknown[]): string[] {
  const problems: string[] = [];
  const names = new Set(checks.map((c) => c.name));
  const indexOf = (name: string) => rawChecks.findIndex((c) => (c as { name?: unknown } | null)?.name === name);
  for (const check of checks) {
    check.dependsOn.forEach((dep, i) => {
      if (dep === check.name) problems.push(`checks[${indexOf(check.name)}].dependsOn[${i}]: expected another check's name, found the check itself ("${dep}")`);
      else if (!names.has(dep)) problems.push(`checks[${indexOf(check.name)}].dependsOn[${i}]: expected the name of a configured check, found "${dep}"`);
    });
  }
  const byName = new Map(checks.map((c) => [c.name, c]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      problems.push(`checks[${indexOf(name)}].dependsOn: expected no dependency cycle, found ${cycle.join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const dep of byName.get(name)?.dependsOn ?? []) if (byName.has(dep) && dep !== name) visit(dep, [...trail, name]);
    state.set(name, 'done');
  };
  for (const check of checks) visit(check.name, []);
  return problems;
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${VAR} and ${VAR:-default} in every string; an unset variable without default is a problem. */
function interpolate(value: unknown, env: Env, path: Path, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (_whole, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: expected environment variable ${name} to be set (used as \${${name}}), found it unset`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, i], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k], problems)]));
  }
  return value;
}

/**
 * `${VAR}` is replaced as written, without shell quoting: in a string `run:`
 * (a line for /bin/sh -c) a value with a space, a quote, `;` or `$(...)`
 * changes the command. Valid, so a warning rather than a problem: one line
 * per string `run:` of a command check or command heal step that has one.
 */
function shellInterpolationWarnings(raw: unknown, interpolated: unknown): string[] {
  const warnings: string[] = [];
  const rawChecks = (raw as { checks?: unknown }).checks;
  const checks = (interpolated as { checks?: unknown }).checks;
  if (!Array.isArray(rawChecks) || !Array.isArray(checks)) return warnings;
  const warnAbout = (path: Path, run: unknown) => {
    if (typeof run !== 'string') return;
    const used = [...new Set([...run.matchAll(VAR)].map((match) => match[0]))];
    if (used.length === 0) return;
    warnings.push(
      `${formatPath(path)}: ${used.join(', ')} ${used.length === 1 ? 'is' : 'are'} put into a shell command line as is, unquoted (a space, quote, ";" or "$(...)" in the value changes the command); prefer an argv list: run: [program, arg, ...]`,
    );
  };
  rawChecks.forEach((rawCheck, i) => {
    const check = checks[i] as { kind?: unknown; heal?: unknown } | undefined;
    if (!isMapping(rawCheck) || !isMapping(check)) return;
    // kind and action are read after interpolation (they could be written as ${VAR} too); run as written.
    if (check.kind === 'command') warnAbout(['checks', i, 'run'], rawCheck.run);
    if (!Array.isArray(rawCheck.heal) || !Array.isArray(check.heal)) return;
    rawCheck.heal.forEach((rawStep: unknown, j: number) => {
      const step = (check.heal as unknown[])[j];
      if (isMapping(rawStep) && isMapping(step) && step.action === 'command') warnAbout(['checks', i, 'heal', j, 'run'], rawStep.run);
    });
  });
  return warnings;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** One line per zod issue: path, what was expected, what was found. */
function formatIssues(issues: z.core.$ZodIssue[], root: unknown, prefix: Path): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as Path)];
    const found = valueAt(root, issue.path as Path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...path, key])}: unknown key (not allowed here), found ${describe(valueAt(found, [key]))}`);
      continue;
    }
    // zod says "Too big: expected number to be <=100"; keep the part that says what was expected.
    const expected = issue.message.replace(/^[A-Z][A-Za-z ]*: (?=expected)/, '').replace(/, received \w+$/, '');
    // A custom issue may say why after what was found: "found "(unclosed": Invalid regular expression: ...".
    const reason = issue.code === 'custom' && typeof issue.params?.reason === 'string' ? `: ${issue.params.reason}` : '';
    lines.push(`${formatPath(path)}: ${expected.startsWith('expected') ? expected : `expected ${expected}`}, found ${describe(found)}${reason}`);
  }
  return lines;
}

function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

/** checks[2].path */
export function formatPath(path: Path): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  // Neither YAML nor the environment yields anything else (a symbol, a function): its type says enough.
  return typeof value;
}

/** "127.0.0.1:8787", "[::1]:8787", ":8787" (all interfaces is only by explicit "0.0.0.0:8787"). */
export function parseListen(text: string): ListenAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? match[2]!, port };
}

function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A kind's start grace (ms, its default applied) when it has one: the supervised kinds (process, pm2, systemd). */
function startGraceOf(kind: keyof typeof checkKinds, params: Record<string, unknown>): number | null {
  const parsed = (checkKinds[kind].params as { safeParse(input: unknown): { success: boolean; data?: unknown } }).safeParse(params);
  const grace = parsed.success ? (parsed.data as { startGrace?: unknown }).startGrace : undefined;
  return typeof grace === 'number' ? grace : null;
}
