#!/usr/bin/env bash
# Installs the Debian packages some tests run for real: Prometheus (prometheus, promtool), Alertmanager
# (prometheus-alertmanager, amtool), openssl, Chromium (the status page is tested in a real browser),
# systemd (systemd-analyze verifies the units Nightshift installs) and curl. Without root and without
# sudo it says so in one line and exits 0: those tests then skip, naming this script.
set -euo pipefail

WHO=install-test-deps
PACKAGES=(prometheus prometheus-alertmanager openssl chromium systemd curl)
BINARIES=(prometheus promtool prometheus-alertmanager amtool openssl chromium systemd-analyze curl)
SKIPS='the tests that need them will skip'
versions() { echo "$(prometheus --version 2>&1 | head -n 1); $(prometheus-alertmanager --version 2>&1 | head -n 1)"; }
# shellcheck source=install-debian-packages.sh
source "$(dirname "$0")/install-debian-packages.sh"
