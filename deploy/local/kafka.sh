#!/usr/bin/env bash
# deploy/local/kafka.sh start|stop|restart|status
#
# A real Apache Kafka 4.1 broker for Stratus's integration tests, on a free
# loopback port: KRaft combined mode (one process is broker and the single
# controller voter), replication factor 1, no automatic topic creation.
#
# start  resolves the Kafka jars from Maven Central into the cache (first run
#        only, or when kafka/pom.xml changes), formats fresh storage, starts
#        kafka.Kafka in the background, waits until it answers, creates the
#        Stratus topics, and writes STRATUS_KAFKA=127.0.0.1:PORT into the env
#        file. When the broker already runs it only refreshes the env line.
# stop   stops the broker (SIGTERM, SIGKILL after 30 s) and removes the line.
# status prints the address and exits 0 when the broker runs, 3 when not.
#
# Needs: java 17+ (JAVA_HOME honoured), and mvn for the first start.
# Settings (environment):
#   STRATUS_LOCAL_DIR                      cache and state (default ~/.cache/stratus-local)
#   STRATUS_LOCAL_ENV                      env file (default $STRATUS_LOCAL_DIR/env)
#   STRATUS_KAFKA_PORT                     broker port (default: a free one)
#   STRATUS_KAFKA_PARTITIONS               partitions of stratus.canvas (default 4)
#   STRATUS_KAFKA_PREDICTIONS_PARTITIONS   partitions of stratus.predictions (default 4)
#   STRATUS_KAFKA_DEADLETTER_PARTITIONS    partitions of stratus.deadletter (default 1)
#   STRATUS_KAFKA_EXTRA_TOPICS             more topics to create: "name[:partitions] ..."
#   STRATUS_KAFKA_AUTO_CREATE              auto.create.topics.enable (default false)
#   STRATUS_KAFKA_HEAP                     broker heap flags (default "-Xms256m -Xmx1g")
#   STRATUS_KAFKA_KEEP_DATA                1: keep topics and offsets from the last run
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

LOG_TAG=kafka
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_SRC="$LOCAL_SRC/kafka"
KAFKA_HOME="$STRATUS_LOCAL_DIR/kafka"
KAFKA_LIB="$KAFKA_HOME/lib"
RUN="$KAFKA_HOME/run"
PIDFILE="$RUN/kafka.pid"
LOGFILE="$RUN/kafka.log"
PROPS="$RUN/server.properties"
DATA="$RUN/data"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

usage() {
  echo "usage: $0 start|stop|restart|status" >&2
  exit 2
}

require_java() {
  command -v "$JAVA" >/dev/null 2>&1 ||
    die "java not found: Kafka 4.1 needs Java 17+ (Debian: apt-get install openjdk-17-jdk-headless, or set JAVA_HOME)"
  local v
  v=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}')
  case "$v" in
    1.* | '' ) die "java at $(command -v "$JAVA") is version '${v:-unknown}'; Kafka 4.1 needs Java 17+" ;;
  esac
  [ "${v%%.*}" -ge 17 ] || die "java at $(command -v "$JAVA") is version $v; Kafka 4.1 needs Java 17+"
}

