#!/usr/bin/env bash
# deploy/local/couchdb.sh start|stop|restart|status
#
# A CouchDB-protocol server for Stratus's integration tests on a free
# loopback port: express-pouchdb 4.2.0 on PouchDB 7.3.1, in memory, behind
# the small launcher couchdb/server.js that makes it answer like Apache
# CouchDB 3 where clients notice (see the top of server.js).
#
# start  installs the pinned npm packages into the cache with `npm ci`
#        (first run only, or when couchdb/package*.json change), starts
#        server.js in the background, waits for GET /_up, and writes
#        STRATUS_COUCHDB=http://127.0.0.1:PORT into the env file. When the
#        server already runs it only refreshes the env line.
# stop   stops the server and removes the line.
# status prints the URL and exits 0 when the server runs, 3 when not.
#
# Needs: node 18+ (and npm for the first start).
# Settings (environment):
#   STRATUS_LOCAL_DIR          cache and state (default ~/.cache/stratus-local)
#   STRATUS_LOCAL_ENV          env file (default $STRATUS_LOCAL_DIR/env)
#   STRATUS_COUCHDB_PORT       port (default: a free one)
#   STRATUS_COUCHDB_USER,
#   STRATUS_COUCHDB_PASSWORD   require this admin (Basic or cookie auth); the
#                              URL in the env file then carries them
#   STRATUS_COUCHDB_DATA       keep data on disk (LevelDB) in this folder
#                              instead of in memory
#   STRATUS_COUCHDB_LOG=1      log every request to couchdb.log
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

LOG_TAG=couchdb
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUCH_SRC="$LOCAL_SRC/couchdb"
COUCH_HOME="$STRATUS_LOCAL_DIR/couchdb"
APP="$COUCH_HOME/app"
RUN="$COUCH_HOME/run"
PIDFILE="$RUN/couchdb.pid"
LOGFILE="$RUN/couchdb.log"

usage() {
  echo "usage: $0 start|stop|restart|status" >&2
  exit 2
}

require_node() {
  command -v node >/dev/null 2>&1 ||
    die "node not found: the CouchDB-protocol server needs Node.js 18+ (Debian: apt-get install nodejs npm)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 18 ] || die "node $(node -v) is too old; the CouchDB-protocol server needs Node.js 18+"
}

# install puts node_modules for couchdb/package-lock.json into $APP, unless
# they are there already for the same package files.
install() {
  local want have="" t0
  want=$(hash_files "$COUCH_SRC/package.json" "$COUCH_SRC/package-lock.json")
  [ -f "$APP/.stamp" ] && have=$(cat "$APP/.stamp")
  if [ "$want" != "$have" ]; then
    command -v npm >/dev/null 2>&1 ||
      die "npm not found: the first start installs the server's packages with npm (Debian: apt-get install npm)"
    log "installing the server's npm packages into $APP (first run only)..."
    t0=$(now_s)
    rm -rf "$APP.tmp"
    mkdir -p "$APP.tmp"
    cp "$COUCH_SRC/package.json" "$COUCH_SRC/package-lock.json" "$APP.tmp/"
    if ! (cd "$APP.tmp" && npm ci --no-audit --no-fund --loglevel=error >&2); then
      rm -rf "$APP.tmp"
      die "npm ci failed (see above)"
    fi
    echo "$want" >"$APP.tmp/.stamp"
    rm -rf "$APP"
    mv "$APP.tmp" "$APP"
    log "installed in $(elapsed "$t0")s"
  fi
  # The launcher is copied on every start, so edits need no reinstall.
  cp "$COUCH_SRC/server.js" "$APP/server.js"
}

# http_up PORT succeeds when GET /_up on LOCAL_HOST:PORT answers 200.
# Plain bash (/dev/tcp): curl is not on every fresh machine.
http_up() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET /_up HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$0" "$1" >&3
    IFS= read -r line <&3 || exit 1
    case "$line" in "HTTP/1."?" 200"*) exit 0 ;; *) exit 1 ;; esac
  ' "$LOCAL_HOST" "$1" 2>/dev/null
}

