#!/bin/sh
# render.sh: print an nginx.conf for Stratus, rendered from nginx.conf.tmpl.
#
#   render.sh --listen [ADDR:]PORT --prefix DIR --upstream HOST:PORT [--upstream HOST:PORT …]
#             [--user USER [GROUP]] [--balance least_conn|round_robin]
#             [--max-fails N] [--fail-timeout DURATION] [--worker-processes N|auto]
#             [--error-log PATH|stderr] [--access-log PATH|off] [--pid PATH] [--template FILE]
#
# POSIX sh and sed only: it runs in the nginx container image, on Ansible's
# controller and in the local test launcher (run.sh). --prefix is where nginx
# writes its temp files and, by default, its pid and logs (it must exist).
# --user is only for an nginx started as root (its workers drop to USER).
set -eu

die() { echo "render.sh: $*" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
template=$here/nginx.conf.tmpl
listen= prefix= user= balance=least_conn max_fails=3 fail_timeout=10s workers=auto
error_log= access_log= pid= upstreams=

while [ $# -gt 0 ]; do
  case $1 in
    --listen) listen=${2?}; shift 2 ;;
    --prefix) prefix=${2?}; shift 2 ;;
    --upstream) upstreams="$upstreams ${2?}"; shift 2 ;;
    --user)
      user=${2?}; shift 2
      case ${1-} in ''|--*) ;; *) user="$user $1"; shift ;; esac ;;
    --balance) balance=${2?}; shift 2 ;;
    --max-fails) max_fails=${2?}; shift 2 ;;
    --fail-timeout) fail_timeout=${2?}; shift 2 ;;
    --worker-processes) workers=${2?}; shift 2 ;;
    --error-log) error_log=${2?}; shift 2 ;;
    --access-log) access_log=${2?}; shift 2 ;;
    --pid) pid=${2?}; shift 2 ;;
    --template) template=${2?}; shift 2 ;;
    -h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[ -n "$listen" ] || die "--listen is required"
[ -n "$prefix" ] || die "--prefix is required"
[ -n "$upstreams" ] || die "at least one --upstream HOST:PORT is required"
case $prefix in /*) ;; *) die "--prefix must be an absolute path: $prefix" ;; esac
[ -r "$template" ] || die "no template at $template"
case $balance in
  least_conn) balance_directive="least_conn;" ;;
  round_robin) balance_directive="# round robin (nginx's default)" ;;
  *) die "--balance must be least_conn or round_robin, not $balance" ;;
esac
for u in $upstreams; do
  case $u in
    *:[0-9]*) ;;
    *) die "--upstream wants HOST:PORT, got $u" ;;
  esac
done
case $max_fails in ''|*[!0-9]*) die "--max-fails wants a number" ;; esac
prefix=${prefix%/}
: "${error_log:=$prefix/error.log}"
: "${access_log:=$prefix/access.log}"
: "${pid:=$prefix/nginx.pid}"
user_directive="# user: the one that started nginx"
[ -z "$user" ] || user_directive="user $user;"

# Escapes a value for the right-hand side of a sed s|…|…| command.
esc() { printf '%s' "$1" | sed -e 's/[|&\\]/\\&/g'; }

sed -e "s|@USER@|$(esc "$user_directive")|" \
    -e "s|@WORKER_PROCESSES@|$(esc "$workers")|" \
    -e "s|@PID@|$(esc "$pid")|" \
    -e "s|@PREFIX@|$(esc "$prefix")|g" \
    -e "s|@ERROR_LOG@|$(esc "$error_log")|" \
    -e "s|@ACCESS_LOG@|$(esc "$access_log")|" \
    -e "s|@BALANCE@|$(esc "$balance")|" \
    -e "s|@BALANCE_DIRECTIVE@|$(esc "$balance_directive")|" \
    -e "s|@LISTEN@|$(esc "$listen")|" \
    "$template" |
while IFS= read -r line; do
  if [ "$line" = "@UPSTREAM_SERVERS@" ]; then
    for u in $upstreams; do
      printf '        server %s max_fails=%s fail_timeout=%s;\n' "$u" "$max_fails" "$fail_timeout"
    done
  else
    printf '%s\n' "$line"
  fi
done
