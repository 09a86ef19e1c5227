#!/bin/sh
# Pages the operator on ntfy when systemd gives up on Nightshift. nightshift-alert@.service runs it, started by
# nightshift.service's OnFailure= (a crash loop that hit the start limit, or exit 2, which no restart can fix).
#
#   nightshift-alert.sh [--user] UNIT
#
# NTFY_URL, NTFY_TOPIC and NTFY_TOKEN (optional) come from .env in the working directory, read the way Nightshift
# reads it; variables already in the environment win, as they do for Nightshift. The file is parsed, never sourced:
# it holds secrets and is data, not a script. Nothing from it is printed, and its values (but the harmless ones
# named in PLAIN below) are blanked out of the journal lines the message quotes. POSIX sh, curl and awk.
set -u

scope=
if [ "${1:-}" = --user ]; then
  scope=--user
  shift
fi
unit=${1:-${MONITOR_UNIT:-nightshift.service}}
case $unit in *.*) ;; *) unit=$unit.service ;; esac
env_file=./.env
# Settings that are not secret: their values may stay in the quoted journal lines (an address, a path, a model).
PLAIN=' NIGHTSHIFT_CONFIG NIGHTSHIFT_DATA_DIR NIGHTSHIFT_HTTP TZ OLLAMA_HOST OLLAMA_MODEL '

# One awk program for both uses of .env, so that both read it alike: `value` prints the last value of the key in
# ENVIRON["WANT"]; `redact` reads .env (ENVIRON["ENV_FILE"]) and then copies its input with the values of every
# key not in PLAIN, 4 characters or longer, replaced by [redacted], longest first, each line cut to 300 characters.
# The format: KEY=VALUE lines, `export ` allowed, `#` comments and blank lines skipped, quotes '...', "...", `...`
# removed, an unquoted value's ` # comment` cut (src/util/env-file.ts). A quoted value that spans lines is skipped.
ENV_AWK='
function closing(text, quote,    i, c) {
  for (i = 1; i <= length(text); i++) {
    c = substr(text, i, 1)
    if (quote == "\"" && c == "\\") i++
    else if (c == quote) return i
  }
  return 0
}
function parse(line,    eq, q, rest, end) {
  sub(/\r$/, "", line)
  if (open != "") { if (closing(line, open)) open = ""; return 0 }
  if (line ~ /^[ \t]*(#|$)/) return 0
  sub(/^[ \t]+/, "", line)
  sub(/^export[ \t]+/, "", line)
  eq = index(line, "=")
  if (eq < 2) return 0
  KEY = substr(line, 1, eq - 1)
  sub(/[ \t]+$/, "", KEY)
  if (KEY !~ /^[A-Za-z_][A-Za-z0-9_.-]*$/) return 0
  VALUE = substr(line, eq + 1)
  sub(/^[ \t]+/, "", VALUE)
  q = substr(VALUE, 1, 1)
  if (q == "\"" || q == "\047" || q == "`") {
    rest = substr(VALUE, 2)
    end = closing(rest, q)
    if (!end) { if (q != "\047") open = q; return 0 }
    VALUE = substr(rest, 1, end - 1)
  } else {
    sub(/[ \t]+#.*$/, "", VALUE)
    sub(/[ \t]+$/, "", VALUE)
  }
  return 1
}
BEGIN { open = ""; n = 0; found = 0 }
mode == "value" { if (parse($0) && KEY == ENVIRON["WANT"]) { result = VALUE; found = 1 }; next }
mode == "redact" && FILENAME == ENVIRON["ENV_FILE"] {
  if (parse($0) && length(VALUE) >= 4 && index(ENVIRON["PLAIN"], " " KEY " ") == 0) secret[++n] = VALUE
  next
}
mode == "redact" {
  if (!sorted) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (length(secret[j]) > length(secret[i])) { t = secret[i]; secret[i] = secret[j]; secret[j] = t }
    sorted = 1
  }
  line = $0
  for (i = 1; i <= n; i++) {
    out = ""
    while ((at = index(line, secret[i])) > 0) { out = out substr(line, 1, at - 1) "[redacted]"; line = substr(line, at + length(secret[i])) }
    line = out line
  }
  if (length(line) > 300) line = substr(line, 1, 300) "..."
  print line
}
END { if (mode == "value" && found) printf "%s", result }
'

# The value of $1: from the environment when set there, else from .env.
setting() {
  eval "from_env=\${$1:-}"
  if [ -n "$from_env" ]; then
    printf '%s' "$from_env"
  elif [ -r "$env_file" ]; then
    WANT=$1 awk -v mode=value "$ENV_AWK" "$env_file"
  fi
}

redact() {
  if [ -r "$env_file" ]; then
    ENV_FILE=$env_file PLAIN=$PLAIN awk -v mode=redact "$ENV_AWK" "$env_file" -
  else
    ENV_FILE= PLAIN=$PLAIN awk -v mode=redact "$ENV_AWK" -
  fi
}

ntfy_url=$(setting NTFY_URL)
topic=$(setting NTFY_TOPIC)
token=$(setting NTFY_TOKEN)
if [ -z "$ntfy_url" ] || [ -z "$topic" ]; then
  where="$(pwd)/.env"
  [ -r "$env_file" ] || where="$where (not found)"
  echo "nightshift-alert: cannot page about $unit: NTFY_URL and NTFY_TOPIC must both be set in $where" >&2
  exit 2
fi
case $topic in
  *[!A-Za-z0-9_-]*) echo "nightshift-alert: cannot page about $unit: NTFY_TOPIC may hold only letters, digits, - and _" >&2; exit 2 ;;
esac

# From systemd 254 on, a unit passes through "failed" before each automatic restart and so starts OnFailure= every
# time: when systemd is bringing it back (or has), that is no reason to wake anyone. Unknown: page. Started by hand
# (systemd passes no MONITOR_SERVICE_RESULT then), it always pages: that is how the operator tests it.
if [ -n "${MONITOR_SERVICE_RESULT:-}" ] && command -v systemctl >/dev/null 2>&1; then
  state=$(systemctl $scope show -p SubState --value "$unit" 2>/dev/null) || state=
  case $state in
    auto-restart | auto-restart-queued | start-pre | start | start-post | running)
      echo "nightshift-alert: $unit is $state (systemd restarts it): no page" >&2
      exit 0
      ;;
  esac
