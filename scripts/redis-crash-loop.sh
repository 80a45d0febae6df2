#!/usr/bin/env bash
# Runs the Redis crash tests (kill -9 under load, stalled fsync, their controls) N times in a row
# (default 20) and stops at the first failure. With PRESSURE=1 a background writer keeps the disk
# busy with synced writes, as a full parallel `make test` does.
#   scripts/redis-crash-loop.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
tmp=$(mktemp -d)
pressure_pid=
cleanup() {
  if [ -n "$pressure_pid" ]; then kill "$pressure_pid" 2>/dev/null || true; wait "$pressure_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

go test -race -c -o "$tmp/app.test" ./app
go test -race -c -o "$tmp/store.test" ./store
app_tests='^(TestAcknowledgedReportsSurviveRedisCrash|TestRDBOnlyLosesReportsInACrash)$'
store_tests='^(TestPrimaryConfigSurvivesKill|TestWithoutAOFACrashLosesWrites|TestStalledFsyncKeepsAcknowledgedWrites|TestStalledFsyncEverysecLosesAcknowledgedWrites)$'

if [ "${PRESSURE:-0}" = 1 ]; then
  (while :; do dd if=/dev/zero of="$tmp/pressure" bs=1M count=128 conv=fsync status=none; done) &
  pressure_pid=$!
  echo "crash-loop: disk pressure on (pid $pressure_pid)"
fi

start=$(date +%s)
for i in $(seq "$runs"); do
  # Each test binary runs in its package directory, as `go test` would run it.
  if ! out=$( (cd app && "$tmp/app.test" -test.count=1 -test.v -test.run "$app_tests") 2>&1 ) ||
     ! out2=$( (cd store && "$tmp/store.test" -test.count=1 -test.v -test.run "$store_tests") 2>&1 ); then
    echo "$out" "${out2:-}" | grep -v 'pool.go' | tail -40
    echo "crash-loop: run $i of $runs FAILED after $(( $(date +%s) - start )) s" >&2
    exit 1
  fi
  kept=$(printf '%s\n%s\n' "$out" "$out2" | grep -oE '(acknowledged [0-9]+, kept [0-9]+|kill -9: [0-9]+ of [0-9]+ acknowledged writes kept)' | paste -sd ';' -)
  echo "crash-loop: run $i of $runs passed ($kept)"
done
echo "crash-loop: $runs of $runs runs passed in $(( $(date +%s) - start )) s"
