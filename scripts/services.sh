#!/usr/bin/env bash
# Starts (idempotently) the services the tests, the demo and the benchmarks
# need, and writes their addresses to .run/env:
#   - moto_server (AWS API emulator) from a project venv, on a free port;
#   - a throwaway PostgreSQL cluster with SCRAM password authentication on
#     TCP and log_statement=all, on a free port (the machine's main cluster
#     trusts every local login, so it cannot prove anything about passwords);
#   - MariaDB (the machine's, started or installed if missing) with an admin
#     account `srs_admin` for the tests over TCP and the general log on, so
#     that tests can look for passwords in it;
#   - a dedicated Redis on a free port (never the shared 6379) with ACL
#     users: `default` off, `srs_admin` with every right, no persistence,
#     every command in the slow log.
# Usage: scripts/services.sh [start|stop]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN="$ROOT/.run"
mkdir -p "$RUN"
ID=$(printf '%s' "$ROOT" | md5sum | cut -c1-8)
PGDIR="/tmp/srs-pg-$ID"
# MariaDB is the machine's, shared by every checkout: one general log for
# all of them, and an admin account per checkout (so that two checkouts
# running at once do not reset each other's password).
MYDIR="/tmp/srs-mysql"
MYADMIN="srs_admin_$ID"
RDDIR="/tmp/srs-redis-$ID"

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
  if [ -f "$RDDIR/redis.pid" ]; then kill "$(cat "$RDDIR/redis.pid")" 2>/dev/null || true; rm -f "$RDDIR/redis.pid"; fi
  # The machine's MariaDB is shared: it is left running.
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

secret_file() { # a random password kept across runs: $1 = file
  if [ ! -s "$1" ]; then
    python3 -c 'import secrets; print("Srs-" + secrets.token_hex(16))' >"$1"
    chmod 0600 "$1"
  fi
  cat "$1"
}

start_mysql() {
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
  fi
  if ! mariadb-admin ping >/dev/null 2>&1; then
    install -d -o mysql -g mysql /run/mysqld
    if [ ! -d /var/lib/mysql/mysql ]; then
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
    start-stop-daemon --start --oknodo --background --chuid mysql \
      --exec /usr/sbin/mariadbd -- --user=mysql
    for _ in $(seq 1 100); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.2; done
    mariadb-admin ping >/dev/null 2>&1 || { echo "MariaDB did not start" >&2; exit 1; }
  fi
  mkdir -p "$MYDIR"
  chown mysql:mysql "$MYDIR"
  local pw hash
  pw=$(secret_file "$RUN/mysql_admin_pw")
  # As a mysql_native_password hash, so that the general log never holds it.
  hash=$(python3 -c 'import hashlib,sys; print("*" + hashlib.sha1(hashlib.sha1(sys.argv[1].encode()).digest()).hexdigest().upper())' "$pw")
  mariadb --batch <<SQL
CREATE USER IF NOT EXISTS '$MYADMIN'@'%' IDENTIFIED BY PASSWORD '$hash';
ALTER USER '$MYADMIN'@'%' IDENTIFIED BY PASSWORD '$hash';
GRANT ALL PRIVILEGES ON *.* TO '$MYADMIN'@'%' WITH GRANT OPTION;
SET GLOBAL general_log_file = '$MYDIR/general.log';
SET GLOBAL general_log = ON;
SQL
  mariadb --batch --skip-column-names -e 'SELECT @@port' >"$MYDIR/port"
}

start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  mkdir -p "$RDDIR"
  local pw port
  pw=$(secret_file "$RUN/redis_admin_pw")
  if [ -f "$RDDIR/redis.pid" ] && kill -0 "$(cat "$RDDIR/redis.pid")" 2>/dev/null \
     && REDISCLI_AUTH="$pw" redis-cli -p "$(cat "$RDDIR/port")" --user srs_admin ping 2>/dev/null | grep -q PONG; then
    return
  fi
  port=$(free_port)
  cat >"$RDDIR/redis.conf" <<CONF
bind 127.0.0.1
port $port
save ""
appendonly no
daemonize yes
dir $RDDIR
pidfile $RDDIR/redis.pid
logfile $RDDIR/redis.log
slowlog-log-slower-than 0
slowlog-max-len 100000
user default off
user srs_admin on >$pw ~* &* +@all
CONF
  chmod 0600 "$RDDIR/redis.conf"
  redis-server "$RDDIR/redis.conf"
  echo "$port" >"$RDDIR/port"
  for _ in $(seq 1 50); do
    REDISCLI_AUTH="$pw" redis-cli -p "$port" --user srs_admin ping 2>/dev/null | grep -q PONG && return
    sleep 0.1
  done
  echo "redis-server did not start; see $RDDIR/redis.log" >&2
  exit 1
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac

start_moto
start_pg
start_mysql
start_redis
cat >"$RUN/env" <<ENV
export SRS_AWS_ENDPOINT=http://127.0.0.1:$(cat "$RUN/moto.port")
export SRS_PG_PORT=$(cat "$PGDIR/port")
export SRS_PG_SOCKET_DIR=$PGDIR/sock
export SRS_PG_LOG=$PGDIR/server.log
export SRS_MYSQL_HOST=127.0.0.1
export SRS_MYSQL_PORT=$(cat "$MYDIR/port")
export SRS_MYSQL_ADMIN_USER=$MYADMIN
export SRS_MYSQL_ADMIN_PASSWORD=$(cat "$RUN/mysql_admin_pw")
export SRS_MYSQL_LOG=$MYDIR/general.log
export SRS_REDIS_HOST=127.0.0.1
export SRS_REDIS_PORT=$(cat "$RDDIR/port")
export SRS_REDIS_ADMIN_USER=srs_admin
export SRS_REDIS_ADMIN_PASSWORD=$(cat "$RUN/redis_admin_pw")
ENV
chmod 0600 "$RUN/env"
echo "services up: moto, PostgreSQL :$(cat "$PGDIR/port"), MariaDB :$(cat "$MYDIR/port"), Redis :$(cat "$RDDIR/port")"
