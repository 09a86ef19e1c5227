/**
 * A tripwire for fixes an LLM proposes, run before anyone is asked to
 * approve one: the added lines of a diff, or a command, are matched line by
 * line against SCAN_PATTERNS (and so are the scripts agents generate, whole:
 * the `scripts` check kind). It is not a sandbox and cannot prove a fix
 * safe; it catches the usual ways a fix does more than it shows (runs a
 * string as code, reaches the network, reads secrets, deletes a tree, takes
 * root), so that those need a closer look than a quick "yes".
 *
 * It never throws: the input is untrusted and the caller is a daemon. When a
 * scan cannot finish (the input is too large, or a matcher fails), it says so
 * with a blocking `scan-incomplete` finding rather than passing silently.
 *
 * Every regular expression here stays linear in its input: a repetition
 * either stops at characters it cannot cross (the end of a token, a quote)
 * or is bounded by an explicit {0,n}, so no attempt backtracks far. Long
 * lines are matched in overlapping windows: no attempt sees more than WINDOW
 * characters, and nothing past the first window is missed.
 */

export type ScanSeverity = 'blocking' | 'warning';
export type ScanLanguage = 'python' | 'js' | 'shell';

export interface ScanPattern {
  id: string;
  severity: ScanSeverity;
  reason: string;
  languages: readonly ScanLanguage[];
  /** Also applied to files of no known language (docs, config): the language-independent patterns. */
  anyFile: boolean;
  /** Where the pattern hits in a piece of one line; a hit may carry a more specific reason (e.g. the host). */
  find: (text: string, isAllowedHost: (host: string) => boolean) => readonly { index: number; reason?: string }[];
}

export interface ScanFinding {
  id: string;
  severity: ScanSeverity;
  reason: string;
  file?: string;
  line?: number;
  /** the offending text, clipped to 120 chars */
  excerpt: string;
}

export interface ScanOptions {
  /** Host names (exact, or "*.example.com" suffix) network calls may reach; loopback (localhost, 127.0.0.1, ::1) is always allowed. */
  allowHosts: readonly string[];
}

const WINDOW = 4000;
const OVERLAP = 200;
const STEP = WINDOW - OVERLAP;
/** A fix bigger than this is no fix a person reviews; scanning stops there, and says so. */
const MAX_INPUT_CHARS = 4_000_000;
/** Past this many, more of the same finding tells the approver nothing and only makes the message longer. */
const MAX_FINDINGS_PER_PATTERN = 50;
const EXCERPT_CHARS = 120;
/** How far a pattern looks ahead on the line for what makes a call dangerous or safe (a Loader=, a recursive: true). */
const LOOKAHEAD = 300;

const PY: readonly ScanLanguage[] = ['python'];
const JS: readonly ScanLanguage[] = ['js'];
const SH: readonly ScanLanguage[] = ['shell'];
const ALL: readonly ScanLanguage[] = ['python', 'js', 'shell'];

function rule(id: string, severity: ScanSeverity, languages: readonly ScanLanguage[], reason: string, regex: RegExp, anyFile = false): ScanPattern {
  return {
    id,
    severity,
    reason,
    languages,
    anyFile,
    find: (text) => {
      const match = regex.exec(text);
      return match ? [{ index: match.index }] : [];
    },
  };
}

/** The same as rule(), for the language-independent patterns, which also apply to docs and config files. */
function everywhere(id: string, severity: ScanSeverity, reason: string, regex: RegExp): ScanPattern {
  return rule(id, severity, ALL, reason, regex, true);
}

