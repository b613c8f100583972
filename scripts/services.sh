#!/usr/bin/env bash
# Starts (idempotently) the services the tests, the demo and the benchmarks
# need, and writes their addresses to .run/env:
#   - moto_server (AWS API emulator) from a project venv, on a free port;
#   - a throwaway PostgreSQL cluster with SCRAM password authentication on
#     TCP and log_statement=all, on a free port (the machine's main cluster
#     trusts every local login, so it cannot prove anything about passwords).
# Usage: scripts/services.sh [start|stop]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN="$ROOT/.run"
mkdir -p "$RUN"
ID=$(printf '%s' "$ROOT" | md5sum | cut -c1-8)
PGDIR="/tmp/srs-pg-$ID"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

stop() {
  if [ -f "$RUN/moto.pid" ]; then kill "$(cat "$RUN/moto.pid")" 2>/dev/null || true; rm -f "$RUN/moto.pid"; fi
  if [ -d "$PGDIR/data" ]; then
    runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -f "$RUN/env"
}

start_moto() {
  if [ ! -x "$ROOT/.venv/bin/moto_server" ]; then
    python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
  fi
  if [ -f "$RUN/moto.pid" ] && kill -0 "$(cat "$RUN/moto.pid")" 2>/dev/null; then
    return
  fi
  local port
  port=$(free_port)
  nohup "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$RUN/moto.log" 2>&1 &
  echo $! >"$RUN/moto.pid"
  echo "$port" >"$RUN/moto.port"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
      return
    fi
    sleep 0.1
  done
  echo "moto_server did not start; see $RUN/moto.log" >&2
  exit 1
}

start_pg() {
  local bin port
  bin=$(pg_bin)
  if [ -z "$bin" ]; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    bin=$(pg_bin)
  fi
  if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
    rm -rf "$PGDIR"
    mkdir -p "$PGDIR/sock"
    chown -R postgres:postgres "$PGDIR"
    runuser -u postgres -- "$bin/initdb" -D "$PGDIR/data" -U postgres \
      --auth-host=scram-sha-256 --auth-local=trust >"$PGDIR/initdb.log" 2>&1
    port=$(free_port)
    cat >>"$PGDIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PGDIR/sock'
password_encryption = 'scram-sha-256'
log_statement = 'all'
log_connections = on
logging_collector = off
ssl = off
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
    echo "$port" >"$PGDIR/port"
  fi
  port=$(cat "$PGDIR/port")
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w start >/dev/null
  fi
  chmod 0644 "$PGDIR/server.log" 2>/dev/null || true
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac

start_moto
start_pg
cat >"$RUN/env" <<ENV
export SRS_AWS_ENDPOINT=http://127.0.0.1:$(cat "$RUN/moto.port")
export SRS_PG_PORT=$(cat "$PGDIR/port")
export SRS_PG_SOCKET_DIR=$PGDIR/sock
export SRS_PG_LOG=$PGDIR/server.log
ENV
echo "services up: $(tr '\n' ' ' <"$RUN/env")"
