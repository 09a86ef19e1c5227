import { z } from 'zod';
import { checkKindNames, checkKinds, type CheckKindName } from '../checks/index.js';
import type { CheckConfig as ConfiguredCheck, HealStepConfig as ConfiguredHealStep } from '../checks/types.js';
import type { ListenAddress } from '../http/access.js';
import cron from 'node-cron';
import { ageDuration, ageDurationOrZero, intervalDuration, timerDuration, timerDurationOrZero, windowDuration } from '../util/duration.js';
import { MATCHER_USAGE, parseMatcher } from '../silence/matcher.js';
import { healActions, type HealActionName } from '../heal/index.js';
import { defaultPlatformLists, platformListsShape, platformNames, type ChannelSettings } from '../chat/platforms/index.js';

const localTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time such as 07:30');
const severityName = z.enum(['critical', 'warning', 'info']);

/** What one channel receives (chat.routes.<channel>); an absent channel receives everything. */
const routeSchema = z.strictObject({
  /** Severities of alerts it receives. */
  severities: z.array(severityName).min(1).default(['critical', 'warning', 'info']),
  /** Questions (consent, proposed fixes). */
  questions: z.boolean().default(true),
  /** The morning briefing and the weekly report. */
  briefings: z.boolean().default(true),
  /** "… recovered" messages. */
  sendResolved: z.boolean().default(true),
  /** Local times (TZ) between which only what `pierce` names is sent; the rest is held and summed up when they end. */
  quietHours: z
    .strictObject({
      from: localTime,
      to: localTime,
      /** What is sent anyway: questions, escalations (critical "needs you" alerts), critical (every critical alert). */
      pierce: z.array(z.enum(['questions', 'escalations', 'critical'])).default(['questions', 'escalations']),
    })
    .optional(),
});

/** chat.routes: one entry per chat platform, by name. */
const routesSchema = z
  .strictObject(
    Object.fromEntries(platformNames.map((name) => [name, routeSchema.optional()])) as Record<
      (typeof platformNames)[number],
      z.ZodOptional<typeof routeSchema>
    >,
  )
  .default({});

/** Keys every check has, whatever its kind. */
export const checkCommonShape = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-" (max 64)'),
  kind: z.enum(checkKindNames),
  /** critical: a failure makes the summary DEGRADED; optional: reported only. */
  severity: z.enum(['critical', 'optional']).default('critical'),
  /** How often the check runs; defaults to patrol.interval. */
  interval: intervalDuration.optional(),
  /** A run that takes longer fails with "timed out"; defaults to patrol.timeout. */
  timeout: timerDuration.optional(),
  /** Checks this one needs: while one of them fails, this one's failure is a symptom, not a root cause. */
  dependsOn: z.array(z.string()).default([]),
  /** Consecutive failed runs before an incident opens. */
  failAfter: z.number().int().min(1).max(100).default(1),
  /** Ordered heal steps: "restart", or { action: ..., ...params }; validated per action in load.ts. */
  heal: z.array(z.unknown()).default([]),
  /**
   * A failure that returns within this long after a heal counts against that heal in the regret index (-1).
   * It never stops healing: heals back off and maxHeals caps them.
   */
  cooldown: ageDurationOrZero.default(300_000),
  /** At most this many heals within the window; reaching it escalates. */
  maxHeals: z
    .strictObject({ count: z.number().int().min(0).max(1000).default(3), window: ageDuration.default(900_000) })
    .default({ count: 3, window: 900_000 }),
  /** After an escalation the heal is still retried this often (a restart that works later is not refused); off: never. */
  retryAfterEscalation: z.union([z.literal('off'), ageDuration]).default(900_000),
};