fi

# systemd gives an OnFailure= unit the triggering unit's result (systemd.exec(5), "$MONITOR_SERVICE_RESULT").
status=${MONITOR_EXIT_STATUS:-}
case ${MONITOR_SERVICE_RESULT:-} in
  start-limit-hit) why='it kept failing, and systemd stopped restarting it (the start limit: 5 starts within 10 minutes).' ;;
  exit-code)
    if [ "$status" = 2 ]; then
      why='it exited with status 2: the configuration is invalid or the database is unusable. No restart can fix that, so systemd does not try.'
    else
      why="it exited with status ${status:-unknown}."
    fi
    ;;
  signal | core-dump) why="it was killed by signal ${status:-unknown}." ;;
  timeout) why='it did not start or stop in time.' ;;
  '') why='this alert was started by hand (systemd passed on no failure): a test of the page.' ;;
  *) why="it has failed (${MONITOR_SERVICE_RESULT})." ;;
esac

host=$(uname -n)
if [ -n "$scope" ]; then ctl='systemctl --user'; else ctl='sudo systemctl'; fi
if command -v journalctl >/dev/null 2>&1; then
  limit=
  command -v timeout >/dev/null 2>&1 && limit='timeout 10'
  lines=$($limit journalctl $scope -u "$unit" -n 20 --no-pager -o short-iso 2>&1 | redact)
else
  lines='(journalctl is not installed: no log lines)'
fi

title="Nightshift is down on $host"
message="$unit on $host: $why
Nothing patrols this machine until it runs again. Fix the cause, then:
$ctl reset-failed $unit && $ctl start $unit

Last lines of its journal:
$lines"
# ntfy keeps up to 4096 bytes as the message; keep well under it.
message=$(printf '%s\n' "$message" | awk '{ total += length($0) + 1; if (total > 3500) { print "..."; exit } print }')

# curl reads its URL and headers from fd 3 (a here-document), so the token never shows in the process list.
quote() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
if printf '%s\n' "$message" | curl -fsS -m 10 --retry 3 -o /dev/null --config /dev/fd/3 --data-binary @- 3<<EOF; then
url = "$(quote "${ntfy_url%/}/$topic")"
header = "X-Title: $(quote "$title")"
header = "X-Priority: 5"
header = "X-Tags: rotating_light,skull"
$(if [ -n "$token" ]; then printf 'header = "Authorization: Bearer %s"\n' "$(quote "$token")"; fi)
EOF
  echo "nightshift-alert: paged ntfy about $unit" >&2
else
  code=$?
  echo "nightshift-alert: could not post the alert about $unit to ntfy (curl exit $code; NTFY_URL in $(pwd)/.env)" >&2
  exit 1
fi
