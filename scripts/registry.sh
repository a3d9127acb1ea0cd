#!/usr/bin/env bash
# Local Confluent-compatible schema registry for finflow dev/tests, backed by the Kafka
# broker of scripts/kafka.sh (start that first).
#
#   scripts/registry.sh start|stop|restart|status
#   scripts/registry.sh selftest   PROTOBUF round trip + BACKWARD check on subject probe-value
#                                  (deleted permanently afterwards)
#
#   SCHEMA_REGISTRY_URL=http://127.0.0.1:${REGISTRY_PORT:-18081}/apis/ccompat/v7
#
# Which registry, and why:
#   * Karapace (first choice) is NOT installable here: it is not published on PyPI
#     (`pip install karapace` -> "ERROR: Could not find a version that satisfies the
#     requirement karapace (from versions: none)"; the PyPI simple index has no such project).
#     Upstream ships it only as a ghcr.io Docker image or a source install from GitHub,
#     and neither Docker nor GitHub is reachable from this machine.
#   * So this runs Apicurio Registry 3.0.9 (io.apicurio:apicurio-registry-app:3.0.9, the
#     `all` zip = Quarkus runner jar + lib/) from Maven Central, with its KafkaSQL storage
#     (all state in the Kafka topics kafkasql-journal, kafkasql-snapshots and registry-events,
#     created by Apicurio with retention.ms=-1, so it survives restarts) and its Confluent
#     Schema Registry v7 API under /apis/ccompat/v7.
#     3.0.9 is the newest Apicurio on Maven Central that runs on Java 17 (3.3.x needs Java 21).
#
# Differences from Confluent Schema Registry seen with this setup:
#   * global compatibility defaults to NONE (Confluent: BACKWARD) -> set it per subject with
#     PUT /config/<subject> {"compatibility":"BACKWARD"}; a subject set to NONE falls back to
#     the global rule instead of overriding it; the reply key is "compatibilityLevel".
#   * schema ids are Apicurio content ids (same text under two subjects -> same id).
#   * the schema text is returned exactly as registered (Confluent normalises it);
#     GET /schemas/ids/<id>?format=serialized is ignored (text, not a base64 descriptor).
#   * google/protobuf/*.proto well-known imports resolve without references.
# The zip (108 MB) is fetched once from Maven Central by `mvn dependency:copy` (the artifact
# io.apicurio:apicurio-registry-app:zip:all, non-transitive: its parent POM was never published,
# so a transitive resolve would fail) into .cache/registry, checked against the sha256 pinned
# below, and unpacked there; later starts reuse it.
# Pid file and log: $FINFLOW_STATE_DIR/registry (default .cache/state/registry).
#
# Env: REGISTRY_PORT (18081), KAFKA_PORT (19092), REGISTRY_HEAP (384m),
#      REGISTRY_START_TIMEOUT (90 s), REGISTRY_STOP_TIMEOUT (20 s), FINFLOW_STATE_DIR.
set -euo pipefail

LOG_TAG=registry
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

APICURIO_VERSION=3.0.9
ARTIFACT="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:zip:all"
ZIP_SHA256=8fc13160eaaafeec930a9a93b7e82da1ee8caef3eae29c9ce4b403d80a1523ea
HOST=127.0.0.1
REGISTRY_PORT="${REGISTRY_PORT:-18081}"
KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT:-19092}"
REGISTRY_HEAP="${REGISTRY_HEAP:-384m}"
REGISTRY_START_TIMEOUT="${REGISTRY_START_TIMEOUT:-90}"
REGISTRY_STOP_TIMEOUT="${REGISTRY_STOP_TIMEOUT:-20}"

BASE_URL="http://$HOST:$REGISTRY_PORT/apis/ccompat/v7"
INSTALL="$FINFLOW_CACHE/registry/apicurio-registry-app-$APICURIO_VERSION"
RUNNER="$INSTALL/apicurio-registry-app-$APICURIO_VERSION-runner.jar"
DIR="$FINFLOW_STATE_DIR/registry"
PIDFILE="$DIR/registry.pid"
LOGFILE="$DIR/registry.log"
MARKER="-Dfinflow.service=registry"