# install resolves the jars named by kafka/pom.xml into $KAFKA_LIB, unless
# they are there already for the same pom.
install() {
  local want have="" t0
  want=$(hash_files "$KAFKA_SRC/pom.xml")
  [ -f "$KAFKA_LIB/.stamp" ] && have=$(cat "$KAFKA_LIB/.stamp")
  if [ "$want" = "$have" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: the first start resolves Kafka from Maven Central with Maven (Debian: apt-get install maven)"
  log "resolving Kafka jars from Maven Central into $KAFKA_LIB (first run only)..."
  t0=$(now_s)
  rm -rf "$KAFKA_LIB.tmp"
  mkdir -p "$KAFKA_HOME"
  if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_SRC/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB.tmp" >"$KAFKA_HOME/mvn.log" 2>&1; then
    cat "$KAFKA_HOME/mvn.log" >&2
    rm -rf "$KAFKA_LIB.tmp"
    die "mvn could not resolve the Kafka jars (output above, also in $KAFKA_HOME/mvn.log)"
  fi
  ls "$KAFKA_LIB.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "mvn left no kafka_2.13 jar in $KAFKA_LIB.tmp"
  echo "$want" >"$KAFKA_LIB.tmp/.stamp"
  rm -rf "$KAFKA_LIB"
  mv "$KAFKA_LIB.tmp" "$KAFKA_LIB"
  log "resolved $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in $(elapsed "$t0")s"
}

# java_tool CLASS ARGS... runs a Kafka command-line class with a small,
# quick-starting JVM and quiet logging.
java_tool() {
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto \
    -Dstratus.log.level=error -Dlog4j2.configurationFile="file:$RUN/log4j2.properties" \
    -cp "$KAFKA_LIB/*" "$@"
}

# new_cluster_id prints a random Kafka Uuid (16 bytes, URL-safe base64, no
# padding), like `kafka-storage.sh random-uuid` but without starting a JVM.
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    case "$id" in -*) continue ;; esac
    echo "$id"
    return 0
  done
}

write_config() {
  local port=$1 cport=$2
  cat >"$PROPS" <<EOF
# Written by deploy/local/kafka.sh: single-node KRaft (broker + controller).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$LOCAL_HOST:$cport
listeners=PLAINTEXT://$LOCAL_HOST:$port,CONTROLLER://$LOCAL_HOST:$cport
advertised.listeners=PLAINTEXT://$LOCAL_HOST:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=${STRATUS_KAFKA_AUTO_CREATE:-false}
delete.topic.enable=true
# Records up to 8 MiB: an event or a sample carrying a 2 MiB PNG in base64
# JSON (message.MaxRecordBytes).
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
  cat >"$RUN/tools.properties" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=20000
EOF
  cp "$KAFKA_SRC/log4j2.properties" "$RUN/log4j2.properties"
}

# create_topic NAME PARTITIONS creates a topic unless it exists, retrying
# while the freshly started broker is still joining its own quorum.
create_topic() {
  local name=$1 parts=$2 port=$3 out
  for _ in 1 2 3; do
    if out=$(java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$LOCAL_HOST:$port" \
      --command-config "$RUN/tools.properties" --create --if-not-exists \
      --topic "$name" --partitions "$parts" --replication-factor 1 2>&1); then
      return 0
    fi
    sleep 1
  done
  printf '%s\n' "$out" >&2
  die "could not create topic $name"
}

# warm_group_coordinator asks for a consumer group's description once, which
# makes the broker create and load __consumer_offsets. Without it the first
# consumer-group join of a test on a fresh broker meets "coordinator not
# available" / "not coordinator" errors (and kafka-go backs off 5 s).
warm_group_coordinator() {
  local port=$1 out
  for _ in 1 2 3; do
    out=$(java_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
      --bootstrap-server "$LOCAL_HOST:$port" --command-config "$RUN/tools.properties" \
      --describe --group stratus-local-warmup 2>&1) || true
    case "$out" in *GroupIdNotFound* | *"does not exist"* | *"has no active members"*) return 0 ;; esac
    sleep 1
  done
  log "warning: the group coordinator did not answer yet; first group joins may retry"
  printf '%s\n' "$out" | tail -n 3 >&2
}

running_pid() { pid_matches "$PIDFILE" "$PROPS"; }