# couch_url PORT prints the URL for the env file, with the admin's
# credentials (URL-encoded) when they are configured.
couch_url() {
  if [ -n "${STRATUS_COUCHDB_USER:-}${STRATUS_COUCHDB_PASSWORD:-}" ]; then
    # shellcheck disable=SC2016 # JavaScript template literal
    node -e 'const [u, p, h] = process.argv.slice(1);
      process.stdout.write(`http://${encodeURIComponent(u)}:${encodeURIComponent(p)}@${h}`)' \
      "${STRATUS_COUCHDB_USER:-}" "${STRATUS_COUCHDB_PASSWORD:-}" "$LOCAL_HOST:$1"
  else
    printf 'http://%s:%s' "$LOCAL_HOST" "$1"
  fi
}

# redact URL hides the password in URL for messages.
redact() { sed -E 's#(//[^:/@]*:)[^@]*@#\1***@#' <<<"$1"; }

running_pid() { pid_matches "$PIDFILE" "$APP/server.js"; }

start() {
  local pid port url t0 attempt args
  require_node
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 300 9 || die "another couchdb.sh holds $RUN/.lock"

  if pid=$(running_pid); then
    port=$(cat "$RUN/port")
    url=$(cat "$RUN/url")
    env_set STRATUS_COUCHDB "$url"
    log "already running (pid $pid) at $(redact "$url")"
    echo "STRATUS_COUCHDB=$url"
    return 0
  fi
  install
  t0=$(now_s)

  for attempt in 1 2 3; do
    if [ "$attempt" = 1 ]; then
      port=${STRATUS_COUCHDB_PORT:-$(reuse_or_pick_port "$RUN/port")}
    else
      port=${STRATUS_COUCHDB_PORT:-$(pick_port)}
    fi
    args=(--host "$LOCAL_HOST" --port "$port")
    [ -n "${STRATUS_COUCHDB_DATA:-}" ] && args+=(--data "$STRATUS_COUCHDB_DATA")
    : >"$LOGFILE"
    log "starting at $LOCAL_HOST:$port, log $LOGFILE"
    start_bg "$PIDFILE" "$LOGFILE" node "$APP/server.js" "${args[@]}"
    pid=$(cat "$PIDFILE")
    # shellcheck disable=SC2064 # expand pid now
    trap "stop_pid $pid couchdb 5; rm -f '$PIDFILE'" EXIT
    for _ in $(seq 1 150); do
      http_up "$port" && break
      alive "$pid" || break
      sleep 0.2
    done
    if http_up "$port"; then
      break
    fi
    if alive "$pid"; then
      tail_log "$LOGFILE"
      die "the server did not answer GET /_up within 30s"
    fi
    if [ -z "${STRATUS_COUCHDB_PORT:-}" ] && grep -q 'EADDRINUSE\|address already in use' "$LOGFILE"; then
      log "port taken meanwhile; retrying with another port"
      continue
    fi
    tail_log "$LOGFILE"
    die "the server exited during start-up"
  done

  trap - EXIT
  url=$(couch_url "$port")
  echo "$port" >"$RUN/port"
  (umask 077 && printf '%s\n' "$url" >"$RUN/url")
  env_set STRATUS_COUCHDB "$url"
  log "ready in $(elapsed "$t0")s (pid $pid); env in $STRATUS_LOCAL_ENV"
  echo "STRATUS_COUCHDB=$url"
}

stop() {
  local pid
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 300 9 || die "another couchdb.sh holds $RUN/.lock"
  env_unset STRATUS_COUCHDB
  if pid=$(running_pid); then
    log "stopping (pid $pid)..."
    stop_pid "$pid" couchdb 10
    log "stopped"
  else
    log "not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid port url
  if pid=$(running_pid); then
    port=$(cat "$RUN/port" 2>/dev/null || echo '?')
    url=$(cat "$RUN/url" 2>/dev/null || echo "http://$LOCAL_HOST:$port")
    if http_up "$port"; then
      echo "couchdb: running (pid $pid) at $(redact "$url")"
    else
      echo "couchdb: process $pid is up but GET /_up on port $port does not answer (see $LOGFILE)"
    fi
    return 0
  fi
  echo "couchdb: not running"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) status ;;
  *) usage ;;
esac
