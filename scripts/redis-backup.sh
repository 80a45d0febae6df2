#!/usr/bin/env bash
# A consistent backup of a Redis data instance, run on the Redis host: BGSAVE and wait for it,
# then copy dump.rdb and the AOF directory (with automatic AOF rewrites paused, as Redis's
# persistence docs advise) into DEST/hazardwatch-redis-<UTC time>/, and verify both copies with
# redis-check-rdb and redis-check-aof. Restoring: docs/redis-restore.md.
#   scripts/redis-backup.sh DEST
# Connection: REDIS_HOST (127.0.0.1), REDIS_PORT (6379), REDIS_USER (admin), REDISCLI_AUTH (its
# password; redis-cli reads it from the environment, so it never shows in ps), and REDIS_TLS_CA,
# REDIS_TLS_CERT, REDIS_TLS_KEY for TLS. The files are read from the server's own dir (CONFIG GET).
set -euo pipefail
dest=${1:?usage: scripts/redis-backup.sh DEST}
cli=(redis-cli -h "${REDIS_HOST:-127.0.0.1}" -p "${REDIS_PORT:-6379}" --user "${REDIS_USER:-admin}" --no-auth-warning)
if [ -n "${REDIS_TLS_CA:-}${REDIS_TLS_CERT:-}" ]; then
  cli+=(--tls ${REDIS_TLS_CA:+--cacert "$REDIS_TLS_CA"} ${REDIS_TLS_CERT:+--cert "$REDIS_TLS_CERT" --key "$REDIS_TLS_KEY"})
fi
r() { "${cli[@]}" "$@"; }
field() { r info persistence | tr -d '\r' | awk -F: -v k="$1" '$1 == k {print $2}'; }
conf() { r config get "$1" | sed -n 2p; }
log() { echo "redis-backup: $*" >&2; }

dir=$(conf dir)
rdb=$(conf dbfilename)
aofdir=$(conf appenddirname)
[ -d "$dir" ] || { log "the server's dir $dir is not on this machine: run the backup on the Redis host"; exit 1; }

# 1. A fresh snapshot: BGSAVE (after a save already running, so the copy is from now; queued
#    behind a running AOF rewrite), then wait until the save count moves and the save reports ok.
while :; do
  while [ "$(field rdb_bgsave_in_progress)" = 1 ]; do sleep 0.2; done
  saves=$(field rdb_saves)
  reply=$(r bgsave schedule)
  case "$reply" in
  *started* | *scheduled*) break ;;
  *"in progress"*) ;; # another save began meanwhile: wait for it, then ours
  *) log "BGSAVE: $reply"; exit 1 ;;
  esac
done
for _ in $(seq 3000); do
  [ "$(field rdb_saves)" -gt "$saves" ] && [ "$(field rdb_bgsave_in_progress)" = 0 ] && break
  sleep 0.2
done
[ "$(field rdb_saves)" -gt "$saves" ] || { log "BGSAVE did not finish in 10 minutes"; exit 1; }
[ "$(field rdb_last_bgsave_status)" = ok ] || { log "BGSAVE failed: $(field rdb_last_bgsave_status)"; exit 1; }

out="$dest/hazardwatch-redis-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
cp "$dir/$rdb" "$out/dump.rdb"

# 2. The AOF directory, with rewrites paused so its files do not change under the copy. An AOF
#    rewrite already running is waited for first.
if [ "$(field aof_enabled)" = 1 ]; then
  pct=$(conf auto-aof-rewrite-percentage)
  r config set auto-aof-rewrite-percentage 0 >/dev/null
  trap 'r config set auto-aof-rewrite-percentage "$pct" >/dev/null' EXIT
  for _ in $(seq 3000); do [ "$(field aof_rewrite_in_progress)" = 0 ] && break; sleep 0.2; done
  cp -a "$dir/$aofdir" "$out/appendonlydir"
  r config set auto-aof-rewrite-percentage "$pct" >/dev/null
  trap - EXIT
fi

# 3. Verify the copies. Writes go on while the AOF is copied, so its last record may have been
#    caught half-written: that tail (not in the copy's point in time) is cut from the copy only.
redis-check-rdb "$out/dump.rdb" >"$out/check-rdb.txt" 2>&1 || { log "dump.rdb failed redis-check-rdb: see $out/check-rdb.txt"; exit 1; }
if [ -d "$out/appendonlydir" ]; then
  manifest=$(ls "$out/appendonlydir"/*.manifest)
  if ! redis-check-aof "$manifest" >"$out/check-aof.txt" 2>&1; then
    if grep -q "truncated" "$out/check-aof.txt" && echo y | redis-check-aof --fix "$manifest" >>"$out/check-aof.txt" 2>&1 &&
       redis-check-aof "$manifest" >>"$out/check-aof.txt" 2>&1; then
      log "cut a half-written last AOF record from the copy"
    else
      log "the AOF copy failed redis-check-aof: see $out/check-aof.txt"; exit 1
    fi
  fi
fi
log "verified $(du -sh "$out" | cut -f1) in $out"
echo "$out"