/** The document in nightshift.yml, after `${VAR}` interpolation. Checks are validated per kind in load.ts. */
export const fileSchema = z.strictObject({
  patrol: z
    .strictObject({
      /** How often the patrol loop wakes, and the default interval of every check. */
      interval: intervalDuration.default(10_000),
      /** Default timeout of a check run. */
      timeout: timerDuration.default(5_000),
      /** How many checks may run at the same time. */
      concurrency: z.number().int().min(1).max(1000).default(16),
      /** A check that changes state more than `maxChanges` times within `window` is flapping: one alert, then quiet until stable. */
      flapping: z
        .strictObject({ maxChanges: z.number().int().min(2).default(5), window: ageDuration.default(600_000) })
        .default({ maxChanges: 5, window: 600_000 }),
      /** How long one heal step may take before it is abandoned as failed. */
      healTimeout: timerDuration.default(30_000),
    })
    .default({ interval: 10_000, timeout: 5_000, concurrency: 16, flapping: { maxChanges: 5, window: 600_000 }, healTimeout: 30_000 }),
  http: z
    .strictObject({
      /** host:port of the status/metrics server; NIGHTSHIFT_HTTP overrides it. */
      listen: z.string().optional(),
      /**
       * Host names the server answers to besides IP addresses and localhost (a VPN or
       * Tailscale name). Requests naming any other Host are refused (DNS rebinding).
       */
      allowedHosts: z
        .array(
          z
            .string()
            .regex(
              /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/,
              'expected a host name such as nightshift.tailnet.ts.net (no scheme, no port)',
            ),
        )
        .default([]),
    })
    .default({ allowedHosts: [] }),
  chat: z
    .strictObject({
      /** New incidents are collected this long before one message goes out (folded by root cause); 0: each is sent at once. */
      groupWait: timerDurationOrZero.default(10_000),
      /** This many new incidents within one group wait become a single storm summary per channel. */
      stormThreshold: z.number().int().min(2).default(20),
      /** Unacknowledged critical incidents are reminded this often (compared with the last reminder; the reminder timer ticks at most every minute). */
      repeatInterval: ageDuration.default(4 * 3_600_000),
      /** A question not answered within this long expires (an expiry time, checked every minute). */
      questionTtl: ageDuration.default(24 * 3_600_000),
      /** Base URL of Nightshift's HTTP server as the operator's phone reaches it, for ntfy action buttons; it becomes a link, so http(s) only. */
      publicUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL such as http://nightshift.lan:8787' }).optional(),
      /** What wakes the operator (README, "What wakes you up"). */
      notify: z
        .strictObject({
          /** An incident Level 1 heals and that stays healed: briefing (no push) or immediate (pushed like any other). */
          healed: z.enum(['briefing', 'immediate']).default('briefing'),
          /** How long after a heal attempt ends the check may take to come back before the incident is announced. */
          grace: timerDurationOrZero.default(5_000),
          /** Incidents of optional checks: briefing (no push) or immediate. */
          optional: z.enum(['briefing', 'immediate']).default('briefing'),
        })
        .default({ healed: 'briefing', grace: 5_000, optional: 'briefing' }),
      /** An unacknowledged critical escalation is re-sent, louder, this often until acked or recovered; off: never. */
      escalateAfter: z.union([z.literal('off'), ageDuration]).default(900_000),
      /** Where re-sent escalations go, in order (the first re-send to the first channel...); empty: every channel. */
      escalateTo: z.array(z.enum(platformNames)).default([]),
      /** Per channel: which severities it receives, questions, briefings, recoveries, quiet hours. */
      routes: routesSchema,
      /** Who holds which role on each chat platform: each platform's own schema (src/chat/platforms/). */
      ...platformListsShape,
    })
    .default({
      groupWait: 10_000,
      stormThreshold: 20,
      repeatInterval: 4 * 3_600_000,
      questionTtl: 24 * 3_600_000,
      notify: { healed: 'briefing', grace: 5_000, optional: 'briefing' },
      escalateAfter: 900_000,
      escalateTo: [],
      routes: {},
      ...defaultPlatformLists,
    }),
  diagnose: z
    .strictObject({
      /** Critical failure events before Nightshift asks whether it may analyse error patterns. */
      askAfter: z.number().int().min(1).default(5),
      /** The same failure signature opening this many incidents within the window triggers a diagnosis. */
      recurrence: z
        .strictObject({ count: z.number().int().min(1).default(3), window: ageDuration.default(86_400_000) })
        .default({ count: 3, window: 86_400_000 }),
      /** A diagnosis looks this far back in the event log. */
      lookback: ageDuration.default(86_400_000),
      /** Weekly diagnosis (cron in TZ); "off" disables it. */
      weekly: z.string().default('0 9 * * 1'),
      /** The model's answer must arrive within this long, or the deterministic diagnosis goes out alone. */
      llmTimeout: timerDuration.default(60_000),
      /** The prompt is cut to this many characters (least important parts first). */
      maxPromptChars: z.number().int().min(1000).default(12_000),
      /** A proposed fix not decided within this long expires (an expiry time, like questionTtl). */
      proposalTtl: ageDuration.default(86_400_000),
    })
    .default({
      askAfter: 5,
      recurrence: { count: 3, window: 86_400_000 },
      lookback: 86_400_000,
      weekly: '0 9 * * 1',
      llmTimeout: 60_000,
      maxPromptChars: 12_000,
      proposalTtl: 86_400_000,
    }),
  briefing: z
    .strictObject({
      /** Local time (TZ) of the morning briefing. */
      at: localTime.default('07:30'),
      /** Day of the weekly report, or off. */
      weekly: z.enum(['off', 'sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']).default('monday'),
    })
    .default({ at: '07:30', weekly: 'monday' }),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
  retention: z
    .strictObject({
      /** Events older than this are deleted (hourly, in bounded batches); the audit trail is never pruned. */
      events: ageDuration.default(90 * 86_400_000),
    })
    .default({ events: 90 * 86_400_000 }),
  /**
   * Who watches the watcher: an outside dead man's switch (Healthchecks.io style) pinged every `every`;
   * `/fail` when the summary is DOWN, `/start` once at startup. Absent: no pings.
   */
  watchdog: z
    .strictObject({
      /** The check's ping URL; secret-ish (its path is the key): only its origin is ever logged. */
      pingUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL such as https://hc-ping.com/<uuid>' }),
      /** How often the ping is sent. */
      every: intervalDuration.default(60_000),
      /** GET, or POST with the one-line summary as the body. */
      method: z.enum(['GET', 'POST']).default('POST'),
      /** A ping not answered within this long is abandoned as failed. */
      timeout: timerDuration.default(10_000),
    })
    .optional(),
  /** Scheduled maintenance windows: while one is open, the checks it matches alert, remind and heal nobody. */
  maintenance: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-" (max 64)'),
        /** When the window opens: a five-field cron expression in TZ ("0 3 * * 0": Sundays 03:00). */
        cron: z.string().refine((c) => c.trim().split(/\s+/).length === 5 && cron.validate(c), 'expected a five-field cron expression such as "0 3 * * 0"'),
        /** How long it stays open. */
        duration: windowDuration,
        /** What it covers: a silence matcher. */
        match: z.string().refine((m) => typeof parseMatcher(m) !== 'string', `expected ${MATCHER_USAGE}`),
        /** Said in /silences. */
        reason: z.string().max(200).optional(),
      }),
    )
    .default([])
    .refine((windows) => new Set(windows.map((w) => w.name)).size === windows.length, 'expected each maintenance window to have its own name'),
  /** Level 3: where approved fixes may be applied, and how each repair is verified (README, "Repairs"). */
  repair: z
    .strictObject({
      /** A whole repair (backup, apply, restart, verify, commit) that takes longer is rolled back. */
      timeout: timerDuration.default(600_000),
      /** The target's checks must pass this many patrols in a row after the change. */
      verifyPatrols: z.number().int().min(1).max(100).default(3),
      /** After this many failed repairs of the same failure, its proposal needs a human. */
      maxFailures: z.number().int().min(1).max(100).default(3),
      /** Hosts a fix may call (the scanner blocks others): exact names or "*.example.com"; loopback is always allowed. */
      allowHosts: z
        .array(z.string().regex(/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'expected a host name such as api.example.com or *.example.com'))
        .default([]),
      /** A backup (untracked and ignored files, or a plain folder) larger than this many MiB is refused before anything changes. */
      maxBackupMiB: z.number().int().min(1).max(1_000_000).default(512),
      targets: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-" (max 64)'),
            /** The folder fixes may change: a git work tree, or a plain folder (relative paths: from the working directory). */
            path: z.string().min(1),
            /** The checks this target serves: restarted after a change, and watched to verify it. */
            checks: z.array(z.string()).min(1, 'expected at least one check the target serves'),
            /** The target's test command (sh -c, in the folder): the ratchet's counts come from its output. */
            test: z.string().min(1).optional(),
            /** A JUnit XML file the test command writes (relative to the folder): read instead of its output. */
            testReport: z.string().min(1).optional(),
            /** Run after a change (and after a rollback) before the checks' processes are restarted. */
            build: z.string().min(1).optional(),
          }),
        )
        .default([])
        .refine((targets) => new Set(targets.map((t) => t.name)).size === targets.length, 'expected each repair target to have its own name'),
    })
    .default({ timeout: 600_000, verifyPatrols: 3, maxFailures: 3, allowHosts: [], maxBackupMiB: 512, targets: [] }),
  /**
   * What Nightshift watches for changes (README, "Changes"): a change is an event, so a failure that follows one can
   * name it. The repair targets are watched too without being listed here.
   */
  watch: z
    .strictObject({
      /** How often every watched thing is looked at. */
      interval: intervalDuration.default(30_000),
      /** Git work trees (HEAD, lockfiles, .env files at the root) or plain folders (lockfiles, .env files). */
      repos: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-" (max 64)'),
            /** Relative paths: from the working directory. */
            path: z.string().min(1),
            /** The checks a change here concerns; empty: all of them. */
            checks: z.array(z.string()).default([]),
          }),
        )
        .default([]),
      /** Extra env or config files: only hashes are kept (per key for KEY=VALUE files), never a value. */
      files: z.array(z.strictObject({ path: z.string().min(1), checks: z.array(z.string()).default([]) })).default([]),
    })
    .default({ interval: 30_000, repos: [], files: [] }),
  checks: z.array(z.unknown()).default([]),
});

