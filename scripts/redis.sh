#!/usr/bin/env bash
# Debian's Redis server, the Celery broker and result backend of the tests that run
# flows beyond one machine (tests/test_cluster.py).
#
#   bash scripts/redis.sh          # install if needed; print the server's path
#
# Installs only: each test starts its own `redis-server` on a free loopback port, with no
# persistence, and stops it (tests/services.py). Debian's `redis-server` package is
# installed with apt-get if missing (needs root, as on CI machines).
set -euo pipefail

log() { printf '%s\n' "redis.sh: $*" >&2; }

server() {
  command -v redis-server 2>/dev/null || { [[ -x /usr/bin/redis-server ]] && echo /usr/bin/redis-server; } || true
}

if [[ -z "$(server)" ]]; then
  if [[ "$(id -u)" -ne 0 ]]; then
    log "Redis is not installed and installing it needs root: apt-get install redis-server"
    exit 1
  fi
  log "installing Debian's redis-server package"
  export DEBIAN_FRONTEND=noninteractive
  # The package's service is not wanted: tests start their own servers.
  if ! apt-get install -y --no-install-recommends redis-server >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends redis-server >&2
  fi
fi
server
