#!/usr/bin/env bash
# run.sh: nginx in front of `stratus serve` replicas, in the foreground, as
# any user, with everything it writes in a temporary prefix.
#
#   deploy/nginx/run.sh --upstream 127.0.0.1:8081 --upstream 127.0.0.1:8082
#       [--listen 127.0.0.1:PORT]   default: a free loopback port
#       [--port-file FILE]          write the chosen port there once nginx is up
#       [--prefix DIR]              default: a new temp dir, removed at exit
#       [--check]                   render, run `nginx -t` on the result and exit
#       [--keep]                    keep the prefix (logs) after nginx exits
#       [render.sh options…]        --balance, --max-fails, --fail-timeout, …
#
# It prints "nginx: http://ADDR:PORT (prefix DIR)" on stdout when nginx
# answers, then runs until SIGINT/SIGTERM (a graceful stop: SIGQUIT to nginx).
# Logs: DIR/access.log (with the upstream each request went to) and
# DIR/error.log. NGINX=/path/to/nginx picks the binary (default: nginx on the
# PATH, then /usr/sbin/nginx).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "run.sh: $*" >&2; exit 2; }

listen= port_file= prefix= check=0 keep=0 render_args=() have_upstream=0
while [ $# -gt 0 ]; do
  case $1 in
    --listen) listen=${2?}; shift 2 ;;
    --port-file) port_file=${2?}; shift 2 ;;
    --prefix) prefix=${2?}; shift 2 ;;
    --check) check=1; shift ;;
    --keep) keep=1; shift ;;
    --upstream) have_upstream=1; render_args+=("$1" "${2?}"); shift 2 ;;
    --balance|--max-fails|--fail-timeout|--worker-processes|--template)
      render_args+=("$1" "${2?}"); shift 2 ;;
    -h|--help) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ "$have_upstream" = 1 ] || die "at least one --upstream HOST:PORT is required"

nginx=${NGINX:-$(command -v nginx || true)}
[ -n "$nginx" ] || [ ! -x /usr/sbin/nginx ] || nginx=/usr/sbin/nginx
[ -n "$nginx" ] || die "nginx not found (apt-get install -y nginx, or set NGINX)"

# A free loopback port: the kernel's choice where python3 is there, else a
# random one that nothing listens on.
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
    return
  fi
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}
[ -n "$listen" ] || listen=127.0.0.1:$(free_port)
case $listen in *:*) ;; *) listen=127.0.0.1:$listen ;; esac

made_prefix=0
if [ -z "$prefix" ]; then
  prefix=$(mktemp -d "${TMPDIR:-/tmp}/stratus-nginx.XXXXXX")
  made_prefix=1
fi
mkdir -p "$prefix"
# nginx started as root runs its workers as nobody: they must reach the prefix.
chmod 755 "$prefix"
user_args=()
[ "$(id -u)" != 0 ] || user_args=(--user nobody "$(id -gn nobody 2>/dev/null || echo nogroup)")

conf=$prefix/nginx.conf
"$here/render.sh" --listen "$listen" --prefix "$prefix" "${user_args[@]}" "${render_args[@]}" >"$conf"

cleanup() {
  if [ "$made_prefix" = 1 ] && [ "$keep" = 0 ]; then rm -rf "$prefix"; fi
}
trap cleanup EXIT

"$nginx" -t -q -e stderr -p "$prefix" -c "$conf"
if [ "$check" = 1 ]; then
  echo "nginx -t: ok ($conf)"
  exit 0
fi

"$nginx" -e stderr -p "$prefix" -c "$conf" -g 'daemon off;' &
pid=$!
stopping=0
stop() { stopping=1; kill -QUIT "$pid" 2>/dev/null || true; }
trap stop INT TERM

host=${listen%:*} port=${listen##*:}
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; exit $?; fi
  sleep 0.05
done
[ -z "$port_file" ] || echo "$port" >"$port_file"
echo "nginx: http://$listen (prefix $prefix)"

status=0
wait "$pid" || status=$?
# A signal interrupts the first wait; wait again for nginx's own exit status
# (0 after a graceful stop).
if [ "$stopping" = 1 ]; then status=0; wait "$pid" || status=$?; fi
exit "$status"
