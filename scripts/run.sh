#!/usr/bin/env bash
# `make run`: starts a local Redis with the project's config and ACL users (unless REDIS_URL or
# REDIS_ADDRS is set), then the app as its least-privilege user. Ctrl-C stops both; Redis's data,
# its generated config and the local passwords stay under $DATA_DIR/redis (never committed).
set -euo pipefail
cd "$(dirname "$0")/.."

export DATA_DIR=${DATA_DIR:-./var}
mkdir -p "$DATA_DIR"
go build -o bin/hazardwatch ./cmd/hazardwatch

redis_pid=
stop_redis() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    echo "run: stopping Redis (pid $redis_pid)"
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap stop_redis EXIT

if [ -z "${REDIS_URL:-}" ] && [ -z "${REDIS_ADDRS:-}" ]; then
  port=${LOCAL_REDIS_PORT:-6390}
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    echo "run: something already answers on 127.0.0.1:$port. Stop it, set LOCAL_REDIS_PORT, or set REDIS_URL to use it." >&2
    exit 1
  fi
  dir=$(mkdir -p "$DATA_DIR/redis" && cd "$DATA_DIR/redis" && pwd)
  # Random passwords, made once and kept (mode 600) so the data stays reachable across runs.
  if [ ! -f "$dir/passwords.env" ]; then
    (umask 077
     for u in APP MONITOR ADMIN REPLICATION SENTINEL; do
       echo "REDIS_${u}_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
     done > "$dir/passwords.env")
    echo "run: made local Redis passwords in $dir/passwords.env"
  fi
  set -a; . "$dir/passwords.env"; set +a
  scripts/redis-acl.sh "$dir/users.acl" >/dev/null
  PORT=$port DIR=$dir ACLFILE=$dir/users.acl scripts/redis-conf.sh single "$dir/redis.conf"
  # Its own session, so Ctrl-C reaches only the app; Redis is stopped after the app has finished.
  setsid redis-server "$dir/redis.conf" &
  redis_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -qE 'PONG|NOAUTH' && break
    kill -0 "$redis_pid" 2>/dev/null || { echo "run: redis-server failed to start" >&2; exit 1; }
    sleep 0.1
  done
  export REDIS_URL="redis://127.0.0.1:$port/0" REDIS_USERNAME=app REDIS_PASSWORD=$REDIS_APP_PASSWORD
  export MONITOR_REDIS_URL="redis://monitor:$REDIS_MONITOR_PASSWORD@127.0.0.1:$port/0"
  echo "run: local Redis on 127.0.0.1:$port, data in $DATA_DIR/redis; the app connects as user app"
  echo "run: for the CLI (user create, redis repair): set -a; . $DATA_DIR/redis/passwords.env; set +a;"
  echo "       REDIS_URL=redis://127.0.0.1:$port/0 REDIS_USERNAME=admin REDIS_PASSWORD=\$REDIS_ADMIN_PASSWORD go run ./cmd/hazardwatch ..."
  unset REDIS_ADMIN_PASSWORD REDIS_MONITOR_PASSWORD REDIS_REPLICATION_PASSWORD REDIS_SENTINEL_PASSWORD REDIS_APP_PASSWORD
fi

echo "run: Hazard Watch on ${BASE_URL:-http://localhost:8080} (Ctrl-C to stop)"
# Not exec: the EXIT trap must run after the app stops, to stop Redis.
trap ':' INT  # the app handles Ctrl-C itself; the script waits for it, then stops Redis
./bin/hazardwatch serve
