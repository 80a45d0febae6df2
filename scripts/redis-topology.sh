#!/usr/bin/env bash
# Starts a local Redis topology on loopback for trying the app against it, or stops it.
#   scripts/redis-topology.sh sentinel   primary 7001, replicas 7002-7003, sentinels 27001-27003
#   scripts/redis-topology.sh cluster    masters 7101-7103 (replicas 7104-7106 with CLUSTER_REPLICAS=1)
#   scripts/redis-topology.sh stop       stops whatever this script started
# Data and logs live in var/topology/. It prints the environment the app needs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=var/topology
conf=$(pwd)/deploy/redis

start() { # start NAME PORT ARGS...
  local name=$1 port=$2; shift 2
  mkdir -p "$root/$name"
  redis-server "$@" --port "$port" --dir "$(pwd)/$root/$name" --daemonize yes \
    --pidfile "$(pwd)/$root/$name.pid" --logfile "$(pwd)/$root/$name.log"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "topology: $name on $port did not start; see $root/$name.log" >&2; exit 1
}

case "${1:-}" in
sentinel)
  start primary 7001 "$conf/primary.conf"
  start replica1 7002 "$conf/primary.conf" --include "$conf/replica.conf" --replicaof 127.0.0.1 7001
  start replica2 7003 "$conf/primary.conf" --include "$conf/replica.conf" --replicaof 127.0.0.1 7001
  for i in 1 2 3; do
    mkdir -p "$root/sentinel$i"
    cp "$conf/sentinel.conf" "$root/sentinel$i/sentinel.conf"
    start "sentinel$i" "2700$i" "$(pwd)/$root/sentinel$i/sentinel.conf" --sentinel
  done
  echo "REDIS_ADDRS=127.0.0.1:27001,127.0.0.1:27002,127.0.0.1:27003 REDIS_MASTER_NAME=hazardwatch make run"
  ;;
cluster)
  ports="7101 7102 7103"
  [ "${CLUSTER_REPLICAS:-0}" = 1 ] && ports="$ports 7104 7105 7106"
  addrs=""
  for p in $ports; do start "node$p" "$p" "$conf/primary.conf" --include "$conf/cluster-node.conf"; addrs="$addrs 127.0.0.1:$p"; done
  redis-cli --cluster create $addrs --cluster-replicas "${CLUSTER_REPLICAS:-0}" --cluster-yes >/dev/null
  echo "REDIS_ADDRS=$(echo $addrs | tr ' ' ',') REDIS_CLUSTER=1 make run"
  ;;
stop)
  for pid in "$root"/*.pid; do
    [ -e "$pid" ] || continue
    kill "$(cat "$pid")" 2>/dev/null || true
  done
  sleep 1
  rm -rf "$root"
  echo "topology: stopped"
  ;;
*)
  echo "usage: scripts/redis-topology.sh sentinel|cluster|stop" >&2; exit 2 ;;
esac
