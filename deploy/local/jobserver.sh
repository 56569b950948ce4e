# shellcheck shell=bash
# Shared part of deploy/local/flink.sh and spark.sh: install, start, stop
# and report one of Beam's portable job servers. Source it after lib.sh,
# with these set:
#
#   JS_NAME        flink | spark (folder under STRATUS_LOCAL_DIR, log tag)
#   JS_TITLE       what to call it in messages
#   JS_ENV_KEY     env-file key of its job endpoint (STRATUS_FLINK_ENDPOINT)
#   JS_PORT_VAR    variable that fixes the job port (STRATUS_FLINK_PORT)
#   JS_JAR         Maven coordinates of the packaged job server (one jar)
#   JS_MAIN        its main class
#   JS_JVM_FLAGS   JVM flags (array)
#   js_args        function printing the server's own arguments, one a line,
#                  after the common ones (--job-port and the others)
#
# Layout: $STRATUS_LOCAL_DIR/$JS_NAME/lib (jars, kept between runs),
# $STRATUS_LOCAL_DIR/$JS_NAME/run (log, pid, ports, staged artifacts).

JS_SRC="$LOCAL_SRC/$JS_NAME"
JS_HOME="$STRATUS_LOCAL_DIR/$JS_NAME"
JS_LIB="$JS_HOME/lib"
RUN="$JS_HOME/run"
PIDFILE="$RUN/$JS_NAME.pid"
LOGFILE="$RUN/$JS_NAME.log"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

usage() {
  echo "usage: $0 start|stop|restart|status" >&2
  exit 2
}

require_java() {
  command -v "$JAVA" >/dev/null 2>&1 ||
    die "java not found: Beam's $JS_TITLE needs Java 11 or 17 (Debian: apt-get install openjdk-17-jdk-headless, or set JAVA_HOME)"
  local v
  v=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}')
  case "$v" in
    1.* | '') die "java at $(command -v "$JAVA") is version '${v:-unknown}'; Beam's $JS_TITLE needs Java 11 or 17" ;;
  esac
}

