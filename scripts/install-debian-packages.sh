#!/usr/bin/env bash
# Installs Debian packages for the tests and benches: sourced by install-test-deps.sh and
# install-bench-deps.sh after they set WHO (the script's name, for its lines), PACKAGES, BINARIES
# (what must be on PATH afterwards) and SKIPS (who skips what is missing), and define `versions` (a
# function that prints what was installed). Fast on a re-run: apt is skipped when every binary is
# there. Without apt, root or passwordless sudo it says so in one line and returns 0: the callers
# then skip.

missing=()
for binary in "${BINARIES[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=("$binary")
done
if [ "${#missing[@]}" -eq 0 ]; then
  return 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "$WHO: no apt-get here; install ${PACKAGES[*]} yourself (missing: ${missing[*]}); $SKIPS" >&2
  return 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
    echo "$WHO: not root and no passwordless sudo; not installing ${PACKAGES[*]} (missing: ${missing[*]}); $SKIPS" >&2
    return 0
  fi
  as_root=(sudo -n)
fi

# Debian's postinst scripts start the daemons they install (Prometheus, Alertmanager, supervisord,
# monit) through invoke-rc.d, which also works without systemd. A policy-rc.d answering 101 ("action
# forbidden") keeps them stopped: the tests and benches run their own, on their own ports and files.
# An existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  "${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
  own_policy=true
fi
remove_policy() {
  if [ "$own_policy" = true ]; then "${as_root[@]}" rm -f "$policy"; fi
}
trap remove_policy EXIT

echo "$WHO: installing ${PACKAGES[*]} (missing: ${missing[*]})"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}" >/dev/null

still_missing=()
for binary in "${BINARIES[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || still_missing+=("$binary")
done
if [ "${#still_missing[@]}" -ne 0 ]; then
  echo "$WHO: installed ${PACKAGES[*]} but still missing: ${still_missing[*]}" >&2
  exit 1
fi
echo "$WHO: $(versions)"
