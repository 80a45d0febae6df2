#!/usr/bin/env bash
# Starts a local Redis topology for trying the app against it, or stops it. Every node runs from
# its own config file, generated from deploy/redis by scripts/redis-conf.sh into the run
# directory (Sentinel rewrites those, never the repository's), with ACL users and random
# passwords (users.acl and passwords.env in the run directory, never committed).
#   scripts/redis-topology.sh sentinel   primary 7001, replicas 7002-7003, sentinels 27001-27003
#   scripts/redis-topology.sh cluster    masters 7101-7103 (replicas 7104-7106 with CLUSTER_REPLICAS=1)
#   scripts/redis-topology.sh stop       stops whatever this script started
# TOPOLOGY_DIR (default var/topology) is the run directory; TOPOLOGY_PORTS overrides the ports
# (sentinel: primary, replicas, then sentinels; cluster: masters, then replicas); TOPOLOGY_HOST
# (default 127.0.0.1) is the address nodes bind to and announce; TLS_CERT, TLS_KEY and TLS_CA
# turn on TLS (deploy/redis/tls.conf). It prints the environment the app needs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mkdir -p "${TOPOLOGY_DIR:-var/topology}" && cd "${TOPOLOGY_DIR:-var/topology}" && pwd)
host=${TOPOLOGY_HOST:-127.0.0.1}
export BIND=$host ANNOUNCE_IP=$host

cli_tls=()
if [ -n "${TLS_CERT:-}" ]; then
  export TLS_CERT TLS_KEY TLS_CA
  cli_tls=(--tls --cacert "$TLS_CA" --cert "$TLS_CERT" --key "$TLS_KEY")
fi

users() { # users.acl with random passwords, made once per run directory
  if [ ! -f "$root/passwords.env" ]; then
    (umask 077
     for u in APP MONITOR ADMIN REPLICATION SENTINEL; do
       echo "REDIS_${u}_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
     done > "$root/passwords.env")
  fi
  set -a; . "$root/passwords.env"; set +a
  scripts/redis-acl.sh "$root/users.acl" >/dev/null
  export ACLFILE=$root/users.acl REPL_USER=replication REPL_PASSWORD=$REDIS_REPLICATION_PASSWORD
  export SENTINEL_USER=sentinel SENTINEL_PASSWORD=$REDIS_SENTINEL_PASSWORD
}

admin_cli() { redis-cli -h "$host" "${cli_tls[@]}" --user admin --pass "$REDIS_ADMIN_PASSWORD" --no-auth-warning "$@"; }

start() { # start NAME ROLE PORT [--sentinel]: the node's own config, then redis-server on it
  local name=$1 role=$2 port=$3; shift 3
  mkdir -p "$root/$name"
  PORT=$port DIR=$root/$name scripts/redis-conf.sh "$role" "$root/$name/redis.conf"
  redis-server "$root/$name/redis.conf" "$@" --daemonize yes \
    --pidfile "$root/$name.pid" --logfile "$root/$name.log"
  for _ in $(seq 100); do
    redis-cli -h "$host" -p "$port" "${cli_tls[@]}" ping 2>/dev/null | grep -qE 'PONG|NOAUTH' && return
    sleep 0.1
  done
  echo "topology: $name on $port did not start; see $root/$name.log" >&2; exit 1
}

tls_env() { [ -n "${TLS_CERT:-}" ] && echo " REDIS_TLS_CA=$TLS_CA REDIS_TLS_CERT=$TLS_CERT REDIS_TLS_KEY=$TLS_KEY" || true; }

case "${1:-}" in
sentinel)
  users
  read -r -a ports <<< "${TOPOLOGY_PORTS:-7001 7002 7003 27001 27002 27003}"
  [ "${#ports[@]}" = 6 ] || { echo "topology: TOPOLOGY_PORTS wants 6 ports for sentinel" >&2; exit 2; }
  export PRIMARY_HOST=$host PRIMARY_PORT=${ports[0]} QUORUM=2
  start primary primary "${ports[0]}"
  start replica1 replica "${ports[1]}"
  start replica2 replica "${ports[2]}"
  for i in 1 2 3; do start "sentinel$i" sentinel "${ports[$((i + 2))]}" --sentinel; done
  echo "REDIS_ADDRS=$host:${ports[3]},$host:${ports[4]},$host:${ports[5]} REDIS_MASTER_NAME=hazardwatch REDIS_USERNAME=app REDIS_PASSWORD=$REDIS_APP_PASSWORD$(tls_env) make run"
  ;;
cluster)
  users
  n=3; [ "${CLUSTER_REPLICAS:-0}" = 1 ] && n=6
  read -r -a ports <<< "${TOPOLOGY_PORTS:-7101 7102 7103 7104 7105 7106}"
  [ "${#ports[@]}" -ge "$n" ] || { echo "topology: TOPOLOGY_PORTS wants $n ports for this cluster" >&2; exit 2; }
  addrs=()
  for p in "${ports[@]:0:$n}"; do start "node$p" cluster "$p"; addrs+=("$host:$p"); done
  admin_cli --cluster create "${addrs[@]}" --cluster-replicas "${CLUSTER_REPLICAS:-0}" --cluster-yes >/dev/null
  echo "REDIS_ADDRS=$(IFS=,; echo "${addrs[*]}") REDIS_CLUSTER=1 REDIS_USERNAME=app REDIS_PASSWORD=$REDIS_APP_PASSWORD$(tls_env) make run"
  ;;
stop)
  pids=$(cat "$root"/*.pid 2>/dev/null || true)
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  # Wait until each has written its files and gone (a primary may wait up to shutdown-timeout,
  # 10 s, for its replicas); one that has not after 30 s is killed: its directory is about to be
  # deleted, and a Redis whose final save fails refuses to exit.
  for pid in $pids; do
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; sleep 0.2; fi
  done
  rm -rf "$root"
  echo "topology: stopped"
  ;;
*)
  echo "usage: scripts/redis-topology.sh sentinel|cluster|stop" >&2; exit 2 ;;
esac
