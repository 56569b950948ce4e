#!/usr/bin/env bash
# deploy/local/flink.sh start|stop|restart|status
#
# Beam's Flink job server for Stratus's integration tests, on free loopback
# ports: the job service (where `--runner flink --endpoint` submits), its
# artifact service and a Java expansion service. Jobs run on an embedded
# Flink mini cluster ([local]) in the same JVM; the Go SDK workers run
# LOOPBACK in the submitting process, so submit from this machine.
#
# start  resolves the job server from Maven Central (first run only):
#        org.apache.beam:beam-runners-flink-1.20-job-server:2.77.0 when it is
#        served, else the Flink runner module and its dependencies
#        (flink/pom.xml: Beam 2.62.0, Flink 1.19); starts it in the
#        background, waits until the job port answers, and writes
#        STRATUS_FLINK_ENDPOINT=127.0.0.1:PORT into the env file. When the
#        server already runs it only refreshes the env line.
# stop   stops it (SIGTERM, SIGKILL after 30 s) and removes the line.
# status prints the endpoint and exits 0 when it runs, 3 when not.
#
# Needs: java 11 or 17 (JAVA_HOME honoured), and mvn for the first start.
# Settings (environment):
#   STRATUS_LOCAL_DIR           cache and state (default ~/.cache/stratus-local)
#   STRATUS_LOCAL_ENV           env file (default $STRATUS_LOCAL_DIR/env)
#   STRATUS_FLINK_PORT          job service port (default: a free one)
#   STRATUS_FLINK_JOB_SERVER    Maven coordinates of the packaged job server
#                               (default org.apache.beam:beam-runners-flink-1.20-job-server:2.77.0)
#   STRATUS_FLINK_PARALLELISM   default parallelism of the mini cluster (default 2)
#   STRATUS_FLINK_HEAP          JVM heap flags (default "-Xms256m -Xmx1536m")
#   STRATUS_FLINK_LOG_LEVEL     level of the server's own log (default info; Flink's is warn)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

LOG_TAG=flink
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JS_NAME=flink
JS_TITLE="Flink job server"
JS_ENV_KEY=STRATUS_FLINK_ENDPOINT
JS_PORT_VAR=STRATUS_FLINK_PORT
JS_JAR=${STRATUS_FLINK_JOB_SERVER:-org.apache.beam:beam-runners-flink-1.20-job-server:2.77.0}
JS_MAIN=org.apache.beam.runners.flink.FlinkJobServerDriver
# shellcheck disable=SC2206 # word splitting of the heap flags is intended
JS_JVM_FLAGS=(${STRATUS_FLINK_HEAP:--Xms256m -Xmx1536m} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
  -Dorg.slf4j.simpleLogger.log.org.apache.beam="${STRATUS_FLINK_LOG_LEVEL:-info}"
  -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS)

js_args() {
  local conf="$RUN/conf"
  mkdir -p "$conf"
  # The mini cluster's settings: parallelism, slots for it, and a quiet
  # web UI left off.
  cat >"$conf/flink-conf.yaml" <<CONF
parallelism.default: ${STRATUS_FLINK_PARALLELISM:-2}
taskmanager.numberOfTaskSlots: ${STRATUS_FLINK_PARALLELISM:-2}
rest.bind-address: $LOCAL_HOST
rest.address: $LOCAL_HOST
CONF
  cp "$conf/flink-conf.yaml" "$conf/config.yaml"
  printf '%s\n' --flink-master '[local]' --flink-conf-dir "$conf"
}

# shellcheck source=jobserver.sh
. "$LOCAL_SRC/jobserver.sh"
js_main "$@"
