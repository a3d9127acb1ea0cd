#!/usr/bin/env bash
# scripts/postgres.sh — provision the PostgreSQL server finflow's tests, demo
# and benchmarks use, on a Debian machine as root. Idempotent and quick when
# everything is already there; prints one line per thing it did.
#
#   scripts/postgres.sh [start]   install if missing, start, ensure role + db
#   scripts/postgres.sh stop|restart|status
#
# Environment (all optional):
#   FINFLOW_DB_USER      role to create             (default finflow)
#   FINFLOW_DB_PASSWORD  its password               (default finflow; local dev only)
#   FINFLOW_DB_NAME      database to create         (default finflow)
#   PGPORT               port of the cluster        (default 5432)
# It prints the matching DATABASE_URL on its last line.
set -euo pipefail

user=${FINFLOW_DB_USER:-finflow}
password=${FINFLOW_DB_PASSWORD:-finflow}
dbname=${FINFLOW_DB_NAME:-finflow}
port=${PGPORT:-5432}
cmd=${1:-start}

say() { printf 'postgres: %s\n' "$*"; }
die() { printf 'postgres: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root to install and start the server (try: sudo $0 $cmd)"

install_server() {
  if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    return
  fi
  say "server not installed: apt-get install postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
}

# cluster prints "VERSION NAME" of the first cluster, creating one if none exists.
cluster() {
  local line
  line=$(pg_lsclusters -h 2>/dev/null | head -n1 || true)
  if [ -z "$line" ]; then
    local v
    v=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    say "no cluster: pg_createcluster $v main"
    pg_createcluster "$v" main --port "$port" >/dev/null
    line=$(pg_lsclusters -h | head -n1)
  fi
  awk '{print $1, $2}' <<<"$line"
}

status_of() { pg_lsclusters -h | awk -v v="$1" -v n="$2" '$1==v && $2==n {print $4}'; }

psql_admin() { runuser -u postgres -- psql -p "$port" -X -q -v ON_ERROR_STOP=1 "$@"; }

tune() {
  # Settings for a test/dev box: enough connections for parallel test
  # packages, loopback only. Durability stays on (fsync) so benchmark figures
  # are honest.
  local conf="/etc/postgresql/$1/$2/conf.d/finflow.conf"
  local want
  want=$(printf "%s\n" "listen_addresses = '127.0.0.1'" "port = $port" "max_connections = 300" "shared_buffers = 512MB")
  if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    mkdir -p "$(dirname "$conf")"
    printf '%s\n' "$want" >"$conf"
    say "wrote $conf"
    [ "$(status_of "$1" "$2")" = online ] && { pg_ctlcluster "$1" "$2" restart; say "restarted cluster $1/$2 to apply settings"; }
  fi
  return 0
}

start() {
  install_server
  read -r ver name < <(cluster)
  tune "$ver" "$name"
  if [ "$(status_of "$ver" "$name")" != online ]; then
    pg_ctlcluster "$ver" "$name" start || die "pg_ctlcluster $ver $name start failed; see /var/log/postgresql/postgresql-$ver-$name.log"
    say "started cluster $ver/$name on 127.0.0.1:$port"
  fi
  for _ in $(seq 1 50); do
    runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.2
  done
  runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p "$port" || die "server did not accept connections on 127.0.0.1:$port"

  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
    psql_admin -v u="$user" -v p="$password" <<<"CREATE ROLE :\"u\" LOGIN CREATEDB PASSWORD :'p'"
    say "created role $user (LOGIN CREATEDB)"
  fi
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")" != 1 ]; then
    psql_admin -v d="$dbname" -v u="$user" <<<"CREATE DATABASE :\"d\" OWNER :\"u\""
    say "created database $dbname"
  fi
  say "ready: PostgreSQL $ver on 127.0.0.1:$port"
  echo "DATABASE_URL=postgres://$user:$password@127.0.0.1:$port/$dbname?sslmode=disable"
}

case "$cmd" in
  start) start ;;
  stop)
    read -r ver name < <(cluster)
    pg_ctlcluster "$ver" "$name" stop -m fast && say "stopped cluster $ver/$name" ;;
  restart)
    read -r ver name < <(cluster)
    pg_ctlcluster "$ver" "$name" restart -m fast && say "restarted cluster $ver/$name" ;;
  status)
    pg_lsclusters ;;
  *) die "unknown command '$cmd' (use start, stop, restart or status)" ;;
esac
