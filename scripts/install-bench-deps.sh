#!/usr/bin/env bash
# Installs the supervisors `npm run bench:peers` compares Nightshift with: Debian's supervisor
# (supervisord, supervisorctl) and monit. pm2 comes from npm (node_modules). Without apt, root or
# passwordless sudo it says so in one line and exits 0: the bench then skips the missing peer, naming
# this script.
set -euo pipefail

WHO=install-bench-deps
PACKAGES=(supervisor monit)
BINARIES=(supervisord supervisorctl monit)
SKIPS='bench:peers will skip them'
versions() { echo "supervisord $(supervisord --version 2>&1 | head -n 1); $(monit -V 2>&1 | head -n 1)"; }
# shellcheck source=install-debian-packages.sh
source "$(dirname "$0")/install-debian-packages.sh"