export type FileConfig = z.output<typeof fileSchema>;

const checkCommonSchema = z.object(checkCommonShape);
/** The keys every check has, validated (durations in ms). */
export type CheckCommonKeys = z.output<typeof checkCommonSchema>;
const checkCommonKeys = Object.keys(checkCommonShape);

/** A failed validation: every issue, with paths relative to the entry. */
type Invalid = { success: false; issues: z.core.$ZodIssue[] };

/**
 * Validates one entry of `checks:`: the keys every check has against
 * checkCommonShape, every other key against its kind's own `params` schema,
 * whole, with its refinements (an unknown key is reported by that strict
 * schema). `params` is the very object createProbe parses at start, with the
 * same schema, so an entry accepted here cannot fail there. Merging
 * `params.shape` into one object, as this used to, dropped the kind's
 * object-level refinements: a bad log errorPattern passed check-config and
 * crashed start.
 */
export function validateCheckEntry(
  kind: CheckKindName,
  entry: Record<string, unknown>,
): { success: true; common: CheckCommonKeys; params: Record<string, unknown> } | Invalid {
  const params = Object.fromEntries(Object.entries(entry).filter(([key]) => !checkCommonKeys.includes(key)));
  const common = checkCommonSchema.safeParse(Object.fromEntries(Object.entries(entry).filter(([key]) => checkCommonKeys.includes(key))));
  const own = checkKinds[kind].params.safeParse(params);
  if (common.success && own.success) return { success: true, common: common.data, params };
  return { success: false, issues: [...(common.error?.issues ?? []), ...(own.error?.issues ?? [])] };
}