ensure_install() {
  if [[ -f $RUNNER && -d $INSTALL/lib ]]; then
    log "Apicurio Registry $APICURIO_VERSION cached in ${INSTALL#"$FINFLOW_ROOT"/}"
    return
  fi
  local t0 tmp zip
  t0=$(now_s)
  mkdir -p "$FINFLOW_CACHE/registry"
  tmp=$(mktemp -d "$FINFLOW_CACHE/registry/tmp.XXXXXX")
  # shellcheck disable=SC2064 # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  zip="$tmp/apicurio-registry-app-$APICURIO_VERSION-all.zip"
  log "fetching $ARTIFACT with mvn dependency:copy"
  mvn -q -B dependency:copy -Dartifact="$ARTIFACT" -Dtransitive=false -DoutputDirectory="$tmp" ||
    die "mvn could not fetch $ARTIFACT from Maven Central"
  echo "$ZIP_SHA256  $zip" | sha256sum -c --quiet - || die "sha256 mismatch for $zip"
  log "sha256 verified; unpacking"
  python3 -m zipfile -e "$zip" "$tmp/app"
  [[ -f $tmp/app/$(basename "$RUNNER") ]] || die "runner jar missing from the zip"
  rm -rf "$INSTALL"
  mv "$tmp/app" "$INSTALL"
  rm -rf "$tmp"
  trap - EXIT
  log "installed in $(($(now_s) - t0))s"
}

# Ready = Quarkus readiness (includes "KafkaSQL journal replayed") and the ccompat API answers.
ready() {
  [[ $(http_code "http://$HOST:$REGISTRY_PORT/health/ready") == 200 ]] &&
    [[ $(http_code "$BASE_URL/subjects") == 200 ]]
}

cmd_start() {
  local pid t0 rc=0
  if pid=$(pid_of "$PIDFILE" "$MARKER"); then
    log "already running (pid $pid): nothing to do; SCHEMA_REGISTRY_URL=$BASE_URL"
    return 0
  fi
  t0=$(now_s)
  need java mvn python3 curl
  ensure_install
  port_open "${KAFKA_BOOTSTRAP%:*}" "${KAFKA_BOOTSTRAP##*:}" ||
    die "Kafka is not reachable on $KAFKA_BOOTSTRAP: run scripts/kafka.sh start first"
  ! port_open "$HOST" "$REGISTRY_PORT" || die "port $HOST:$REGISTRY_PORT is already in use by another process"
  mkdir -p "$DIR/tmp"
  start_bg "$PIDFILE" "$LOGFILE" java "$MARKER" -Xms128m "-Xmx$REGISTRY_HEAP" -XX:+UseSerialGC \
    -XX:TieredStopAtLevel=1 -Djava.awt.headless=true "-Djava.io.tmpdir=$DIR/tmp" \
    -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.http.access-log.enabled=false -Dquarkus.log.level=INFO \
    '-Dquarkus.log.console.format=%d{yyyy-MM-dd HH:mm:ss,SSS} %p [%c{3.}] (%t) %m%n' \
    '-Dquarkus.log.category."org.apache.kafka".level=WARN' \
    -Dapicurio.storage.kind=kafkasql \
    -Dapicurio.kafkasql.bootstrap.servers="$KAFKA_BOOTSTRAP" \
    -Dapicurio.kafkasql.topic=kafkasql-journal \
    -Dapicurio.kafkasql.snapshots.topic=kafkasql-snapshots \
    -Dapicurio.kafkasql.topic.retention.ms=-1 \
    -Dapicurio.kafkasql.consumer.poll.timeout=1000 \
    -Dapicurio.rest.deletion.group.enabled=true \
    -Dapicurio.rest.deletion.artifact.enabled=true \
    -Dapicurio.rest.deletion.artifact-version.enabled=true \
    -Dapicurio.storage.snapshot.location="$DIR/tmp" -Dapicurio.import.work-dir="$DIR/tmp" \
    -jar "$RUNNER"
  pid=$(<"$PIDFILE")
  log "started java pid $pid, waiting up to ${REGISTRY_START_TIMEOUT}s for /health/ready and GET $BASE_URL/subjects (log: $LOGFILE)"
  wait_until "$REGISTRY_START_TIMEOUT" "$pid" ready || rc=$?
  case $rc in
    0) log "ready in $(($(now_s) - t0))s (pid $pid, rss $(rss_mb "$pid")MiB)"
       log "SCHEMA_REGISTRY_URL=$BASE_URL" ;;
    2) rm -f "$PIDFILE"; fail_with_log "$LOGFILE" "registry exited during startup" ;;
    *) kill -KILL "$pid" 2>/dev/null || true; rm -f "$PIDFILE"
       fail_with_log "$LOGFILE" "registry not ready after ${REGISTRY_START_TIMEOUT}s (killed pid $pid)" ;;
  esac
}