const URL_AUTHORITY = /\b(?:https?|wss?|ftps?):\/\/([^\s/?#\\'"`<>]*)/gi;

function findHosts(text: string, isAllowedHost: (host: string) => boolean): { index: number; reason: string }[] {
  const hits: { index: number; reason: string }[] = [];
  for (const match of text.matchAll(URL_AUTHORITY)) {
    const host = hostOf(match[1] ?? '');
    // "http://" + host builds a URL the scanner cannot see the end of; a check like startsWith('https://') is no call at all.
    if (host === '' || isAllowedHost(host)) continue;
    hits.push({ index: match.index ?? 0, reason: `reaches ${host}, which is not in repair.allowHosts` });
  }
  return hits;
}

const REMOTE_COMMAND = new RegExp(String.raw`(?<![\w.-])(ssh|scp|sftp|rsync|telnet|nc|ncat)\s+([^|;&]{0,${LOOKAHEAD}})`, 'g');
const TAKES_HOST_FIRST = new Set(['ssh', 'sftp', 'telnet', 'nc', 'ncat']);

/**
 * The hosts a remote-shell command names: user@host and host:path anywhere,
 * and for ssh-like commands the first plain argument. Option values can be
 * mistaken for the host; the command is remote either way.
 */
function findRemoteHosts(text: string, isAllowedHost: (host: string) => boolean): { index: number; reason: string }[] {
  const hits: { index: number; reason: string }[] = [];
  for (const match of text.matchAll(REMOTE_COMMAND)) {
    let expectHost = TAKES_HOST_FIRST.has(match[1] ?? '');
    for (const token of (match[2] ?? '').split(/\s+/)) {
      const word = token.replace(/^['"]+|['"]+$/g, '');
      if (word === '' || word.startsWith('-')) continue;
      let host = '';
      const at = word.lastIndexOf('@');
      const colon = word.indexOf(':');
      if (at >= 0) host = hostOf(word.slice(at + 1));
      else if (colon > 0 && !word.slice(0, colon).includes('/')) host = hostOf(word);
      else if (expectHost && !/^\d+$/.test(word) && !/[/=$]/.test(word)) host = hostOf(word);
      if (host === '') continue;
      expectHost = false;
      if (!isAllowedHost(host)) hits.push({ index: match.index ?? 0, reason: `connects to ${host}, which is not in repair.allowHosts` });
    }
  }
  return hits;
}

/** The host of a URL's authority: after any user:password@ (so "allowed@evil" is evil), without the port. */
function hostOf(authority: string): string {
  let host = authority.slice(authority.lastIndexOf('@') + 1);
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return (end > 0 ? host.slice(0, end + 1) : host).toLowerCase();
  }
  const colon = host.indexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  // Prose and markup close around a URL: "(see https://example.com)." ends at the host.
  let end = host.length;
  while (end > 0 && '.,;)]>!'.includes(host[end - 1]!)) end--;
  return host.slice(0, end).toLowerCase();
}

/**
 * Severity: blocking when the fix can do harm that reading the diff does not
 * show — run text as code or through a shell, load native code or untrusted
 * objects, read secrets, reach an unlisted host, change privileges or
 * ownership, delete a tree, hide text from the reader. Warning when it is
 * only suspect or fragile in a daemon (waiting on a terminal, compiling a
 * string, a string timer): worth a look, not a refusal.
 */
export const SCAN_PATTERNS: readonly ScanPattern[] = [
  // Code injection: the code that runs is not the code in the diff.
  rule('py-eval', 'blocking', PY, 'eval() runs a string as Python code', /(?<![\w.])eval\s*\(/),
  rule('py-exec', 'blocking', PY, 'exec() runs a string as Python code', /(?<![\w.])exec\s*\(/),
  rule('py-compile', 'warning', PY, 'compile() turns a string into code, usually on its way to exec()', /(?<![\w.])compile\s*\(/),
  rule(
    'py-dynamic-import',
    'blocking',
    PY,
    '__import__() / importlib.import_module() of a computed name loads a module the diff does not name',
    /\b(?:__import__|import_module)\s*\(\s*(?!'[\w.]*'\s*[,)]|"[\w.]*"\s*[,)])/,
  ),
  rule('js-eval', 'blocking', JS, 'eval() runs a string as JavaScript', /(?<![\w$.])eval\s*\(|\b(?:globalThis|window|global)\.eval\s*\(/),
  rule('js-function-constructor', 'blocking', JS, 'new Function() / Function() compiles a string into JavaScript', /(?<![\w$.])Function\s*\(/),
  rule(
    'js-dynamic-import',
    'blocking',
    JS,
    'import() / require() of a computed name loads a module the diff does not name',
    /(?<![\w$.])(?:import|require)\s*\(\s*(?!'[^'\\\n]*'\s*[,)]|"[^"\\\n]*"\s*[,)]|`[^`$\\]*`\s*[,)])/,
  ),
  rule(
    'js-vm-run',
    'blocking',
    JS,
    'node:vm runs a string as JavaScript (and is no security boundary)',
    /\b(?:runIn(?:New|This)?Context|compileFunction)\s*\(|\bnew\s+vm\.Script\b|\bvm\.Script\s*\(/,
  ),
  rule('js-string-timer', 'warning', JS, 'setTimeout / setInterval with a string evaluates it as code', /\b(?:setTimeout|setInterval)\s*\(\s*['"`]/),

  // Shell spawns: a string handed to a shell is code too, and quoting mistakes make it injectable.
  rule(
    'py-os-system',
    'blocking',
    PY,
    'os.system / os.popen (and os.exec* / os.spawn*) run commands outside the reviewed code',
    /\bos\.(?:system|popen|exec[lv]p?e?|spawn[lv]p?e?|posix_spawnp?)\s*\(|\bcommands\.get(?:status)?output\s*\(/,
  ),
  rule(
    'py-subprocess-shell',
    'blocking',
    PY,
    'subprocess with shell=True (or sh -c) runs a string through the shell',
    /\bshell\s*=\s*True\b|\bcreate_subprocess_shell\s*\(|\bsubprocess\.get(?:status)?output\s*\(|['"](?:(?:\/usr)?\/bin\/)?(?:ba|z|da|k)?sh['"]\s*,\s*['"]-c['"]/,
  ),
  rule('py-pty-spawn', 'blocking', PY, 'pty.spawn starts an interactive program under a pseudo-terminal', /\bpty\.spawn\s*\(/),
  rule(
    'js-child-process-exec',
    'blocking',
    JS,
    'child_process exec / execSync run a string through the shell (execFile does not)',
    /(?<![\w$.])exec(?:Sync)?\s*\(|\.execSync\s*\(|\b(?:child_process|childProcess|cp)\.exec\s*\(|['"](?:node:)?child_process['"]\s*\)\s*\.exec(?:Sync)?\b|\bpromisify\s*\(\s*(?:\w+\.)?exec\s*\)/,
  ),
  rule(
    'js-spawn-shell',
    'blocking',
    JS,
    'spawn with shell: true (or sh -c) runs a string through the shell',
    /\bshell\s*:\s*(?:true\b|['"`])|['"](?:(?:\/usr)?\/bin\/)?(?:ba|z|da|k)?sh['"]\s*,\s*\[\s*['"]-c['"]/,
  ),
  rule('shell-eval', 'blocking', SH, 'eval runs a string as shell code', /(?<![\w./-])eval(?=\s|$)/),
  rule(
    'shell-c-variable',
    'blocking',
    SH,
    'sh -c (or python -c, node -e) with an expanded variable runs whatever the variable holds',
    /(?<![\w.-])(?:(?:ba|z|da|k)?sh\s+-[a-zA-Z]*c[a-zA-Z]*|(?:python[\d.]*|node|perl|ruby)\s+-[ce])\s+(?:"[^"]*[$`]|[$`])/,
  ),
  rule(
    'pipe-to-shell',
    'blocking',
    ALL,
    'piping into a shell runs code nobody reviewed (curl ... | sh)',
    /(?<!\|)\|(?!\|)\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:(?:\/usr)?\/bin\/)?(?:ba|z|da|k|fi)?sh(?![\w.-])|(?<![\w.-])(?:(?:ba|z|da|k)?sh|source|\.)\s+<\(/,
  ),

  // Native code and unsafe deserialisation: loading them runs code that is not in the diff at all.
  rule('py-native-code', 'blocking', PY, 'ctypes / cffi load native code and call it unchecked', /\b(?:ctypes|cffi)\b/),
  rule(
    'py-pickle-load',
    'blocking',
    PY,
    'unpickling runs code embedded in the data',
    new RegExp(
      String.raw`\b(?:_?pickle|cPickle|dill|cloudpickle|joblib)\.(?:loads?|Unpickler)\b|\bjsonpickle\.decode\b|\bread_pickle\s*\(|` +
        String.raw`\btorch\.load\s*\((?!.{0,${LOOKAHEAD}}\bweights_only\s*=\s*True)`,
    ),
  ),
  rule(
    'py-shelve-open',
    'blocking',
    PY,
    'shelve stores pickles: opening one runs code embedded in it',
    /\bshelve\.(?:open|Shelf|DbfilenameShelf|BsdDbShelf)\b/,
  ),
  rule('py-marshal-load', 'blocking', PY, 'marshal.load(s) reads code objects and is not safe against crafted data', /\bmarshal\.loads?\s*\(/),
  rule(
    'py-yaml-load',
    'blocking',
    PY,
    'yaml.load without SafeLoader can construct arbitrary Python objects (use yaml.safe_load)',
    new RegExp(
      String.raw`\byaml\.(?:load|load_all)\s*\((?!.{0,${LOOKAHEAD}}\b(?:C?Safe|Base)Loader\b)|\byaml\.(?:unsafe_load|unsafe_load_all|full_load|full_load_all)\s*\(`,
    ),
  ),
  rule(
    'js-native-addon',
    'blocking',
    JS,
    'process.dlopen / FFI load native code into the process',
    /\bprocess\.dlopen\b|['"](?:ffi-napi|node-ffi|ffi|ref-napi|koffi)['"]|\brequire\s*\(\s*['"][^'"]*\.node['"]/,
  ),

  // Recursive deletes: one wrong path and the damage is far bigger than the fix.
  rule('py-rmtree', 'blocking', PY, 'shutil.rmtree deletes a whole tree', /\brmtree\s*\(/),
  everywhere(
    'rm-recursive',
    'blocking',
    'rm -r / rm -rf (or find -delete) deletes a whole tree',
    new RegExp(
      String.raw`(?<![\w.-])(?<!\bgit\s+)rm\s+(?:-[\w-]*\s+)*?(?:-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)(?![\w-])|` +
        String.raw`['"]rm['"]\s*,\s*\[?\s*(?:['"]-[\w-]*['"]\s*,\s*)*?['"](?:-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)['"]|` +
        String.raw`\bfind\s[^|;&]{0,${LOOKAHEAD}}\s-delete\b`,
    ),
  ),
  rule(
    'js-rm-recursive',
    'blocking',
    JS,
    'fs.rm / rmSync with recursive: true (or rimraf, fs-extra remove) deletes a whole tree',
    new RegExp(
      String.raw`\b(?:rm|rmdir)(?:Sync)?\s*\([^;]{0,${LOOKAHEAD}}?\brecursive\s*:\s*true\b|\brimraf\b|\b(?:fse|fs)\.(?:remove|removeSync|emptyDir|emptyDirSync)\s*\(|` +
        String.raw`\brecursive\s*:\s*true\b[^;]{0,${LOOKAHEAD}}?\bforce\s*:\s*true\b|\bforce\s*:\s*true\b[^;]{0,${LOOKAHEAD}}?\brecursive\s*:\s*true\b`,
    ),
  ),

  // Secrets: a fix has no business reading them, and what it reads it can send.
  everywhere(
    'secret-dotenv',
    'blocking',
    'reads a .env file, where secrets live (templates such as .env.example are fine)',
    /(?<![\w.$-])\.env(?:\.(?!example\b|sample\b|template\b|dist\b|defaults?\b)[\w-]+)*(?![\w.-])/,
  ),
  everywhere(
    'secret-key-file',
    'blocking',
    'reads a private key (id_rsa, ~/.ssh, *.pem, *.key)',
    /\bid_(?:rsa|dsa|ecdsa|ed25519)(?![\w.]*\.pub\b|\w)|(?<![\w-])\.ssh(?![\w-])|(?<![\w.-])[\w.-]*\.(?:pem|p12|pfx|ppk|jks|keystore)(?![\w.])|['"`/][\w.-]*\.key(?![\w.])/,
  ),
  everywhere(
    'secret-credentials-file',
    'blocking',
    'reads a credentials, secrets or token file',
    new RegExp(
      String.raw`(?<![\w.-])[\w.-]*(?:credentials?|secrets?|tokens?)\.(?:json|ya?ml|txt|toml|ini|cfg|conf|env|key|csv)(?![\w.])|` +
        String.raw`(?<![\w-])\.(?:git-credentials|netrc|pgpass|pypirc)(?![\w-])|` +
        String.raw`\.aws\/(?:credentials|config)\b|\.docker\/config\.json\b|\.kube\/config\b|\/run\/secrets\/|\.config\/gh\/hosts\.yml\b|\bgcloud\/\w*credentials|` +
        String.raw`(?<![\w.:\/-])(?:~|\.{1,2}|\/(?:etc|var|run|home|root|opt|srv|tmp|mnt|data))\/(?:[\w.-]+\/){0,10}(?:credentials|secrets?|tokens?)(?![\w\/.-])`,
    ),
  ),
  everywhere(
    'secret-system-file',
    'blocking',
    'reads a system secret (/etc/shadow, sudoers, host keys, another process environment)',
    /\/etc\/(?:g?shadow|sudoers|master\.passwd|security\/opasswd)\b|\/proc\/(?:self|\d+|\$\w+|\$\{\w+\})\/environ\b|\/etc\/ssh\/ssh_host_\w+_key(?![\w.])/,
  ),

  // Network: a host outside the list is somewhere data can go to, or code come from.
  {
    id: 'network-host',
    severity: 'blocking',
    reason: 'reaches a host that is not in repair.allowHosts',
    languages: ALL,
    anyFile: true,
    find: findHosts,
  },
  {
    id: 'network-remote-shell',
    severity: 'blocking',
    reason: 'ssh / scp / rsync / nc to a host that is not in repair.allowHosts',
    languages: SH,
    anyFile: false,
    find: findRemoteHosts,
  },

  // Privileges: a fix runs as the bot's user and must stay that way.
  everywhere('sudo', 'blocking', 'sudo / doas / pkexec run as root', /(?<![\w.-])(?:sudo|doas|pkexec)(?![\w.-])/),
  everywhere(
    'su-switch-user',
    'blocking',
    'su switches to another user',
    /(?<![\w.-])su\s+(?:-(?=\s|$|['"])|-[lcm]\b|--login\b|--command\b|root\b|[a-z_][\w-]*\s+-c\b)|(?<![\w./-])su(?=\s*(?:$|[;&|]))/,
  ),
  everywhere(
    'chmod-world-writable',
    'blocking',
    'chmod 777 / o+w makes files writable by every user',
    new RegExp(
      String.raw`(?<![\w.-])chmod\s+(?:-[\w-]+\s+)*(?:[0-7]{0,3}[2367](?![0-7])|[ugoa]*[ao][ugoa]*[+=][rwxXst]*w)|` +
        String.raw`\bchmod(?:Sync)?\s*\([^,)]{0,${LOOKAHEAD}},\s*['"]?(?:0o?)?[0-7]{0,3}[2367]['"]?\s*[,)]|\bS_I(?:WOTH|RWXO)\b`,
    ),
  ),
  everywhere(
    'setuid',
    'blocking',
    'setuid / setgid (a call, or chmod u+s / 4755) changes who a process runs as',
    /\bset(?:e|re|res)?[ug]id\s*\(|(?<![\w.-])chmod\s+(?:-[\w-]+\s+)*(?:[ugoa]*[+=][rwxXt]*s|[2-7][0-7]{3}(?![0-7]))|\bS_IS[UG]ID\b/,
  ),
  everywhere('chown', 'blocking', 'chown / chgrp change who owns files', /(?<![\w-])[lf]?ch(?:own|grp)(?:Sync)?(?![\w-])/),

  // A daemon has no terminal: a prompt waits forever (or fails at once on a closed stdin).
  rule('py-input', 'warning', PY, 'input() / getpass() wait for a terminal the daemon does not have', /(?<![\w.])(?:raw_)?input\s*\(|(?<!\w)getpass\s*\(/),
  rule(
    'js-prompt',
    'warning',
    JS,
    'prompting on stdin waits for a terminal the daemon does not have',
    new RegExp(
      String.raw`(?<![\w$.])prompt\s*\(|\bcreateInterface\s*\([^;]{0,${LOOKAHEAD}}?\bprocess\.stdin\b|\binput\s*:\s*process\.stdin\b|\b(?:rl|readline)\.question\s*\(`,
    ),
  ),

  // Text that reads one way and runs another ("Trojan Source").
  everywhere('bidi-control', 'blocking', 'Unicode bidirectional controls make the code display differently from how it runs', /[\u202A-\u202E\u2066-\u2069]/),

  // Produced by the scan itself, never by a line: it could not look at everything.
  {
    id: 'scan-incomplete',
    severity: 'blocking',
    reason: 'the scan did not finish, so the fix was not fully checked',
    languages: ALL,
    anyFile: true,
    find: () => [],
  },
];

/**
 * Scans the added lines ('+' lines, not the '+++' header) of a unified diff.
 * A file's language comes from its extension (.py python; .js .mjs .cjs .ts
 * .tsx .jsx .mts .cts js; .sh .bash .zsh and no extension shell), or from a
 * "#!" first line; files of any other kind (.md, .json, .yml) get only the
 * language-independent patterns (secrets, network, privileges, recursive
 * deletes). `line` is the line in the new file, counted from the hunk header.
 */
export function scanDiff(diff: string, options: ScanOptions): ScanFinding[] {
  const scan = new Scan(options);
  try {
    if (typeof diff !== 'string') return scan.findings;
    const lines = scan.bounded(diff).split('\n');
    let file: string | undefined;
    let scope: Scope = 'any';
    let newLine: number | undefined;
    // What the current hunk header promised; git apply reads a hunk by these counts, and so does this.
    let oldLeft = 0;
    let newLeft = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = stripCr(lines[i]!);
      if (oldLeft > 0 || newLeft > 0) {
        const lenient = oldLeft === Infinity;
        if (!(lenient && startsNextFile(lines, i))) {
          const mark = line[0];
          if (mark === '+' || mark === ' ' || line === '') {
            const text = line.slice(1);
            if (newLine === 1) scope = shebangScope(text) ?? scope;
            if (mark === '+') scan.line(text, scope, file, newLine);
            else oldLeft--;
            newLeft--;
            if (newLine !== undefined) newLine++;
            continue;
          }
          if (mark === '-') {
            oldLeft--;
            continue;
          }
          if (mark === '\\') continue; // "\ No newline at end of file"
        }
        // The hunk ended before its counts did: what follows is read as headers again.
        oldLeft = newLeft = 0;
      }
      if (line.startsWith('+++ ')) {
        file = pathOf(line.slice(4));
        scope = file === undefined ? 'any' : scopeOfPath(file);
      } else if (line.startsWith('diff --git ')) {
        file = undefined;
        scope = 'any';
      } else if (line.startsWith('@@')) {
        const header = /^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
        if (header) {
          oldLeft = Number(header[1] ?? 1);
          newLine = Number(header[2]);
          newLeft = Number(header[3] ?? 1);
        } else {
          // A hunk without numbers (LLMs write "@@ ... @@"): git rejects it, but read it anyway, to its end.
          oldLeft = newLeft = Infinity;
          newLine = undefined;
        }
      } else if (line.startsWith('+')) {
        // An added line outside any hunk is not applied by git, but a lenient patch tool might: scan it too.
        scan.line(line.slice(1), scope, file, undefined);
      }
    }
  } catch {
    scan.incomplete('the diff could not be read to its end');
  }
  return scan.findings;
}

/** Scans a shell command line (the command a fix proposes to run). */
export function scanCommand(command: string, options: ScanOptions): ScanFinding[] {
  const scan = new Scan(options);
  try {
    if (typeof command !== 'string') return scan.findings;
    // sh joins "\"-continued lines before it runs them; "rm \<newline> -rf /" is one command.
    const joined = scan.bounded(command).replace(/\\\r?\n/g, ' ');
    for (const line of joined.split('\n')) scan.line(stripCr(line), 'shell', undefined, undefined);
  } catch {
    scan.incomplete('the command could not be read to its end');
  }
  return scan.findings;
}

/**
 * Scans a whole source file (a script an agent generated), every line but
 * comment-only ones. Its language comes from `file`'s extension or "#!" first
 * line, as in scanDiff; `line` counts from 1. In shell, "\"-continued lines
 * are read as the one command sh runs, reported at the line it starts on.
 */
export function scanSource(text: string, file: string, options: ScanOptions): ScanFinding[] {
  const scan = new Scan(options);
  try {
    if (typeof text !== 'string' || typeof file !== 'string') return scan.findings;
    const lines = scan
      .bounded(text)
      .replace(/^\uFEFF/, '')
      .split('\n');
    const scope = shebangScope(lines[0] ?? '') ?? scopeOfPath(file);
    for (let i = 0; i < lines.length; i++) {
      const start = i;
      let line = stripCr(lines[i]!);
      while (scope === 'shell' && line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${stripCr(lines[++i]!)}`;
      scan.line(line, scope, file, start + 1);
    }
  } catch {
    scan.incomplete('the file could not be read to its end');
  }
  return scan.findings;
}

/** True when any finding is blocking. */
export function hasBlocking(findings: readonly ScanFinding[]): boolean {
  try {
    return findings.some((f) => f?.severity === 'blocking');
  } catch {
    return false; // not a list of findings: nothing found
  }
}

/** A known language; 'other' for a file of none (docs, config); 'any' when the diff does not say which file. */
type Scope = ScanLanguage | 'other' | 'any';

const PATTERNS_BY_SCOPE: ReadonlyMap<Scope, readonly ScanPattern[]> = new Map<Scope, readonly ScanPattern[]>([
  ['python', SCAN_PATTERNS.filter((p) => p.languages.includes('python'))],
  ['js', SCAN_PATTERNS.filter((p) => p.languages.includes('js'))],
  ['shell', SCAN_PATTERNS.filter((p) => p.languages.includes('shell'))],
  ['other', SCAN_PATTERNS.filter((p) => p.anyFile)],
  ['any', SCAN_PATTERNS],
]);

const SCAN_INCOMPLETE = SCAN_PATTERNS.find((p) => p.id === 'scan-incomplete')!;

class Scan {
  readonly findings: ScanFinding[] = [];
  private readonly perPattern = new Map<string, number>();
  private readonly isAllowedHost: (host: string) => boolean;

  constructor(options: ScanOptions | undefined) {
    this.isAllowedHost = hostAllowList(options?.allowHosts);
  }

  bounded(input: string): string {
    if (input.length <= MAX_INPUT_CHARS) return input;
    this.incomplete(`only the first ${MAX_INPUT_CHARS} of ${input.length} characters were scanned`);
    return input.slice(0, MAX_INPUT_CHARS);
  }

  incomplete(why: string): void {
    if (this.findings.some((f) => f.id === SCAN_INCOMPLETE.id)) return;
    this.findings.push({ id: SCAN_INCOMPLETE.id, severity: SCAN_INCOMPLETE.severity, reason: `${SCAN_INCOMPLETE.reason}: ${why}`, excerpt: '' });
  }

  line(text: string, scope: Scope, file: string | undefined, line: number | undefined): void {
    if (text.trim() === '' || isComment(text, scope)) return;
    const reported = new Set<string>();
    for (const pattern of PATTERNS_BY_SCOPE.get(scope) ?? SCAN_PATTERNS) {
      for (let start = 0; ; start += STEP) {
        const last = start + WINDOW >= text.length;
        for (const hit of this.find(pattern, text.slice(start, start + WINDOW))) {
          // A hit in the overlap is found again, whole, by the next window.
          if (!last && hit.index >= STEP) continue;
          const reason = hit.reason ?? pattern.reason;
          const key = `${pattern.id}\n${reason}`;
          if (reported.has(key)) continue;
          reported.add(key);
          this.add(pattern, reason, excerptOf(text, start + hit.index), file, line);
        }
        if (last) break;
      }
    }
  }

  private find(pattern: ScanPattern, text: string): readonly { index: number; reason?: string }[] {
    if ((this.perPattern.get(pattern.id) ?? 0) >= MAX_FINDINGS_PER_PATTERN) return [];
    try {
      return pattern.find(text, this.isAllowedHost);
    } catch {
      this.incomplete(`the ${pattern.id} check failed`);
      return [];
    }
  }

  private add(pattern: ScanPattern, reason: string, excerpt: string, file: string | undefined, line: number | undefined): void {
    const count = this.perPattern.get(pattern.id) ?? 0;
    if (count >= MAX_FINDINGS_PER_PATTERN) return;
    this.perPattern.set(pattern.id, count + 1);
    const finding: ScanFinding = { id: pattern.id, severity: pattern.severity, reason, excerpt };
    if (file !== undefined) finding.file = file;
    if (line !== undefined) finding.line = line;
    this.findings.push(finding);
  }
}

function hostAllowList(allowHosts: readonly string[] | undefined): (host: string) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of Array.isArray(allowHosts) ? allowHosts : []) {
    if (typeof entry !== 'string') continue;
    const host = normalizeHost(entry);
    // "*.example.com" is its subdomains, as in a TLS certificate: example.com itself is listed on its own.
    if (host.startsWith('*.')) suffixes.push(host.slice(1));
    else if (host !== '') exact.add(host);
  }
  return (raw) => {
    const host = normalizeHost(raw);
    return isLoopback(host) || exact.has(host) || suffixes.some((suffix) => host.endsWith(suffix) && host.length > suffix.length);
  };
}

function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Comment-only lines are skipped: a comment that mentions eval runs nothing. Docs have no comments to skip. */
function isComment(text: string, scope: Scope): boolean {
  if (scope === 'other') return false;
  const t = text.trimStart();
  const hash = t.startsWith('#');
  // "* " and "*/" are block-comment continuations; "*name(" would be a generator method.
  const slashes = t.startsWith('//') || t.startsWith('/*') || t.startsWith('* ') || t.startsWith('*/') || t === '*' || t.startsWith('#!');
  if (scope === 'js') return slashes;
  if (scope === 'any') return hash || slashes;
  return hash;
}

const EXTENSIONS: ReadonlyMap<string, ScanLanguage> = new Map<string, ScanLanguage>([
  ['py', 'python'],
  ['pyw', 'python'],
  ['js', 'js'],
  ['mjs', 'js'],
  ['cjs', 'js'],
  ['ts', 'js'],
  ['tsx', 'js'],
  ['jsx', 'js'],
  ['mts', 'js'],
  ['cts', 'js'],
  ['sh', 'shell'],
  ['bash', 'shell'],
  ['zsh', 'shell'],
]);

/** No extension (bin/deploy, Makefile, .bashrc) is read as shell: most such files that run are scripts. */
function scopeOfPath(path: string): Scope {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'shell';
  return EXTENSIONS.get(name.slice(dot + 1).toLowerCase()) ?? 'other';
}

/** The language a "#!" first line names, whatever the file is called: that is what runs it. */
function shebangScope(text: string): ScanLanguage | null {
  if (!text.startsWith('#!')) return null;
  const words = text.slice(2).trim().split(/\s+/).slice(0, 8);
  const base = (word: string | undefined) => (word ?? '').slice((word ?? '').lastIndexOf('/') + 1);
  let program = base(words[0]);
  if (program === 'env') program = base(words.slice(1).find((w) => !w.startsWith('-') && !w.includes('=')));
  if (/^(?:ba|z|da|k|a)?sh$/.test(program)) return 'shell';
  if (/^python[\d.]*$/.test(program)) return 'python';
  if (/^(?:node|nodejs|deno|bun|tsx|ts-node)$/.test(program)) return 'js';
  return null;
}

/** A '+++ ' header's path: b/ prefix, quotes and a trailing timestamp removed; /dev/null (a deletion) is no file. */
function pathOf(header: string): string | undefined {
  let path = header.replace(/\t.*$/, '').trim();
  if (path.length >= 2 && path.startsWith('"') && path.endsWith('"')) path = path.slice(1, -1);
  if (path === '/dev/null' || path === '') return undefined;
  return path.startsWith('b/') ? path.slice(2) : path;
}

/** In a hunk without counts, a "--- / +++ / @@" run is the next file's header, not a removed and an added line. */
function startsNextFile(lines: readonly string[], i: number): boolean {
  return (lines[i]?.startsWith('--- ') ?? false) && (lines[i + 1]?.startsWith('+++ ') ?? false) && (lines[i + 2]?.startsWith('@@') ?? false);
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The line around a hit, clipped, with control and bidi characters made visible so the excerpt cannot hide anything either. */
function excerptOf(text: string, index: number): string {
  const trimmed = text.trim();
  const from = Math.max(0, index - 20);
  const piece = trimmed.length <= EXCERPT_CHARS ? trimmed : text.slice(from, from + EXCERPT_CHARS).trim();
  let visible = '';
  for (const ch of piece) {
    const code = ch.codePointAt(0) ?? 0;
    if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) visible += `<U+${code.toString(16).toUpperCase()}>`;
    else if (code === 0x09) visible += ' ';
    else if (code < 0x20 || code === 0x7f) visible += '?';
    else visible += ch;
    if (visible.length >= EXCERPT_CHARS) break;
  }
  return visible.slice(0, EXCERPT_CHARS);
}
