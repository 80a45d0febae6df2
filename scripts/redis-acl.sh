#!/usr/bin/env bash
# Writes a users.acl from deploy/redis/users.acl.template with passwords from the environment.
# Usage: REDIS_APP_PASSWORD=... REDIS_MONITOR_PASSWORD=... REDIS_ADMIN_PASSWORD=... \
#        REDIS_REPLICATION_PASSWORD=... REDIS_SENTINEL_PASSWORD=... scripts/redis-acl.sh OUT
set -euo pipefail
out=${1:?usage: scripts/redis-acl.sh OUTPUT-FILE}
# The default user's password is nobody's (see the template): made up here unless given.
export REDIS_DEFAULT_PASSWORD=${REDIS_DEFAULT_PASSWORD:-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')}
vars="REDIS_DEFAULT_PASSWORD REDIS_APP_PASSWORD REDIS_MONITOR_PASSWORD REDIS_ADMIN_PASSWORD REDIS_REPLICATION_PASSWORD REDIS_SENTINEL_PASSWORD"
for v in $vars; do
  if [ -z "${!v:-}" ]; then echo "redis-acl: $v is not set" >&2; exit 1; fi
  case "${!v}" in *[[:space:]]*|*'|'*|*'&'*|*'\'*) echo "redis-acl: $v must not contain spaces, |, & or \\" >&2; exit 1;; esac
done
umask 077
args=()
for v in $vars; do args+=(-e "s|\${$v}|${!v}|"); done
sed "${args[@]}" "$(dirname "$0")/../deploy/redis/users.acl.template" | grep -v '^#' > "$out"
echo "redis-acl: wrote $out"
