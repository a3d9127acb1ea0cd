# shellcheck shell=bash
# Shared helpers for scripts/kafka.sh and scripts/registry.sh. Source it; do not run it.
# Callers set LOG_TAG (prefix of every line) before using log/die.

# FINFLOW_ROOT: the repository root (this file lives in <root>/scripts).
FINFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034 # used by the sourcing scripts
FINFLOW_CACHE="$FINFLOW_ROOT/.cache"
# State dir: absolute, or relative to the repo root (never to the caller's cwd).
FINFLOW_STATE_DIR="${FINFLOW_STATE_DIR:-.cache/state}"
case "$FINFLOW_STATE_DIR" in /*) ;; *) FINFLOW_STATE_DIR="$FINFLOW_ROOT/$FINFLOW_STATE_DIR" ;; esac

log() { printf '[%s] %s\n' "${LOG_TAG:-finflow}" "$*"; }
die() { printf '[%s] ERROR: %s\n' "${LOG_TAG:-finflow}" "$*" >&2; exit 1; }

need() { # need CMD... : fail unless every command exists
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || die "required command not found: $c"; done
}

now_s() { date +%s; }

# port_open HOST PORT: true if a TCP connect succeeds within 1s.
port_open() {
  # shellcheck disable=SC2016 # $0/$1 expand in the child bash
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# http_code URL: prints the HTTP status code (000 when unreachable).
http_code() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

# pid_of PIDFILE MARKER: prints the pid if it is alive and its command line
# contains MARKER (guards against a stale pid file and pid reuse); else fails.
pid_of() {
  local pidfile=$1 marker=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# start_bg PIDFILE LOGFILE CMD...: run CMD detached (own session, no stdin),
# appending stdout+stderr to LOGFILE; writes its pid to PIDFILE.
start_bg() {
  local pidfile=$1 logfile=$2
  shift 2
  printf '\n===== %s start: %s\n' "$(date '+%F %T')" "$*" >>"$logfile"
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# wait_until TIMEOUT_S PID CMD...: poll CMD every 0.5s until it succeeds.
# Fails early if PID dies, or after TIMEOUT_S seconds.
wait_until() {
  local timeout=$1 pid=$2 deadline
  shift 2
  deadline=$(($(now_s) + timeout))
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || return 2
    (($(now_s) < deadline)) || return 1
    sleep 0.5
  done
}

# stop_pid PIDFILE MARKER NAME [TIMEOUT_S]: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local pidfile=$1 marker=$2 name=$3 timeout=${4:-30} pid deadline
  if ! pid=$(pid_of "$pidfile" "$marker"); then
    log "$name is not running"
    rm -f "$pidfile"
    return 0
  fi
  log "stopping $name (pid $pid, SIGTERM, up to ${timeout}s)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(now_s) + timeout))
  while kill -0 "$pid" 2>/dev/null && (($(now_s) < deadline)); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not exit in ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$pidfile"
  log "$name stopped"
}

# rss_mb PID: resident memory of PID in MiB.
rss_mb() { awk '/^VmRSS:/ {printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null; }

# fail_with_log LOGFILE MESSAGE: print the last 50 log lines, then die.
fail_with_log() {
  local logfile=$1
  shift
  {
    echo "----- last 50 lines of $logfile -----"
    tail -n 50 "$logfile" 2>/dev/null || true
    echo "-----"
  } >&2
  die "$*"
}

# mvn_quiet ARGS...: batch-mode, strict-checksum Maven with output kept for errors.
mvn_quiet() {
  need mvn
  local out
  out=$(mktemp)
  if ! mvn -B -q -C "$@" >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    die "mvn $* failed"
  fi
  rm -f "$out"
}
