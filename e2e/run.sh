#!/usr/bin/env bash
# e2e/run.sh — what `make e2e` runs. Provisions PostgreSQL, Apache Kafka and the
# schema registry with the project's scripts (downloads are cached in .cache, so a
# second run starts in seconds), builds the producer and writer, prepares the cached
# Python venv for the independent consumer, runs the suite (go test -tags e2e), and
# stops whatever it started, however the run ends. A component that cannot be
# installed or started fails the run with the reason; nothing is skipped.
#
# Env (all optional): E2E_RECORDS (300000), E2E_RATE (50000/s, 0 = unlimited),
# E2E_POISON_PER_KIND (2 per wave), E2E_LOG_DIR (a new /tmp/finflow-e2e-* dir),
# E2E_STOP_GRACE (30s a writer gets to exit 0 on SIGTERM), E2E_KEEP=1 (keep topic,
# subjects and group), KAFKA_PORT, REGISTRY_PORT,
# FINFLOW_STATE_DIR, DATABASE_URL (admin URL the test databases are created from).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '[e2e] %s\n' "$*"; }
die() { printf '[e2e] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

T0=$(now)
STARTED=()   # components this run started, stopped in reverse order at exit
BIN=""
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    say "stopping ${STARTED[i]} (started by this run)"
    bash "$ROOT/scripts/${STARTED[i]}.sh" stop || say "WARNING: scripts/${STARTED[i]}.sh stop failed"
  done
  [[ -z $BIN ]] || rm -rf "$BIN"
  say "finished with status $rc in $(($(now) - T0))s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ensure NAME: start scripts/NAME.sh unless it is already running.
ensure() {
  local name=$1 t0
  t0=$(now)
  if running "$name"; then
    say "$name already running: leaving it as it is"
    return
  fi
  STARTED+=("$name")
  bash "$ROOT/scripts/$name.sh" start || die "$name could not be installed or started (scripts/$name.sh start failed; see above)"
  running "$name" || die "$name reports started but is not running"
  say "$name ready in $(($(now) - t0))s"
}
running() {
  case $1 in
    postgres) bash "$ROOT/scripts/postgres.sh" status 2>/dev/null | awk 'NR > 1 && $4 == "online" {ok = 1} END {exit !ok}' ;;
    *) bash "$ROOT/scripts/$1.sh" status >/dev/null 2>&1 ;;
  esac
}

say "building producer and writer"
t0=$(now)
BIN=$(mktemp -d /tmp/finflow-e2e-bin.XXXXXX)
go build -o "$BIN/" ./services/producer/cmd/producer ./services/writer/cmd/writer ||
  die "the producer or writer does not build (go build ./services/producer/cmd/producer ./services/writer/cmd/writer)"
say "built in $(($(now) - t0))s"

# The venv is re-created when the requirements or the interpreter change.
VENV="$ROOT/.cache/e2e-venv"
REQ="$ROOT/e2e/python/requirements.txt"
command -v python3 >/dev/null || die "python3 is required for the independent consumer"
want="$(sha256sum "$REQ" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0])')"
if [[ ! -x $VENV/bin/python || ! -f $VENV/.stamp || $(<"$VENV/.stamp") != "$want" ]]; then
  t0=$(now)
  say "creating the Python venv ${VENV#"$ROOT"/} from e2e/python/requirements.txt"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" || die "pip install -r e2e/python/requirements.txt failed"
  echo "$want" >"$VENV/.stamp"
  say "venv ready in $(($(now) - t0))s"
else
  say "Python venv cached in ${VENV#"$ROOT"/}"
fi

say "components"
ensure postgres
ensure kafka
ensure registry

LOG_DIR="${E2E_LOG_DIR:-$(mktemp -d /tmp/finflow-e2e.XXXXXX)}"
say "suite (logs in $LOG_DIR); components took $(($(now) - T0))s"
cd e2e
E2E_BIN_DIR="$BIN" E2E_PYTHON="$VENV/bin/python" E2E_LOG_DIR="$LOG_DIR" FINFLOW_ROOT="$ROOT" \
  KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-19092}" \
  SCHEMA_REGISTRY_URL="http://127.0.0.1:${REGISTRY_PORT:-18081}/apis/ccompat/v7" \
  go test -tags e2e -count=1 -v -timeout 20m .