# install puts the job server's jars into $JS_LIB, unless they are there
# for the same pom and coordinates: the packaged job server (JS_JAR) when
# Maven Central serves it, else the runner module with its dependencies
# ($JS_NAME/pom.xml), which is the same server on a class path.
install() {
  local want have="" t0
  want=$(printf '%s\n%s\n' "$JS_JAR" "$(hash_files "$JS_SRC/pom.xml")" | sha256sum | cut -d' ' -f1)
  [ -f "$JS_LIB/.stamp" ] && have=$(cat "$JS_LIB/.stamp")
  if [ "$want" = "$have" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: the first start resolves the $JS_TITLE from Maven Central with Maven (Debian: apt-get install maven)"
  t0=$(now_s)
  rm -rf "$JS_LIB.tmp"
  mkdir -p "$JS_HOME" "$JS_LIB.tmp"
  log "resolving $JS_JAR from Maven Central (first run only)..."
  if mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$JS_JAR" \
    -DoutputDirectory="$JS_LIB.tmp" >"$JS_HOME/mvn.log" 2>&1; then
    echo "jar $JS_JAR" >"$JS_LIB.tmp/.source"
  else
    log "not served; resolving the runner and its dependencies ($JS_NAME/pom.xml) instead..."
    rm -rf "$JS_LIB.tmp"
    if ! mvn -q -B -Dstyle.color=never -f "$JS_SRC/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$JS_LIB.tmp" >>"$JS_HOME/mvn.log" 2>&1; then
      tail -n 40 "$JS_HOME/mvn.log" >&2
      rm -rf "$JS_LIB.tmp"
      die "mvn could not resolve the $JS_TITLE (output above, all of it in $JS_HOME/mvn.log)"
    fi
    echo "pom $JS_SRC/pom.xml" >"$JS_LIB.tmp/.source"
  fi
  echo "$want" >"$JS_LIB.tmp/.stamp"
  rm -rf "$JS_LIB"
  mv "$JS_LIB.tmp" "$JS_LIB"
  log "resolved $(find "$JS_LIB" -name '*.jar' | wc -l) jars ($(du -sh "$JS_LIB" | cut -f1)) in $(elapsed "$t0")s"
}

running_pid() { pid_matches "$PIDFILE" "$JS_MAIN"; }

# endpoint prints host:port of the running server's job service.
endpoint() { echo "$LOCAL_HOST:$(cat "$RUN/port")"; }

start() {
  local pid port aport eport t0 attempt args
  require_java
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 300 9 || die "another $JS_NAME.sh holds $RUN/.lock"

  if pid=$(running_pid); then
    env_set "$JS_ENV_KEY" "$(endpoint)"
    log "already running (pid $pid) at $(endpoint)"
    echo "$JS_ENV_KEY=$(endpoint)"
    return 0
  fi
  install
  t0=$(now_s)
  for attempt in 1 2 3; do
    if [ "$attempt" = 1 ]; then
      port=${!JS_PORT_VAR:-$(reuse_or_pick_port "$RUN/port")}
    else
      port=${!JS_PORT_VAR:-$(pick_port)}
    fi
    aport=$(AVOID_PORTS="$port" pick_port)
    eport=$(AVOID_PORTS="$port $aport" pick_port)
    rm -rf "$RUN/artifacts"
    mkdir -p "$RUN/artifacts"
    mapfile -t args < <(js_args)
    : >"$LOGFILE"
    log "starting the $JS_TITLE at $LOCAL_HOST:$port (artifacts $aport, expansion $eport), log $LOGFILE"
    start_bg "$PIDFILE" "$LOGFILE" "$JAVA" "${JS_JVM_FLAGS[@]}" -cp "$JS_LIB/*" "$JS_MAIN" \
      --job-host "$LOCAL_HOST" --job-port "$port" --artifact-port "$aport" --expansion-port "$eport" \
      --artifacts-dir "$RUN/artifacts" "${args[@]}"
    pid=$(cat "$PIDFILE")
    # shellcheck disable=SC2064 # expand pid now
    trap "stop_pid $pid $JS_NAME 10; rm -f '$PIDFILE'" EXIT
    if wait_tcp "$port" 120 "$pid"; then
      break
    fi
    if alive "$pid"; then
      tail_log "$LOGFILE"
      die "the $JS_TITLE did not open $LOCAL_HOST:$port within 120s"
    fi
    if [ -z "${!JS_PORT_VAR:-}" ] && grep -q -i 'address already in use' "$LOGFILE"; then
      log "port taken meanwhile; retrying with other ports"
      continue
    fi
    tail_log "$LOGFILE"
    die "the $JS_TITLE exited during start-up"
  done
  echo "$port" >"$RUN/port"
  echo "$aport $eport" >"$RUN/other.ports"
  trap - EXIT
  env_set "$JS_ENV_KEY" "$LOCAL_HOST:$port"
  log "ready in $(elapsed "$t0")s (pid $pid); env in $STRATUS_LOCAL_ENV"
  echo "$JS_ENV_KEY=$LOCAL_HOST:$port"
}

stop() {
  local pid
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 300 9 || die "another $JS_NAME.sh holds $RUN/.lock"
  env_unset "$JS_ENV_KEY"
  if pid=$(running_pid); then
    log "stopping (pid $pid)..."
    stop_pid "$pid" "$JS_NAME" 30
    log "stopped"
  else
    log "not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid=$(running_pid); then
    if port_in_use "$(cat "$RUN/port" 2>/dev/null || echo 0)"; then
      echo "$JS_NAME: running (pid $pid) at $(endpoint) ($(cut -d' ' -f1 "$JS_LIB/.source" 2>/dev/null || echo '?') install)"
    else
      echo "$JS_NAME: process $pid is up but $(endpoint) does not answer (see $LOGFILE)"
    fi
    return 0
  fi
  echo "$JS_NAME: not running"
  return 3
}

js_main() {
  case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop && start ;;
    status) status ;;
    *) usage ;;
  esac
}
