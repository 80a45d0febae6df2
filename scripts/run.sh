#!/usr/bin/env bash
# `make run`: starts a local Redis with the project's config (unless REDIS_URL or REDIS_ADDRS is
# set), then the app. Ctrl-C stops both; Redis's data stays under $DATA_DIR/redis.
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
  mkdir -p "$DATA_DIR/redis"
  # Its own session, so Ctrl-C reaches only the app; Redis is stopped after the app has finished.
  setsid redis-server deploy/redis/primary.conf --port "$port" --dir "$(cd "$DATA_DIR/redis" && pwd)" &
  redis_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    kill -0 "$redis_pid" 2>/dev/null || { echo "run: redis-server failed to start" >&2; exit 1; }
    sleep 0.1
  done
  export REDIS_URL="redis://127.0.0.1:$port/0"
  echo "run: local Redis on 127.0.0.1:$port, data in $DATA_DIR/redis"
fi

echo "run: Hazard Watch on ${BASE_URL:-http://localhost:8080} (Ctrl-C to stop)"
# Not exec: the EXIT trap must run after the app stops, to stop Redis.
trap ':' INT  # the app handles Ctrl-C itself; the script waits for it, then stops Redis
./bin/hazardwatch serve
