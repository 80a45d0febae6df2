#!/usr/bin/env bash
# redis-benchmark for Hazard Watch's own commands against a throwaway redis-server started from
# deploy/redis/primary.conf: writes under appendfsync always and everysec, 1 and 50 clients, with
# and without pipelining; GEOSEARCH at street and city radius over seeded reports; MEMORY USAGE
# per key family. Prints Markdown tables for docs/redis-benchmarks.md.
#   scripts/redis-benchmark.sh [REQUESTS-PER-TEST] [SEEDED-REPORTS]   (defaults 20000, 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
reports=${2:-100000}
port=${BENCH_PORT:-7790}
tmp=$(mktemp -d)
pid=
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi
}
trap 'stop; rm -rf "$tmp"' EXIT

if redis-cli -p "$port" ping >/dev/null 2>&1; then
  echo "redis-benchmark.sh: port $port is taken; set BENCH_PORT" >&2; exit 1
fi

start() { # start APPENDFSYNC: a fresh server with the shipped config
  stop
  rm -rf "$tmp/data"; mkdir -p "$tmp/data"
  redis-server deploy/redis/primary.conf --port "$port" --dir "$tmp/data" --appendfsync "$1" \
    --logfile "$tmp/redis.log" &
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis-benchmark.sh: redis-server did not start; see $tmp/redis.log" >&2; exit 1
}

# rps CLIENTS PIPELINE COMMAND...: requests per second and p50 latency (ms); $reqs requests
# (default $n)
rps() {
  local c=$1 p=$2; shift 2
  redis-benchmark -p "$port" -c "$c" -P "$p" -n "${reqs:-$n}" -r 1000000 --csv "$@" 2>/dev/null |
    tail -1 | tr -d '"' | awk -F, '{printf "%.0f/s (p50 %s ms)", $(NF-6), $(NF-3)}'
}

session=$(head -c 150 /dev/zero | tr '\0' 's')         # a Fiber session is about 150 bytes of gob
doc=$(printf '{"id":"bench","version":1,"type":"pothole","severity":"high","description":"%s","lat":32.8,"lng":35.0,"status":"open","photos":[],"history":[]}' "$(head -c 400 /dev/zero | tr '\0' 'd')")
cas='#!lua
local cur = redis.call("GET", KEYS[1])
if not cur then return -1 end
local doc = cjson.decode(cur)
if tostring(doc["version"]) ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[2])
return 1'

echo "## Writes: appendfsync always against everysec ($n requests a test)"
echo
echo "| command | clients | pipeline | always | everysec |"
echo "| --- | --- | --- | --- | --- |"
declare -A res
for mode in always everysec; do
  start "$mode"
  sha=$(redis-cli -p "$port" script load "$cas")
  redis-cli -p "$port" set 'hw:report:{bench}' "$doc" >/dev/null
  for cp in "1 1" "50 1" "50 16"; do
    set -- $cp
    res["$mode set-session $1 $2"]=$(rps "$1" "$2" set 'hw:sess:__rand_int__' "$session" ex 604800)
    res["$mode create $1 $2"]=$(rps "$1" "$2" set 'hw:report:{__rand_int__}' "$doc" nx)
    res["$mode evalsha $1 $2"]=$(rps "$1" "$2" evalsha "$sha" 1 'hw:report:{bench}' 1 "$doc")
    res["$mode xadd $1 $2"]=$(rps "$1" "$2" xadd hw:audit maxlen '~' 100000 '*' actor __rand_int__ action report.created)
  done
