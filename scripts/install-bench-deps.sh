#!/usr/bin/env bash
# Installs the supervisors `npm run bench:peers` compares Nightshift with: Debian's supervisor
# (supervisord, supervisorctl) and monit. pm2 comes from npm (node_modules). Fast on a re-run: apt is
# skipped when every binary is there. Without apt, root or passwordless sudo it says so in one line and
# exits 0: the bench then skips the missing peer, naming this script.
set -euo pipefail

PACKAGES=(supervisor monit)
BINARIES=(supervisord supervisorctl monit)

missing=()
for binary in "${BINARIES[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=("$binary")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-bench-deps: no apt-get here; install ${PACKAGES[*]} yourself (missing: ${missing[*]}); bench:peers will skip them" >&2
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
    echo "install-bench-deps: not root and no passwordless sudo; not installing ${PACKAGES[*]} (missing: ${missing[*]}); bench:peers will skip them" >&2
    exit 0
  fi
  as_root=(sudo -n)
fi

# Debian's postinst scripts start supervisord and monit as system daemons through invoke-rc.d, which
# also works without systemd. A policy-rc.d answering 101 ("action forbidden") keeps them stopped: the
# bench runs its own, on its own sockets and files. An existing policy is left as it is.
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

echo "install-bench-deps: installing ${PACKAGES[*]} (missing: ${missing[*]})"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}" >/dev/null

still_missing=()
for binary in "${BINARIES[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || still_missing+=("$binary")
done
if [ "${#still_missing[@]}" -ne 0 ]; then
  echo "install-bench-deps: installed ${PACKAGES[*]} but still missing: ${still_missing[*]}" >&2
  exit 1
fi
echo "install-bench-deps: supervisord $(supervisord --version 2>&1 | head -n 1); $(monit -V 2>&1 | head -n 1)"
