# shellcheck shell=bash
# Shared helpers for deploy/local/*.sh. Source it; do not run it.
#
# Layout under STRATUS_LOCAL_DIR (default ~/.cache/stratus-local):
#   env                     KEY=VALUE lines for callers to source
#                           (STRATUS_KAFKA=127.0.0.1:PORT, STRATUS_COUCHDB=http://127.0.0.1:PORT)
#   kafka/lib/              Kafka jars resolved by Maven (kept between runs)
#   kafka/run/              server.properties, data, kafka.log, kafka.pid, port
#   couchdb/app/            node_modules + server.js (kept between runs)
#   couchdb/run/            couchdb.log, couchdb.pid, port

STRATUS_LOCAL_DIR="${STRATUS_LOCAL_DIR:-$HOME/.cache/stratus-local}"
STRATUS_LOCAL_ENV="${STRATUS_LOCAL_ENV:-$STRATUS_LOCAL_DIR/env}"
# shellcheck disable=SC2034 # used by the scripts that source this file
LOCAL_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export STRATUS_LOCAL_DIR STRATUS_LOCAL_ENV

# Loopback address every service binds to and advertises.
LOCAL_HOST=127.0.0.1

log() { printf '%s: %s\n' "${LOG_TAG:-local}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${LOG_TAG:-local}" "$*" >&2; exit 1; }

# now_s prints seconds since the epoch with millisecond precision.
now_s() { date +%s.%N | cut -c1-14; }

# elapsed START prints the seconds since START (from now_s), one decimal.
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# hash_files FILE... prints one checksum over the named files' contents.
hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

# port_in_use PORT succeeds when something accepts TCP connections on
# LOCAL_HOST:PORT. Uses bash's /dev/tcp, so it needs no extra tools.
port_in_use() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$LOCAL_HOST/$1" 2>/dev/null
}

# pick_port prints a port on LOCAL_HOST that nothing listens on. It draws
# from 20000-32767, below Linux's default ephemeral range (32768-60999), so
# outgoing connections' source ports cannot take it before the server binds.
# Ports listed in the variable AVOID_PORTS are skipped.
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
    case " ${AVOID_PORTS:-} " in *" $p "*) continue ;; esac
    if ! port_in_use "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found on $LOCAL_HOST"
}

# reuse_or_pick_port FILE prints the port recorded in FILE when it is still
# free (stable addresses across restarts), else a fresh one from pick_port.
reuse_or_pick_port() {
  local p=""
  [ -f "$1" ] && p=$(cat "$1" 2>/dev/null)
  case "$p" in '' | *[!0-9]*) p="" ;; esac
  case " ${AVOID_PORTS:-} " in *" $p "*) p="" ;; esac
  if [ -n "$p" ] && ! port_in_use "$p"; then
    echo "$p"
  else
    pick_port
  fi
}

# wait_tcp PORT SECONDS [PID] waits until LOCAL_HOST:PORT accepts a
# connection; fails after SECONDS, or at once if process PID has exited.
wait_tcp() {
  local port=$1 limit=$2 pid=${3:-} deadline
  deadline=$(($(date +%s) + limit))
  while ! port_in_use "$port"; do
    if [ -n "$pid" ] && ! alive "$pid"; then
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.2
  done
}

# pid_matches PIDFILE PATTERN prints the pid recorded in PIDFILE and succeeds
# when that process is alive and its command line contains PATTERN (so a
# recycled pid never gets mistaken for ours).
pid_matches() {
  local pidfile=$1 pattern=$2 pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
  echo "$pid"
}

# alive PID succeeds while process PID runs. A zombie (exited, not yet
# reaped: some container inits reap orphans only every second or two) counts
# as gone.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# stop_pid PID NAME SECONDS sends SIGTERM, waits up to SECONDS for the
# process to exit, then sends SIGKILL.
stop_pid() {
  local pid=$1 name=$2 limit=$3
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((limit * 10))); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "$name (pid $pid) did not stop within ${limit}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive "$pid" || return 0
    sleep 0.1
  done
}

# start_bg PIDFILE LOGFILE CMD... starts CMD detached (own session, stdin
# from /dev/null, stdout+stderr appended to LOGFILE) and records its pid.
# The process writes its own pid before exec'ing CMD, so the pid is exact.
start_bg() {
  local pidfile=$1 logfile=$2
  shift 2
  rm -f "$pidfile"
  # 9>&-: the scripts hold their lock on fd 9; the server must not inherit it.
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  for _ in $(seq 1 50); do
    [ -s "$pidfile" ] && return 0
    sleep 0.1
  done
  die "could not start $*"
}

# env_set KEY VALUE writes KEY=VALUE into the env file, replacing any
# earlier KEY line. Atomic (temp file + rename).
env_set() {
  local key=$1 value=$2 tmp
  mkdir -p "$(dirname "$STRATUS_LOCAL_ENV")"
  tmp="$STRATUS_LOCAL_ENV.tmp.$$"
  {
    if [ -f "$STRATUS_LOCAL_ENV" ]; then
      grep -v -E "^(export[[:space:]]+)?$key=" "$STRATUS_LOCAL_ENV" || true
    fi
    printf '%s=%s\n' "$key" "$value"
  } >"$tmp"
  mv -f "$tmp" "$STRATUS_LOCAL_ENV"
}

# env_unset KEY removes KEY's line from the env file.
env_unset() {
  local key=$1 tmp
  [ -f "$STRATUS_LOCAL_ENV" ] || return 0
  tmp="$STRATUS_LOCAL_ENV.tmp.$$"
  grep -v -E "^(export[[:space:]]+)?$key=" "$STRATUS_LOCAL_ENV" >"$tmp" || true
  mv -f "$tmp" "$STRATUS_LOCAL_ENV"
}

# tail_log FILE prints the last lines of FILE to stderr, for error reports.
tail_log() {
  if [ -f "$1" ]; then
    log "last lines of $1:"
    tail -n "${2:-30}" "$1" >&2 || true
  fi
}
