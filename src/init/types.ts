import type { CheckKindName } from '../checks/index.js';
import type { Machine } from './machine.js';
import type { NameRegistry } from './names.js';

/** One heal step as written: `restart`, or `{ action, ...keys }`. */
export type HealDraft = 'restart' | ({ action: string } & Record<string, unknown>);

/** A dependency of a proposed check; `guess` says why init thinks so (written as a `# guess:` comment). */
export interface DependencyDraft {
  name: string;
  guess?: string;
}

/** A check init proposes, before it is rendered into nightshift.yml. */
export interface CheckDraft {
  name: string;
  kind: CheckKindName;
  /** Lines written above the check: what was found and why the check looks like this. */
  notes: string[];
  /** The kind's own keys, in the order they are written. */
  params: Record<string, unknown>;
  severity?: 'optional';
  heal: HealDraft[];
  dependsOn: DependencyDraft[];
}

/** What an app's environment, arguments or log mention (never their values). */
export interface Mentions {
  /** Ports named in a URL or address (":3000") or a *PORT variable. */
  ports: Set<number>;
  /** Where each port was seen: "environment", "arguments", "log". */
  where: Map<number, string>;
  /** An OLLAMA_* variable is set. */
  ollamaVariable: boolean;
}

/** One thing found on the machine, with the check proposed for it. */
export interface FoundThing {
  /** How the prompt lists it ("api", "backup (daily)"). */
  label: string;
  check: CheckDraft;
  /** Its processes (pm2 instance pids, a unit's MainPID): listening sockets owned by them or their children are its ports. */
  pids: number[];
  /** A systemd unit's name, for sockets whose process sits in its cgroup. */
  unit?: string;
  /** Docker's published host ports, for sockets held by docker-proxy. */
  publishedPorts?: number[];
  /** Log files it writes (pm2's out and err logs). */
  logs: string[];
  /** Its working directory: *.log files under it are looked at. */
  cwd?: string;
  /** Filled from its processes' environment and arguments, and its logs, for dependency guesses. */
  mentions?: Mentions;
  /** Ports it listens on (set by the ports source). */
  ports: number[];
  /** A line for the next steps printed at the end (a cron job's ping). */
  nextStep?: string;
  /** Ollama's own server: apps that name OLLAMA_* or its port depend on it. */
  ollamaPort?: number;
}

/** What one source reports. */
export interface SourceReport {
  things: FoundThing[];
  /** One line saying what it could not look at (and why); absent when it looked. */
  problem?: string;
}

/** What a source may use. */
export interface SourceContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  home: string;
  names: NameRegistry;
  machine: Machine;
  /** Everything the sources before this one found. */
  earlier: readonly FoundThing[];
  /** How long the log source waits between its two looks at each file's size (as its labels say it). */
  growthWaitMs: number;
  /** Waits between the two looks; by default `growthWaitMs` of sleep (a test grows a file in it instead). */
  betweenLooks?: () => Promise<void>;
  /** Where system logs are looked for (*.log): /var/log. */
  systemLogDir: string;
}

/** A place init looks at: pm2, systemd, ports... Registered in sources/index.ts; its look never throws. */
export interface Source {
  id: string;
  /** How the prompt names one and several things ("pm2 app", "pm2 apps"). */
  noun: [string, string];
  /** The question after the list ("Watch them?"). */
  question?: string;
  look(ctx: SourceContext): Promise<SourceReport>;
}