done
for row in "set-session|SET hw:sess:<id> (150 B) EX" "create|SET hw:report:{id} (600 B) NX" \
           "evalsha|EVALSHA the report compare-and-set script" "xadd|XADD hw:audit MAXLEN ~ 100000"; do
  key=${row%%|*}; label=${row#*|}
  for cp in "1 1" "50 1" "50 16"; do
    set -- $cp
    echo "| \`$label\` | $1 | $2 | ${res["always $key $1 $2"]} | ${res["everysec $key $1 $2"]} |"
  done
done

echo
echo "## Reads over $reports seeded reports (appendfsync always; reads do not touch the disk)"
echo
start always
REDIS_URL="redis://127.0.0.1:$port/0" go run ./cmd/hazardwatch seed --reports "$reports" --area "32.8,35.0,10" >/dev/null
echo "| command | clients | pipeline | result |"
echo "| --- | --- | --- | --- |"
for cp in "1 1" "50 1" "50 16"; do
  set -- $cp
  echo "| \`GET hw:sess:<id>\` | $1 | $2 | $(rps "$1" "$2" get 'hw:sess:__rand_int__') |"
done
street=$(redis-cli -p "$port" geosearch hw:geo:open fromlonlat 35.0 32.8 byradius 500 m | wc -l)
city=$(redis-cli -p "$port" geosearch hw:geo:open fromlonlat 35.0 32.8 byradius 5 km | wc -l)
for cp in "1 1" "50 1"; do
  set -- $cp
  echo "| \`GEOSEARCH hw:geo:open BYRADIUS 500 m\` ($street members) | $1 | $2 | $(rps "$1" "$2" geosearch hw:geo:open fromlonlat 35.0 32.8 byradius 500 m) |"
  echo "| \`GEOSEARCH hw:geo:open BYRADIUS 5 km\` ($city members) | $1 | $2 | $(reqs=$((n / 20)) rps "$1" "$2" geosearch hw:geo:open fromlonlat 35.0 32.8 byradius 5 km) |"
done

echo
echo "## MEMORY USAGE per key family ($reports seeded reports)"
echo
echo "| key family | keys | bytes (MEMORY USAGE ... SAMPLES 0) | per report |"
echo "| --- | --- | --- | --- |"
mem() { redis-cli -p "$port" memory usage "$1" samples 0; }
ids=$(redis-cli -p "$port" zrange hw:reports:time 0 99)
total=0
for id in $ids; do total=$((total + $(mem "hw:report:{$id}"))); done
echo "| \`hw:report:{rid}\` (document) | $reports | $((total / 100)) each (mean of 100) | $((total / 100)) |"
family() { # family LABEL KEY...
  local label=$1 sum=0 k; shift
  for k in "$@"; do sum=$((sum + $(mem "$k" || echo 0))); done
  echo "| $label | $# | $sum | $((sum / reports)) |"
}
family '`hw:reports:time`' hw:reports:time
family '`hw:reports:status:<status>`' $(redis-cli -p "$port" --scan --pattern 'hw:reports:status:*')
family '`hw:list:<status>[:<type>]`' $(redis-cli -p "$port" --scan --pattern 'hw:list:*')
family '`hw:words:<word>`' $(redis-cli -p "$port" --scan --pattern 'hw:words:*')
family '`hw:photo:<hash>`' $(redis-cli -p "$port" --scan --pattern 'hw:photo:*')
family '`hw:geo:<class>`' $(redis-cli -p "$port" --scan --pattern 'hw:geo:*')
family '`hw:pos:<c>`' $(redis-cli -p "$port" --scan --pattern 'hw:pos:*')
family '`hw:grid:*` (map counts and cell lists)' $(redis-cli -p "$port" --scan --pattern 'hw:grid:*')
family '`hw:user:{uid}:reports`' $(redis-cli -p "$port" --scan --pattern 'hw:user:*:reports')
family '`hw:stats:{stats}:*`' $(redis-cli -p "$port" --scan --pattern 'hw:stats:*')
used=$(redis-cli -p "$port" info memory | awk -F: '/^used_memory:/ {print $2+0}')
echo
echo "used_memory with $reports reports: $used bytes, $((used / reports)) bytes a report with every index."

# Other families, by used_memory before and after 1,000 of each (keys, indexes, overhead).
grow() { # grow LABEL: reads redis-cli commands on stdin, prints the bytes per item
  local before after
  before=$(redis-cli -p "$port" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  redis-cli -p "$port" >/dev/null
  after=$(redis-cli -p "$port" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  echo "| $1 | $(((after - before) / 1000)) |"
}
places='{"p":[{"label":"Haifa, Haifa District, Israel","lat":32.81841,"lng":34.9885},{"label":"Haifa Bay, Haifa District, Israel","lat":32.8323,"lng":35.0442},{"label":"Haifa Port, Haifa District, Israel","lat":32.8213,"lng":35.0001},{"label":"Tirat Carmel, Haifa District, Israel","lat":32.7602,"lng":34.9718},{"label":"Nesher, Haifa District, Israel","lat":32.7662,"lng":35.0444}]}'
echo
echo "| other family (1,000 of each) | bytes each, with its index entries |"
echo "| --- | --- |"
for i in $(seq 1000); do printf "SET hw:sess:%08d-0000-0000-0000-000000000000 %s EX 604800\nHSET hw:user:{u%d}:sessions %08d-0000-0000-0000-000000000000 '%s'\n" "$i" "$session" "$((i % 100))" "$i" '{"ua":"Mozilla/5.0 (X11; Linux x86_64) Chrome/120","ip":"203.0.113.9","created_at":"2026-11-27T06:00:00Z","last_seen":"2026-11-27T06:00:00Z"}'; done | grow '`hw:sess:<id>` (150 B session) and its entry in `hw:user:{uid}:sessions`'
for i in $(seq 1000); do printf 'HSET hw:user:{user%06d} id user%06d email u%d@example.org name %s pwhash %s role citizen pw_version 1 created_at 1764223200000 updated_at 1764223200000\nSET hw:email:{u%d@example.org} user%06d\nZADD hw:users 1764223200000 user%06d\n' "$i" "$i" "$i" "Citizen$i" '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g' "$i" "$i" "$i"; done | grow 'a user: `hw:user:{uid}`, `hw:email:{...}`, its `hw:users` entry'
for i in $(seq 1000); do printf "SET cache:geo:fwd:%064d '%s' EX 2592000\nZADD cache:index 1764223200000 cache:geo:fwd:%064d\n" "$i" "$places" "$i"; done | grow 'a geocoding answer (5 places) and its `cache:index` entry'
for i in $(seq 1000); do printf "XADD hw:audit MAXLEN ~ 100000 * actor user%06d action report.status target abcdefghijklmnop ip 203.0.113.9 note '%s'\n" "$i" 'Moved to in progress.'; done | grow 'an audit entry (`hw:audit` stream)'
