#!/usr/bin/env bash
# Installs the Debian packages fincrime uses, only those missing. Safe to run repeatedly.
set -euo pipefail
want=()
command -v dot >/dev/null 2>&1 || want+=(graphviz)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v virtuoso-t >/dev/null 2>&1 || want+=(virtuoso-opensource)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: missing system packages (${want[*]}); install them with your package manager." >&2
  echo "      Tests that need them are skipped with a reason." >&2
  exit 0
fi
echo "installing system packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
# Debian's virtuoso package would try to start its service; policy-rc.d 101 keeps it stopped.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null || {
  echo "note: could not install ${want[*]}; tests that need them are skipped." >&2
}
