#!/usr/bin/env bash
# scripts/prometheus.sh — Debian's Prometheus and promtool for finflow's rule
# checks and the observability tests (which start their own prometheus on a
# free port; nothing here runs a server).
#
#   scripts/prometheus.sh ensure   install the `prometheus` package if promtool
#                                  or prometheus is missing (as root)
#   scripts/prometheus.sh check    ensure, then promtool check config, check
#                                  rules and test rules on observability/prometheus
#
# The package's maintainer scripts try to start a prometheus service on :9090.
# A policy-rc.d forbids that during the install, and any prometheus process
# that still appeared during it is stopped, so nothing is left listening.
set -euo pipefail

cmd=${1:-ensure}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/observability/prometheus"

say() { printf 'prometheus: %s\n' "$*"; }
die() { printf 'prometheus: error: %s\n' "$*" >&2; exit 1; }

# prometheus_pids: pids of running /usr/bin/prometheus servers.
prometheus_pids() {
  local p exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null || true)
    [ "$exe" = /usr/bin/prometheus ] && echo "${p#/proc/}"
  done
  return 0
}

ensure() {
  if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "promtool/prometheus missing and not root: run 'sudo $0 ensure' (apt-get install prometheus)"
  say "promtool or prometheus missing: apt-get install prometheus"
  local before policy=/usr/sbin/policy-rc.d made_policy=
  before=" $(prometheus_pids | tr '\n' ' ') "
  if [ ! -e "$policy" ]; then
    # 101 = "action forbidden": invoke-rc.d / deb-systemd-invoke skip the start.
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local ok=1
  apt-get update -qq || ok=
  # No recommends: they would pull in (and start) prometheus-node-exporter.
  [ -n "$ok" ] && { apt-get install -y -qq --no-install-recommends prometheus >/dev/null || ok=; }
  [ -n "$made_policy" ] && rm -f "$policy"
  [ -n "$ok" ] || die "apt-get install prometheus failed"

  # Stop a server the package started anyway (e.g. a policy-rc.d was ignored).
  local pid
  for pid in $(prometheus_pids); do
    case "$before" in *" $pid "*) continue ;; esac
    say "stopping prometheus pid $pid started by the package install"
    if [ -x /etc/init.d/prometheus ]; then /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  command -v promtool >/dev/null 2>&1 || die "promtool still missing after installing prometheus"
  say "installed: $(promtool --version 2>&1 | head -n1)"
}

check() {
  ensure
  # check config also loads the rule files it names.
  promtool check config "$dir/prometheus.yml"
  promtool check rules "$dir/alerts.yml"
  (cd "$dir" && promtool test rules alerts_test.yml)
}

case "$cmd" in
  ensure) ensure ;;
  check) check ;;
  *) die "unknown command '$cmd' (use ensure or check)" ;;
esac