start() {
  local pid port cport t0 attempt
  require_java
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 300 9 || die "another kafka.sh holds $RUN/.lock"

  if pid=$(running_pid); then
    port=$(cat "$RUN/port")
    env_set STRATUS_KAFKA "$LOCAL_HOST:$port"
    log "already running (pid $pid) at $LOCAL_HOST:$port"
    echo "STRATUS_KAFKA=$LOCAL_HOST:$port"
    return 0
  fi
  install
  t0=$(now_s)

  for attempt in 1 2 3; do
    if [ "$attempt" = 1 ]; then
      port=${STRATUS_KAFKA_PORT:-$(reuse_or_pick_port "$RUN/port")}
      cport=$(AVOID_PORTS="$port" reuse_or_pick_port "$RUN/controller.port")
    else
      port=${STRATUS_KAFKA_PORT:-$(pick_port)}
      cport=$(AVOID_PORTS="$port" pick_port)
    fi
    write_config "$port" "$cport"
    if [ "${STRATUS_KAFKA_KEEP_DATA:-}" = 1 ] && [ -f "$DATA/meta.properties" ]; then
      log "keeping data in $DATA"
    else
      rm -rf "$DATA"
      java_tool kafka.tools.StorageTool format -t "$(new_cluster_id)" -c "$PROPS" >/dev/null ||
        die "could not format $DATA"
    fi
    : >"$LOGFILE"
    log "starting Kafka 4.1 at $LOCAL_HOST:$port (controller $cport), log $LOGFILE"
    # shellcheck disable=SC2086
    start_bg "$PIDFILE" "$LOGFILE" "$JAVA" ${STRATUS_KAFKA_HEAP:--Xms256m -Xmx1g} \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="file:$RUN/log4j2.properties" \
      -cp "$KAFKA_LIB/*" kafka.Kafka "$PROPS"
    pid=$(cat "$PIDFILE")
    # A start that fails from here on stops the broker again, so that a later
    # `start` does not take a half-set-up broker for a ready one.
    # shellcheck disable=SC2064 # expand pid now
    trap "stop_pid $pid kafka 10; rm -f '$PIDFILE'" EXIT
    if wait_tcp "$port" 90 "$pid"; then
      break
    fi
    if alive "$pid"; then
      tail_log "$LOGFILE"
      die "Kafka did not open $LOCAL_HOST:$port within 90s"
    fi
    if [ -z "${STRATUS_KAFKA_PORT:-}" ] && grep -q -i 'address already in use' "$LOGFILE"; then
      log "port taken meanwhile; retrying with other ports"
      continue
    fi
    tail_log "$LOGFILE"
    die "Kafka exited during start-up"
  done
  echo "$port" >"$RUN/port"
  echo "$cport" >"$RUN/controller.port"

  # In parallel with topic creation (it is mostly JVM start-up).
  warm_group_coordinator "$port" &
  local warm=$!
  create_topic stratus.canvas "${STRATUS_KAFKA_PARTITIONS:-4}" "$port"
  create_topic stratus.predictions "${STRATUS_KAFKA_PREDICTIONS_PARTITIONS:-4}" "$port"
  create_topic stratus.deadletter "${STRATUS_KAFKA_DEADLETTER_PARTITIONS:-1}" "$port"
  create_topic stratus.samples "${STRATUS_KAFKA_PARTITIONS:-4}" "$port"
  local t name parts
  for t in ${STRATUS_KAFKA_EXTRA_TOPICS:-}; do
    name=${t%%:*}
    parts=1
    [ "$name" != "$t" ] && parts=${t#*:}
    create_topic "$name" "$parts" "$port"
  done
  wait "$warm" || true
  trap - EXIT

  env_set STRATUS_KAFKA "$LOCAL_HOST:$port"
  log "ready in $(elapsed "$t0")s (pid $pid); env in $STRATUS_LOCAL_ENV"
  echo "STRATUS_KAFKA=$LOCAL_HOST:$port"
}

stop() {
  local pid
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 300 9 || die "another kafka.sh holds $RUN/.lock"
  env_unset STRATUS_KAFKA
  if pid=$(running_pid); then
    log "stopping (pid $pid)..."
    stop_pid "$pid" kafka 30
    log "stopped"
  else
    log "not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid port
  if pid=$(running_pid); then
    port=$(cat "$RUN/port" 2>/dev/null || echo '?')
    if port_in_use "$port"; then
      echo "kafka: running (pid $pid) at $LOCAL_HOST:$port"
    else
      echo "kafka: process $pid is up but $LOCAL_HOST:$port does not answer (see $LOGFILE)"
    fi
    return 0
  fi
  echo "kafka: not running"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) status ;;
  *) usage ;;
esac
