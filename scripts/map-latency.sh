#!/usr/bin/env bash
# Single-client latency of the map's viewport API, with the Redis and app CPU each view costs:
# a throwaway Redis seeded with N reports over a 15 km-radius disc round Haifa (as
# ../shared/perf/run.sh seeds), then wrk -c1 on three views: the whole city as static/js/map.js
# asks for it at zoom 12 (grid-aligned), the side-by-side harness's unaligned city box, and a
# street. CPU per view comes from Redis's INFO cpu and the app's /proc counters over the run.
#   scripts/map-latency.sh [REPORTS] [DURATION]   (defaults 100000, 10s; needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
d=${2:-10s}
command -v wrk >/dev/null || { echo "map-latency.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
rport=$((21000 + RANDOM % 4000)); aport=$((rport + 1))
app=
trap '[ -n "$app" ] && kill $app 2>/dev/null; redis-cli -p $rport shutdown nosave >/dev/null 2>&1; rm -rf "$tmp"' EXIT
redis-server --port $rport --save '' --appendonly no --daemonize yes --dir "$tmp" --logfile "$tmp/redis.log"
go build -o "$tmp/hazardwatch" ./cmd/hazardwatch
sleep 0.5
REDIS_URL=redis://127.0.0.1:$rport/0 RATE_LIMITS=off "$tmp/hazardwatch" seed --reports "$n" --area "32.79,34.99,15" >/dev/null
ADDR=127.0.0.1:$aport REDIS_URL=redis://127.0.0.1:$rport/0 RATE_LIMITS=off DATA_DIR="$tmp" "$tmp/hazardwatch" >"$tmp/app.log" 2>&1 &
app=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$aport/readyz" && break; sleep 0.2; done
rcpu() { redis-cli -p $rport info cpu | awk -F: '/used_cpu_(user|sys):/{s+=$2} END{printf "%.4f", s}'; }
acpu() { awk '{print $14+$15}' /proc/$app/stat; } # clock ticks
hz=$(getconf CLK_TCK)
echo "| view | p50 | p99 | Redis CPU per view | app CPU per view |"
echo "| --- | --- | --- | --- | --- |"
for v in "city, zoom 12, aligned|34.892578125,32.698795177,35.101318359,32.901248426&zoom=12" \
  "city, harness box|34.9,32.7,35.1,32.9" "street|34.985,32.785,34.995,32.795"; do
  name=${v%%|*}; url="http://127.0.0.1:$aport/api/reports?bbox=${v#*|}"
  wrk -t1 -c1 -d2s "$url" >/dev/null
  r0=$(rcpu); a0=$(acpu)
  out=$(wrk -t1 -c1 -d"$d" --latency "$url")
  r1=$(rcpu); a1=$(acpu)
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  echo "$out" | awk -v name="$name" -v r="$(echo "($r1-$r0)*1000/$reqs" | bc -l)" -v a="$(echo "($a1-$a0)*1000/$hz/$reqs" | bc -l)" \
    '/ 50%/{m=$2} / 99%/{p=$2} END{printf "| %s | %s | %s | %.2f ms | %.2f ms |\n", name, m, p, r, a}'
done
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg))"
