#!/usr/bin/env bash
# Installs what `make run` or `make test` needs and is missing. Usage: scripts/deps.sh run|test
#   run:  redis-server
#   test: redis-server, Chromium, nginx, promtool, the pinned npm packages (Tailwind, htmx, Leaflet, axe-core,
#         playwright-core) and the Playwright driver folder e2e/.driver (no browser download).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

apt_updated=
need_pkg() { # need_pkg COMMAND DEBIAN-PACKAGE [APT-OPTION...]
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: '$1' is missing. Install it with: sudo apt-get install -y $2" >&2
    exit 1
  fi
  echo "deps: installing $2 (for $1)"
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:3}" "$2" >/dev/null
}

need_pkg redis-server redis-server
need_pkg redis-cli redis-tools
[ "$mode" = run ] && exit 0

need_pkg chromium chromium
# The reverse-proxy test runs its own nginx process from deploy/nginx/ (on a machine with
# systemd, the packaged service may start too: `systemctl disable --now nginx` if unwanted).
need_pkg nginx nginx
# promtool checks and unit-tests deploy/prometheus/alerts.yml; Debian ships it with the server,
# which the tests never start.
need_pkg promtool prometheus --no-install-recommends
if ! command -v npm >/dev/null 2>&1; then
  echo "deps: Node.js and npm are missing (Node 20 or later). On Debian: sudo apt-get install -y nodejs npm" >&2
  exit 1
fi
# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
# playwright-go wants a driver folder holding `node` and `package` (playwright-core); see
# ../shared/notes/e2e.md. Links, so nothing is downloaded.
mkdir -p e2e/.driver
ln -sfn ../../node_modules/playwright-core e2e/.driver/package
ln -sfn "$(command -v node)" e2e/.driver/node