/** Validates one heal step's keys besides `action` with its action's own schema, as createHealStep parses them at start. */
export function validateHealStep(action: HealActionName, step: Record<string, unknown>): { success: true; params: Record<string, unknown> } | Invalid {
  const params = Object.fromEntries(Object.entries(step).filter(([key]) => key !== 'action'));
  const own = healActions[action].params.safeParse(params);
  return own.success ? { success: true, params } : { success: false, issues: own.error.issues };
}

/** A configured check, its kind and heal actions narrowed to the registered names. */
export type CheckConfig = ConfiguredCheck<CheckKindName, HealActionName>;

/** One configured heal step, its action narrowed to the registered names. */
export type HealStepConfig = ConfiguredHealStep<HealActionName>;

/**
 * Secrets from the environment, removed literally wherever they appear:
 * the HTTP token, and each chat platform's secret variables under their own
 * names (DISCORD_TOKEN...; see ChatPlatform.secretVariables). Unset is undefined.
 */
export interface Secrets {
  httpToken?: string | undefined;
  [variable: string]: string | undefined;
}

/** The chat channels that are on (their tokens are set), with their platform settings. */
export type { ChannelSettings };

export type ChatConfig = FileConfig['chat'];

/** The validated, frozen configuration the whole bot runs on. */
export interface Config {
  /** The YAML file read, or "(embedded default)". */
  source: string;
  dataDir: string;
  http: {
    listen: ListenAddress;
    /** Host names accepted in requests besides IP literals and localhost, lower case. */
    allowedHosts: string[];
    /** NIGHTSHIFT_HTTP_TOKEN: every route but /healthz, /ping and /answer needs it; required off loopback. */
    token?: string;
    /** NIGHTSHIFT_AGENT_TOKEN: POST /events (agents' reports) needs it; unset: the route is off. */
    agentToken?: string;
    /** NIGHTSHIFT_ALERTMANAGER_TOKEN: POST /alertmanager needs it; unset: the route is off. */
    alertmanagerToken?: string;
  };
  log: { level: FileConfig['log']['level'] };
  patrol: {
    intervalMs: number;
    timeoutMs: number;
    concurrency: number;
    flapping: { maxChanges: number; windowMs: number };
    healTimeoutMs: number;
  };
  checks: CheckConfig[];
  secrets: Secrets;
  channels: ChannelSettings;
  chat: ChatConfig;
  diagnose: FileConfig['diagnose'];
  briefing: FileConfig['briefing'];
  /** The local model; null when OLLAMA_MODEL is unset (deterministic diagnoses only). */
  ollama: { host: string; model: string } | null;
  timezone: string;
  /** Events older than eventsMs are deleted (hourly, in bounded batches); the audit trail is never pruned. */
  retention: { eventsMs: number };
  /** Scheduled maintenance windows (`maintenance:`), durations in ms. */
  maintenance: Array<{ name: string; cron: string; durationMs: number; match: string; reason?: string | undefined }>;
  /** Level 3: repair targets (paths absolute and real), durations in ms. */
  repair: RepairConfig;
  /** What is watched for changes (`watch:`, plus the repair targets), paths absolute and real. */
  watch: WatchConfig;
  /** The outside dead man's switch; null when `watchdog:` is absent. */
  watchdog: { pingUrl: string; everyMs: number; method: 'GET' | 'POST'; timeoutMs: number } | null;
  /**
   * Valid but risky settings, one line each (a `${VAR}` put unquoted into a
   * shell command line); printed by check-config and logged at start.
   */
  warnings: string[];
}

/** One folder approved fixes may change. */
export interface RepairTarget {
  name: string;
  /** Absolute, symlinks resolved. */
  path: string;
  checks: string[];
  test?: string | undefined;
  testReport?: string | undefined;
  build?: string | undefined;
}

export interface RepairConfig {
  timeoutMs: number;
  verifyPatrols: number;
  maxFailures: number;
  allowHosts: string[];
  maxBackupBytes: number;
  targets: RepairTarget[];
}

/** One folder watched for changes: a git work tree or a plain folder. */
export interface WatchedRepo {
  name: string;
  /** Absolute, symlinks resolved. */
  path: string;
  /** The checks a change here concerns; empty: all of them. */
  checks: string[];
}

/** One extra env or config file watched for changes. */
export interface WatchedFile {
  /** Absolute, symlinks resolved. */
  path: string;
  checks: string[];
}

export interface WatchConfig {
  intervalMs: number;
  /** `watch.repos` only: the repair targets are watched as well (src/changes/plan.ts joins them). */
  repos: WatchedRepo[];
  files: WatchedFile[];
}
