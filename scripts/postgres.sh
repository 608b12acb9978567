#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests (Dagster instance storage under load).
#
#   bash scripts/postgres.sh [start]   # install if needed, start; print the URL
#   bash scripts/postgres.sh url       # print the URL (does not start anything)
#   bash scripts/postgres.sh stop      # stop the cluster and delete its data
#
# Idempotent: `start` on a running cluster only prints its URL. The cluster listens on
# 127.0.0.1 only, on MFDAGSTER_PG_PORT (default 55432, checked free), keeps its data in
# MFDAGSTER_PG_DIR (default /tmp/metaflow-dagster-pg-<port>), trusts local connections
# (a test fixture, never a server) and runs as a non-root user: as root, Debian's
# `postgres` user. Debian's `postgresql` package is installed with apt-get if missing.
# The URL names a database `dagster` owned by the superuser `dagster`:
#   postgresql://dagster@127.0.0.1:55432/dagster
set -euo pipefail

PORT="${MFDAGSTER_PG_PORT:-55432}"
DATA="${MFDAGSTER_PG_DIR:-/tmp/metaflow-dagster-pg-${PORT}}"
DB_USER="dagster"
DB_NAME="dagster"
URL="postgresql://${DB_USER}@127.0.0.1:${PORT}/${DB_NAME}"
LOCK="/tmp/metaflow-dagster-pg-${PORT}.lock"

log() { printf '%s\n' "postgres.sh: $*" >&2; }

# The newest installed server's bin directory (Debian keeps it off PATH).
server_bin() {
  local dir
  dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$dir" && -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
    printf '%s\n' "$dir"
  fi
}

install_server() {
  if [[ -n "$(server_bin)" ]]; then
    return
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    log "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
    exit 1
  fi
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends postgresql >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
  fi
}

# Run a server binary as the cluster's owner: never as root (PostgreSQL refuses).
as_owner() {
  if [[ "$(id -u)" -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f "$DATA/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null
}

init_cluster() {
  if [[ -f "$DATA/PG_VERSION" ]]; then
    return
  fi
  rm -rf "$DATA"
  mkdir -p "$DATA"
  if [[ "$(id -u)" -eq 0 ]]; then
    chown postgres: "$DATA"
  fi
  chmod 700 "$DATA"
  as_owner "$BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 --no-locale >&2
  # Settings in the config file rather than a `pg_ctl -o` option string.
  {
    printf "listen_addresses = '127.0.0.1'\n"
    printf "port = %s\n" "$PORT"
    printf "unix_socket_directories = '%s'\n" "$DATA"
    printf "max_connections = 400\n"
    printf "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
  } | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
}

start() {
  install_server
  BIN="$(server_bin)"
  if running; then
    printf '%s\n' "$URL"
    return
  fi
  if port_in_use; then
    log "port ${PORT} is taken by another program; set MFDAGSTER_PG_PORT to a free port"
    exit 1
  fi
  init_cluster
  # The server must not inherit the lock (fd 9): it would hold it for its lifetime.
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start \
    </dev/null >&2 9>&-
  if ! as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'" | grep -q 1; then
    as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$DB_NAME"
  fi
  printf '%s\n' "$URL"
}

stop() {
  BIN="$(server_bin)"
  if [[ -n "$BIN" ]] && running; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
  fi
  rm -rf "$DATA"
  log "stopped; removed ${DATA}"
}

main() {
  local command="${1:-start}"
  exec 9>"$LOCK"
  flock 9
  case "$command" in
    start) start ;;
    stop) stop ;;
    url) printf '%s\n' "$URL" ;;
    *)
      log "usage: $0 [start|stop|url]"
      exit 2
      ;;
  esac
}

main "$@"