cmd_stop() { stop_pid "$PIDFILE" "$MARKER" registry "$REGISTRY_STOP_TIMEOUT"; }

cmd_status() {
  local pid
  if pid=$(pid_of "$PIDFILE" "$MARKER"); then
    if ready; then
      log "running (pid $pid, rss $(rss_mb "$pid")MiB); SCHEMA_REGISTRY_URL=$BASE_URL"
      return 0
    fi
    log "process $pid alive but GET $BASE_URL/subjects is not 200"
    return 1
  fi
  log "stopped"
  return 3
}

# selftest: register a proto3 schema importing google/protobuf/timestamp.proto under
# probe-value (compatibility BACKWARD), read it back by id, check that retyping a field is
# rejected (409) and adding a field is accepted, then delete the subject permanently.
cmd_selftest() {
  ready || die "registry not ready at $BASE_URL (run: $0 start)"
  local subj=probe-value ct='Content-Type: application/vnd.schemaregistry.v1+json' v1 v2 v3 out id code
  payload() { python3 -c 'import json,sys; print(json.dumps({"schemaType": "PROTOBUF", "schema": sys.argv[1]}))' "$1"; }
  v1='syntax = "proto3";
package finflow.probe.v1;

import "google/protobuf/timestamp.proto";

message Probe {
  string id = 1;
  google.protobuf.Timestamp event_time = 2;
  int64 amount_minor = 3;
}
'
  v2=${v1/int64 amount_minor/string amount_minor}
  v3=${v1/int64 amount_minor = 3;/int64 amount_minor = 3;
  string note = 4;}
  curl -fsS -o /dev/null -X DELETE "$BASE_URL/subjects/$subj" 2>/dev/null || true
  curl -fsS -o /dev/null -X DELETE "$BASE_URL/subjects/$subj?permanent=true" 2>/dev/null || true
  curl -fsS -o /dev/null -X PUT -H "$ct" --data '{"compatibility":"BACKWARD"}' "$BASE_URL/config/$subj" ||
    die "PUT /config/$subj failed"
  out=$(curl -fsS -X POST -H "$ct" --data "$(payload "$v1")" "$BASE_URL/subjects/$subj/versions") ||
    die "registering the PROTOBUF schema failed"
  id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")
  log "registered PROTOBUF schema under $subj: id $id"
  out=$(curl -fsS "$BASE_URL/schemas/ids/$id")
  python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (d.get("schemaType")=="PROTOBUF" and d["schema"]==sys.argv[1]))' \
    "$v1" <<<"$out" || die "GET /schemas/ids/$id did not return the registered PROTOBUF text: $out"
  log "GET /schemas/ids/$id returned the same schema text, schemaType PROTOBUF"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$ct" --data "$(payload "$v2")" "$BASE_URL/subjects/$subj/versions")
  [[ $code == 409 ]] || die "retyping a field was not rejected (HTTP $code, want 409)"
  log "incompatible change (int64 -> string) rejected with HTTP 409"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$ct" --data "$(payload "$v3")" "$BASE_URL/subjects/$subj/versions")
  [[ $code == 200 ]] || die "compatible change (new field) was not accepted (HTTP $code)"
  log "compatible change (new field) accepted"
  curl -fsS -o /dev/null -X DELETE "$BASE_URL/subjects/$subj"
  curl -fsS -o /dev/null -X DELETE "$BASE_URL/subjects/$subj?permanent=true"
  log "selftest passed (subject $subj deleted)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  selftest) cmd_selftest ;;
  *) echo "usage: $0 start|stop|restart|status|selftest" >&2; exit 2 ;;
esac
