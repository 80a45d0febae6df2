#!/usr/bin/env bash
# Writes a users.acl from deploy/redis/users.acl.template with passwords from the environment.
# Usage: REDIS_APP_PASSWORD=... REDIS_MONITOR_PASSWORD=... REDIS_ADMIN_PASSWORD=... scripts/redis-acl.sh OUT
set -euo pipefail
out=${1:?usage: scripts/redis-acl.sh OUTPUT-FILE}
for v in REDIS_APP_PASSWORD REDIS_MONITOR_PASSWORD REDIS_ADMIN_PASSWORD; do
  if [ -z "${!v:-}" ]; then echo "redis-acl: $v is not set" >&2; exit 1; fi
  case "${!v}" in *[[:space:]]*) echo "redis-acl: $v must not contain spaces" >&2; exit 1;; esac
done
umask 077
sed -e "s|\${REDIS_APP_PASSWORD}|$REDIS_APP_PASSWORD|" \
    -e "s|\${REDIS_MONITOR_PASSWORD}|$REDIS_MONITOR_PASSWORD|" \
    -e "s|\${REDIS_ADMIN_PASSWORD}|$REDIS_ADMIN_PASSWORD|" \
    "$(dirname "$0")/../deploy/redis/users.acl.template" | grep -v '^#' > "$out"
echo "redis-acl: wrote $out"
